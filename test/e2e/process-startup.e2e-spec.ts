import { execFile } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { startEmbeddedPostgres } from '../../src/database/embedded-postgres.js';
import { MAIN_JS } from '../utils/build.js';

function runMain(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [MAIN_JS],
      { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 20_000 },
      (error, _out, stderr) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stderr }),
    );
    child.stdin?.end();
  });
}

describe('start-up', () => {
  it('refuses invalid configuration with one clear line per problem, before touching any database', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'svapi-cfg-'));
    const { code, stderr } = await runMain({
      DATA_DIR: dataDir,
      PORT: 'eighty',
      JWT_SECRET: 'short',
      EMPTY_ROOM_TIMEOUT_SECONDS: '-1',
    });
    expect(code).toBe(1);
    const lines = stderr.trim().split('\n');
    expect(lines).toEqual([
      expect.stringMatching(/^config error: JWT_SECRET must be at least 32 bytes/),
      expect.stringMatching(/^config error: PORT must be an integer/),
      expect.stringMatching(/^config error: EMPTY_ROOM_TIMEOUT_SECONDS must be an integer/),
    ]);
  });

  it('requires JWT_SECRET in production', async () => {
    const { code, stderr } = await runMain({
      NODE_ENV: 'production',
      DATABASE_URL: 'postgres://x@127.0.0.1:1/x',
    });
    expect(code).toBe(1);
    expect(stderr).toContain('config error: JWT_SECRET is required when NODE_ENV=production');
  });
});

describe('embedded PostgreSQL', () => {
  it('keeps its data and password under the data directory across restarts', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'svapi-embedded-'));
    const first = await startEmbeddedPostgres({ dataDir });
    const c1 = new Client({ connectionString: first.url });
    await c1.connect();
    await c1.query('CREATE TABLE kept (v text)');
    await c1.query(`INSERT INTO kept VALUES ('hello')`);
    await c1.end();
    await first.stop();

    const password = (await readFile(join(dataDir, 'pg-password'), 'utf8')).trim();
    expect(password.length).toBeGreaterThanOrEqual(24);
    expect(first.url).toContain(encodeURIComponent(password));

    const second = await startEmbeddedPostgres({ dataDir });
    const c2 = new Client({ connectionString: second.url });
    await c2.connect();
    const { rows } = await c2.query('SELECT v FROM kept');
    expect(rows).toEqual([{ v: 'hello' }]);
    await c2.end();
    await second.stop();

    // A wrong password is refused: the server does not trust loopback connections.
    const wrong = new URL(second.url);
    wrong.password = 'wrong';
    const third = await startEmbeddedPostgres({ dataDir });
    wrong.port = new URL(third.url).port;
    const c3 = new Client({ connectionString: wrong.toString() });
    await expect(c3.connect()).rejects.toThrow(/password authentication failed/);
    await third.stop();
  }, 60_000);
});
