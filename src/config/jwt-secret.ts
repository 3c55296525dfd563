import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AppConfig } from './app-config.js';

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
  try {
    const stored = (await readFile(file, 'utf8')).trim();
    if (stored.length >= 32) {
      return stored;
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw error;
    }
  }
  const secret = randomBytes(48).toString('base64url');
  await mkdir(config.dataDir, { recursive: true });
  try {
    // 'wx': when two instances start together, the first writer wins and the other reads its key.
    await writeFile(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      return (await readFile(file, 'utf8')).trim();
    }
    throw error;
  }
  warn(
    `JWT_SECRET is not set: generated one into ${file}. Set JWT_SECRET (32+ bytes) in production.`,
  );
  return secret;
}
