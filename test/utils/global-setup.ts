import { createWriteStream } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EmbeddedPostgres } from '../../src/database/embedded-postgres.js';

declare global {
  var __EMBEDDED_PG__: EmbeddedPostgres | undefined;
  /** The embedded server's temporary directory and its log file (read by the global teardown). */
  var __EMBEDDED_PG_DIR__: { dataDir: string; logFile: string } | undefined;
}

/**
 * The test cluster is thrown away after the run, so it need not survive a machine crash: no
 * flushes to disk, which a slow or stalling virtual disk would otherwise put under every commit.
 * Lock waits and statements over 2 s are logged, and the global teardown reports them.
 */
const TEST_CLUSTER_SETTINGS = {
  fsync: 'off',
  synchronous_commit: 'off',
  full_page_writes: 'off',
  log_lock_waits: 'on',
  log_min_duration_statement: '2000',
};

/**
 * One PostgreSQL server for the whole run: the one named by TEST_DATABASE_URL or DATABASE_URL, or
 * an embedded one in a temporary directory. Workers inherit its address as TEST_PG_ADMIN_URL and
 * create a database per test file from it.
 */
export default async function globalSetup(): Promise<void> {
  const { tsImport } = await import('tsx/esm/api');
  const { ensureBuilt } = (await tsImport(
    './build.ts',
    import.meta.url,
  )) as typeof import('./build.js');
  ensureBuilt();
  const external = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL;
  if (external) {
    process.env.TEST_PG_ADMIN_URL = external;
    process.stdout.write(`\ntests use the external PostgreSQL of TEST_DATABASE_URL/DATABASE_URL\n`);
    return;
  }
  const dataDir = await mkdtemp(join(tmpdir(), 'svapi-test-pg-'));
  // Jest runs its global setup with Node's own module loader, which cannot load TypeScript:
  // tsx's tsImport loads the launcher (and only it) from source.
  const { startEmbeddedPostgres } = (await tsImport(
    '../../src/database/embedded-postgres.ts',
    import.meta.url,
  )) as typeof import('../../src/database/embedded-postgres.js');
  const logFile = join(dataDir, 'server.log');
  const serverLog = createWriteStream(logFile);
  const pg = await startEmbeddedPostgres({
    dataDir,
    settings: TEST_CLUSTER_SETTINGS,
    serverLog: (chunk) => serverLog.write(chunk),
  });
  globalThis.__EMBEDDED_PG__ = pg;
  globalThis.__EMBEDDED_PG_DIR__ = { dataDir, logFile };
  process.env.TEST_PG_ADMIN_URL = pg.url;
  process.stdout.write(`\ntests use an embedded PostgreSQL in ${dataDir}\n`);
}
