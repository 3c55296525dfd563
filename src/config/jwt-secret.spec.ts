import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from './app-config.js';
import { resolveJwtSecret } from './jwt-secret.js';

describe('resolveJwtSecret', () => {
  let root: string;
  let warnings: string[];
  const warn = (message: string) => {
    warnings.push(message);
  };

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'svapi-jwt-secret-'));
    warnings = [];
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  /** DATA_DIR is created on demand, so it points below the temp dir. */
  const configIn = (dataDir: string, env: Record<string, string> = {}) =>
    loadConfig({ DATA_DIR: dataDir, ...env });

  it('generates a secret once into DATA_DIR, with a warning, and reuses it', async () => {
    const dataDir = join(root, 'data');
    const first = await resolveJwtSecret(configIn(dataDir), warn);
    expect(Buffer.byteLength(first)).toBeGreaterThanOrEqual(32);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('JWT_SECRET');

    const file = join(dataDir, 'jwt-secret');
    expect((await readFile(file, 'utf8')).trim()).toBe(first);
    // Only the owner may read the key.
    expect((await stat(file)).mode & 0o777).toBe(0o600);

    const second = await resolveJwtSecret(configIn(dataDir), warn);
    expect(second).toBe(first);
    expect(warnings).toHaveLength(1);
  });

  it('generates a different secret for another DATA_DIR', async () => {
    const a = await resolveJwtSecret(configIn(join(root, 'a')), warn);
    const b = await resolveJwtSecret(configIn(join(root, 'b')), warn);
    expect(a).not.toBe(b);
  });

  it('uses JWT_SECRET when it is given, and writes nothing', async () => {
    const given = 'g'.repeat(40);
    const dataDir = join(root, 'data');
    expect(await resolveJwtSecret(configIn(dataDir, { JWT_SECRET: given }), warn)).toBe(given);
    expect(warnings).toEqual([]);
    await expect(stat(dataDir)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('prefers JWT_SECRET over a secret already generated', async () => {
    const dataDir = join(root, 'data');
    const generated = await resolveJwtSecret(configIn(dataDir), warn);
    const given = 'g'.repeat(40);
    expect(await resolveJwtSecret(configIn(dataDir, { JWT_SECRET: given }), warn)).toBe(given);
    // The generated one stays for when JWT_SECRET is removed again.
    expect(await resolveJwtSecret(configIn(dataDir), warn)).toBe(generated);
  });

  it('gives instances starting together one and the same secret', async () => {
    for (let round = 0; round < 10; round++) {
      const config = configIn(join(root, `race-${round}`));
      const secrets = await Promise.all(
        Array.from({ length: 8 }, () => resolveJwtSecret(config, warn)),
      );
      expect(Buffer.byteLength(secrets[0])).toBeGreaterThanOrEqual(32);
      expect(new Set(secrets).size).toBe(1);
      expect((await readFile(join(config.dataDir, 'jwt-secret'), 'utf8')).trim()).toBe(secrets[0]);
      // Nothing but the secret is left behind.
      expect(await readdir(config.dataDir)).toEqual(['jwt-secret']);
      expect(warnings).toHaveLength(round + 1);
    }
  });

  it('refuses a stored secret shorter than 32 bytes instead of using it', async () => {
    const dataDir = join(root, 'data');
    await resolveJwtSecret(configIn(dataDir), warn);
    await writeFile(join(dataDir, 'jwt-secret'), 'too-short\n');
    await expect(resolveJwtSecret(configIn(dataDir), warn)).rejects.toThrow(/32 bytes/);
  });
});
