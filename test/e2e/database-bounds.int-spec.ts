import pg from 'pg';
import { DataSource } from 'typeorm';
import { BoundedClient } from '../../src/database/bounded-client.js';
import {
  buildDataSourceOptions,
  DATABASE_BOUNDS,
  MIGRATIONS,
} from '../../src/database/database-options.js';
import { migrate, MIGRATION_LOCK_KEY } from '../../src/database/migrate.js';
import { eventually, sleep } from '../utils/socket-client.js';
import { TcpProxy } from '../utils/tcp-proxy.js';
import { createTestDatabase, type TestDatabase } from '../utils/test-database.js';

describe('the bounds on waiting for the database', () => {
  const dbs: TestDatabase[] = [];
  afterAll(() => Promise.all(dbs.map((db) => db.drop())));

  it("bound the service's statements on the server, not the migrations'", async () => {
    const db = await createTestDatabase();
    dbs.push(db);
    const timeoutOf = async (purpose: 'serve' | 'migrate') => {
      const dataSource = await new DataSource(buildDataSourceOptions(db.url, purpose)).initialize();
      try {
        const [row] = await dataSource.query('SHOW statement_timeout');
        return row.statement_timeout;
      } finally {
        await dataSource.destroy();
      }
    };
    expect(await timeoutOf('serve')).toBe(`${DATABASE_BOUNDS.statementTimeoutMs / 1000}s`);
    expect(await timeoutOf('migrate')).toBe('0');
  });

  it("let migrations wait for another instance's migration longer than any bound", async () => {
    const db = await createTestDatabase();
    dbs.push(db);
    const other = new pg.Client({ connectionString: db.url });
    await other.connect();
    try {
      await other.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
      const holdMs = DATABASE_BOUNDS.readTimeoutMs + DATABASE_BOUNDS.connectTimeoutMs;
      const started = Date.now();
      const unlocked = sleep(holdMs).then(() =>
        other.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]),
      );
      expect(await migrate(db.url)).toEqual(MIGRATIONS.map((m) => m.name));
      expect(Date.now() - started).toBeGreaterThanOrEqual(holdMs);
      await unlocked;
    } finally {
      await other.end();
    }
  }, 30_000);
});

/** The pool's client class against real PostgreSQL, on the paths where the database goes away. */
describe('BoundedClient', () => {
  let db: TestDatabase;
  const pools: pg.Pool[] = [];
  const proxies: TcpProxy[] = [];

  const pool = (url: string, options: pg.PoolConfig = {}) => {
    const p = new pg.Pool({ connectionString: url, Client: BoundedClient, ...options });
    p.on('error', () => undefined);
    pools.push(p);
    return p;
  };

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await Promise.all(pools.map((p) => p.end().catch(() => undefined)));
    await Promise.all(proxies.map((p) => p.close()));
    await db.drop();
  });

  it('a held client whose connection dies does not throw its error event (which would end the process)', async () => {
    const p = pool(db.url);
    // Held as `Sql` holds one between two statements: nobody listens for its 'error' but itself.
    const client = await p.connect();
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const ended = new Promise((resolve) => client.once('end', resolve));
    await p.query('SELECT pg_terminate_backend($1)', [rows[0].pid]);
    await ended;
    await expect(client.query('SELECT 1')).rejects.toThrow(/not queryable/);
    client.release(new Error('dead'));
  });

  it('a statement without an answer closes its client: the pool never lends it again, and the next statement gets its own answer', async () => {
    const proxy = await TcpProxy.start({ host: '127.0.0.1', port: Number(new URL(db.url).port) });
    proxies.push(proxy);
    const p = pool(TcpProxy.rewrite(db.url, proxy), { max: 1, query_timeout: 500 });
    const client = await p.connect();
    await client.query('SELECT 1');

    proxy.blackhole();
    await expect(client.query('SELECT 41 AS answer')).rejects.toThrow('Query read timeout');
    // The next statement fails at once, instead of waiting behind the silent one to its own bound.
    const started = Date.now();
    await expect(client.query('SELECT 1')).rejects.toThrow(/Connection terminated|not queryable/);
    expect(Date.now() - started).toBeLessThan(250);
    // Released without an error, as TypeORM releases its query runners' clients.
    client.release();
    expect(p.totalCount).toBe(0);

    proxy.restore();
    // The late answer (41) went nowhere: the next statement is answered on a new connection.
    const { rows } = await p.query<{ answer: number }>('SELECT 42 AS answer');
    expect(rows).toEqual([{ answer: 42 }]);
    await eventually(() => Promise.resolve(proxy.connections === 1));
  });
});
