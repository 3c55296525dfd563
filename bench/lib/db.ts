import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { tsImport } from 'tsx/esm/api';
import { trackingInserts } from '../../src/sessions/session-tracking.sql.js';

export interface BenchDatabase {
  /** The database the servers and seeding use (created for this run). */
  url: string;
  /** Host, port, user, password, database name: for pgbench. */
  parts: { host: string; port: string; user: string; password: string; database: string };
  external: boolean;
  close(): Promise<void>;
}

/**
 * A database of its own for this run: on the server of DATABASE_URL when set, else on an embedded
 * PostgreSQL started in a temporary directory (the project's own launcher, loaded from source).
 */
export async function openBenchDatabase(log: (m: string) => void): Promise<BenchDatabase> {
  let adminUrl = process.env.DATABASE_URL;
  let stopEmbedded: (() => Promise<void>) | undefined;
  let dataDir: string | undefined;
  if (!adminUrl) {
    dataDir = await mkdtemp(join(tmpdir(), 'svapi-bench-pg-'));
    const { startEmbeddedPostgres } = (await tsImport(
      '../../src/database/embedded-postgres.ts',
      import.meta.url,
    )) as typeof import('../../src/database/embedded-postgres.js');
    const embedded = await startEmbeddedPostgres({ dataDir, log });
    adminUrl = embedded.url;
    stopEmbedded = () => embedded.stop();
  }
  const name = `bench_${Date.now()}_${randomBytes(3).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    parts: {
      host: url.hostname,
      port: url.port || '5432',
      user: decodeURIComponent(url.username),
      password: decodeURIComponent(url.password),
      database: name,
    },
    external: stopEmbedded === undefined,
    async close() {
      const a = new pg.Client({ connectionString: adminUrl });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
      await a.end();
      if (stopEmbedded) {
        await stopEmbedded();
        await rm(dataDir!, { recursive: true, force: true });
      }
    },
  };
}

export interface SeededSession {
  id: string;
  clientId: string;
  psychologistId: string;
}

/**
 * Confirmed, paid sessions starting now, each with a client and a psychologist of its own (so no
 * booking ever overlaps another), inserted straight into the tables the migrations made (with
 * their live ranges and deadlines, where the schema has them: session-tracking.sql.ts).
 */
export async function seedSessions(pool: pg.Pool, count: number): Promise<SeededSession[]> {
  const sessions: SeededSession[] = Array.from({ length: count }, () => ({
    id: randomUUID(),
    clientId: randomUUID(),
    psychologistId: randomUUID(),
  }));
  const hasEnd = await hasColumn(pool, 'sessions', 'scheduled_end');
  for (let i = 0; i < sessions.length; i += 5000) {
    const chunk = sessions.slice(i, i + 5000);
    const users = chunk.flatMap((s) => [
      [s.clientId, 'client'],
      [s.psychologistId, 'psychologist'],
    ]);
    await pool.query(
      `INSERT INTO users (id, email, name, role, password_hash)
       SELECT id, 'u-' || id || '@bench.test', 'Bench ' || role, role, 'not-a-hash'
         FROM unnest($1::uuid[], $2::text[]) AS t(id, role)`,
      [users.map((u) => u[0]), users.map((u) => u[1])],
    );
    await pool.query(
      `INSERT INTO sessions (id, client_id, psychologist_id, scheduled_start, duration_minutes, status, payment_status${hasEnd ? ', scheduled_end' : ''})
       SELECT id, c, p, date_trunc('second', now()), 50, 'Confirmed', 'Paid'${hasEnd ? `, date_trunc('second', now()) + interval '50 minutes'` : ''}
         FROM unnest($1::uuid[], $2::uuid[], $3::uuid[]) AS t(id, c, p)`,
      [chunk.map((s) => s.id), chunk.map((s) => s.clientId), chunk.map((s) => s.psychologistId)],
    );
    // By the pool's search path: the lean baseline's schema has no such table.
    const { rows } = await pool.query<{ tracked: boolean }>(
      `SELECT to_regclass('session_ranges') IS NOT NULL AS tracked`,
    );
    if (rows[0].tracked) {
      for (const text of trackingInserts('id = ANY($1::uuid[])')) {
        await pool.query(text, [chunk.map((s) => s.id)]);
      }
    }
  }
  return sessions;
}

/** The schema of the lean baseline's tables (see `createLeanSchema`). */
export const LEAN_SCHEMA = 'lean';

/**
 * The tables the S2 baseline reads and writes, again, under LEAN_SCHEMA with only their columns
 * and primary keys: no CHECK, no foreign key, no other index, no trigger. What the project's own
 * schema costs per call is the distance to it (issue #25, point 2). Made once the migrations ran.
 */
export async function createLeanSchema(pool: pg.Pool): Promise<void> {
  await pool.query(`CREATE SCHEMA ${LEAN_SCHEMA}`);
  for (const table of ['users', 'sessions', 'session_status_changes']) {
    await pool.query(
      `CREATE TABLE ${LEAN_SCHEMA}.${table} (LIKE public.${table} INCLUDING DEFAULTS INCLUDING IDENTITY, PRIMARY KEY (id))`,
    );
  }
}

/** A pool whose unqualified table names are the lean baseline's. */
export function leanPool(url: string): pg.Pool {
  return new pg.Pool({ connectionString: url, max: 4, options: `-c search_path=${LEAN_SCHEMA}` });
}

const columns = new Map<string, boolean>();
async function hasColumn(pool: pg.Pool, table: string, column: string): Promise<boolean> {
  const k = `${table}.${column}`;
  if (!columns.has(k)) {
    const { rowCount } = await pool.query(
      `SELECT 1 FROM information_schema.columns WHERE table_name = $1 AND column_name = $2`,
      [table, column],
    );
    columns.set(k, (rowCount ?? 0) > 0);
  }
  return columns.get(k)!;
}
