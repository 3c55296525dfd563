/**
 * `npm run fill-history -- --sessions N`: fills the migrated database of DATABASE_URL with N past
 * sessions and what a year of use leaves with them (see fill.ts). Progress on stderr.
 */
import { fillHistory } from './fill.js';
import { parseFillArgs } from './fill-shape.js';

function log(line: string): void {
  process.stderr.write(`[fill-history ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

async function main(): Promise<void> {
  const url = process.env.DATABASE_URL;
  if (!url) {
    throw new Error('DATABASE_URL is not set (the migrated database to fill)');
  }
  const { sessions } = parseFillArgs(process.argv.slice(2));
  await fillHistory(url, sessions, log);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(
      `fill-history: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exit(1);
  },
);
