import { randomBytes, randomUUID } from 'node:crypto';
import { hash } from '@node-rs/argon2';
import pg from 'pg';
import { MIGRATIONS } from '../../src/database/database-options.js';
import { fillShape } from './fill-shape.js';
import {
  batchStatement,
  FILLED_TABLES,
  historyStatement,
  INSERT_DEADLINES,
  INSERT_RANGES,
  INSERT_SESSIONS,
  INSERT_STAYS,
  setupStatements,
  tempTables,
  type FillRun,
  webhooksStatement,
} from './fill-sql.js';

/** Every filled user's password (they can log in). */
export const FILLED_PASSWORD = 'history-password-1';

/** The latest migration the code lists: a database without it is not ready to be filled. */
export const LATEST_MIGRATION = MIGRATIONS[MIGRATIONS.length - 1].name;

/** Why the database of `client` cannot be filled, or null when it is migrated up to the latest. */
export async function notMigrated(client: pg.ClientBase): Promise<string | null> {
  const { rows: table } = await client.query<{ ok: boolean }>(
    `SELECT to_regclass('public.migrations') IS NOT NULL AS ok`,
  );
  const { rows } = table[0].ok
    ? await client.query<{ ok: boolean }>(
        `SELECT EXISTS (SELECT 1 FROM migrations WHERE name = $1) AS ok`,
        [LATEST_MIGRATION],
      )
    : { rows: [{ ok: false }] };
  return rows[0].ok
    ? null
    : `the database is not migrated up to ${LATEST_MIGRATION} (start the service on it once: it migrates at start-up)`;
}

export interface FillResult {
  tag: string;
  seconds: number;
  /** Rows added per table. */
  added: Record<string, number>;
}

async function counts(client: pg.ClientBase): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const table of FILLED_TABLES) {
    const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`);
    out[table] = Number(rows[0].n);
  }
  return out;
}

/**
 * Fills the database of `url` with `sessions` past sessions and what a year of use leaves with
 * them (see fill-shape.ts and fill-sql.ts), a batch per transaction, then ANALYZEs it. Each run
 * brings its own users, so a second run adds to the first.
 */
export async function fillHistory(
  url: string,
  sessions: number,
  log: (line: string) => void = () => undefined,
): Promise<FillResult> {
  const started = Date.now();
  const shape = fillShape(sessions);
  const run: FillRun = {
    tag: randomBytes(4).toString('hex'),
    now: new Date().toISOString(),
    keyId: randomUUID(),
    shape,
  };
  const client = new pg.Client({ connectionString: url, application_name: 'fill-history' });
  await client.connect();
  try {
    const problem = await notMigrated(client);
    if (problem) {
      throw new Error(problem);
    }
    // A filler's commits need not wait for the disk, and its statements may take long.
    await client.query(`SET synchronous_commit = off`);
    await client.query(`SET statement_timeout = 0`);
    await client.query(`SET work_mem = '64MB'`);
    const before = await counts(client);
    const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
    log(
      `run ${run.tag}: ${sessions.toLocaleString('en')} sessions, ${shape.clients.toLocaleString('en')} clients, ${shape.psychologists.toLocaleString('en')} psychologists, ${shape.batches.length} batch(es)`,
    );
    for (const statement of tempTables()) {
      await client.query(statement);
    }
    const passwordHash = await hash(FILLED_PASSWORD);
    await client.query('BEGIN');
    for (const statement of setupStatements(run)) {
      await client.query(statement, statement.includes('$1') ? [passwordHash] : []);
    }
    await client.query('COMMIT');
    log(`users, working hours, instances, endpoints and refresh tokens written (${elapsed()})`);
    const batch = batchStatement(run);
    const history = historyStatement(run);
    for (const [lo, hi] of shape.batches) {
      await client.query('BEGIN');
      await client.query('TRUNCATE fill_batch');
      const steps: string[] = [];
      for (const [name, text, values] of [
        ['paths', batch, [lo, hi]],
        ['sessions', INSERT_SESSIONS, []],
        ['ranges', INSERT_RANGES, []],
        ['deadlines', INSERT_DEADLINES, []],
        ['history', history, []],
        ['stays', INSERT_STAYS, []],
        ['webhooks', webhooksStatement(run), []],
      ] as const) {
        const t = Date.now();
        await client.query(text, [...values]);
        steps.push(`${name} ${((Date.now() - t) / 1000).toFixed(1)} s`);
      }
      await client.query('COMMIT');
      if (process.env.FILL_DEBUG) {
        log(steps.join(', '));
      }
      const done = hi + 1;
      log(
        `sessions ${done.toLocaleString('en')}/${sessions.toLocaleString('en')} (${Math.round((done / sessions) * 100)}%, ${elapsed()})`,
      );
    }
    log(`ANALYZE (${elapsed()})`);
    await client.query('ANALYZE');
    const after = await counts(client);
    const added = Object.fromEntries(FILLED_TABLES.map((t) => [t, after[t] - before[t]]));
    log(
      `done in ${elapsed()}: ${Object.entries(added)
        .map(([t, n]) => `${t} +${n.toLocaleString('en')}`)
        .join(', ')}`,
    );
    return { tag: run.tag, seconds: (Date.now() - started) / 1000, added };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    await client.end();
  }
}
