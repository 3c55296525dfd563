import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AppConfig } from './app-config.js';

/** The stored secret, undefined when there is none yet; a short one is refused, not used. */
async function readStored(file: string): Promise<string | undefined> {
  let stored: string;
  try {
    stored = (await readFile(file, 'utf8')).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return undefined;
    }
    throw error;
  }
  if (Buffer.byteLength(stored, 'utf8') < 32) {
    throw new Error(
      `${file} holds a JWT secret shorter than 32 bytes: delete the file to generate a new one, or set JWT_SECRET`,
    );
  }
  return stored;
}

/**
 * Outside production an absent JWT_SECRET is generated once and kept in DATA_DIR, so tokens
 * survive restarts of a developer's server. Production refuses to start without one (app-config).
 */
export async function resolveJwtSecret(
  config: AppConfig,
  warn: (message: string) => void,
): Promise<string> {
  if (config.jwt.secret !== undefined) {
    return config.jwt.secret;
  }
  const file = join(config.dataDir, 'jwt-secret');
  const stored = await readStored(file);
  if (stored !== undefined) {
    return stored;
  }
  const secret = randomBytes(48).toString('base64url');
  await mkdir(config.dataDir, { recursive: true });
  // Written in full under a private name, then published with link(), which fails when the file
  // exists: when two instances start together the first wins, and the other never reads a
  // half-written file (nor does a crash leave one behind).
  const draft = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(draft, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  try {
    await link(draft, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      return (await readStored(file))!;
    }
    throw error;
  } finally {
    await unlink(draft);
  }
  warn(
    `JWT_SECRET is not set: generated one into ${file}. Set JWT_SECRET (32+ bytes) in production.`,
  );
  return secret;
}
