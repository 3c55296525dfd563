import { readFile, rm } from 'node:fs/promises';

/**
 * What in the embedded server's log says a test waited on the database (see global-setup.ts):
 * slow statements, lock waits over 1 s and connections that timed out (e.g. authenticating).
 * Deadlocks are left out: no test makes one now (bookings are speculative insertions), and a
 * test that provoked one on purpose would only add noise here.
 */
const WAITS = /duration: \d|still waiting for|due to timeout/;
const MAX_LINES = 40;

export default async function globalTeardown(): Promise<void> {
  await globalThis.__EMBEDDED_PG__?.stop();
  const dir = globalThis.__EMBEDDED_PG_DIR__;
  if (!dir) {
    return;
  }
  const log = await readFile(dir.logFile, 'utf8').catch(() => '');
  const waits = log.split('\n').filter((line) => WAITS.test(line));
  if (waits.length > 0) {
    process.stdout.write(
      `\nPostgreSQL logged ${waits.length} line(s) of waiting during the run:\n` +
        `${waits.slice(0, MAX_LINES).join('\n')}\n`,
    );
  }
  await rm(dir.dataDir, { recursive: true, force: true });
}
