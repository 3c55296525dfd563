import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { eventually } from './socket-client.js';

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

function adminUrl(): string {
  const url = process.env.TEST_PG_ADMIN_URL;
  if (!url) {
    throw new Error('TEST_PG_ADMIN_URL is not set: run the tests through jest (global setup)');
  }
  return url;
}

async function withAdmin<T>(fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: adminUrl() });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A new, empty database on the run's server; the app migrates it when it starts. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `svapi_test_${randomBytes(6).toString('hex')}`;
  await withAdmin((c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(adminUrl());
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () =>
      withAdmin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(
        () => undefined,
      ),
  };
}

/**
 * Resolves once at least `count` statements in the database of `url` wait for a lock. It asks
 * on a connection of its own: the waiting statements may hold every connection of the app's pool.
 */
export async function waitForLockWaiters(url: string, count: number): Promise<void> {
  const observer = new Client({ connectionString: url });
  await observer.connect();
  try {
    await eventually(async () => {
      const { rows } = await observer.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity
          WHERE datname = current_database() AND wait_event_type = 'Lock'`,
      );
      return rows[0].n >= count || undefined;
    }, 20_000);
  } finally {
    await observer.end();
  }
}
