import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import pg, { type Pool, type PoolClient, type QueryResult, type QueryResultRow } from 'pg';
import { DataSource } from 'typeorm';

const { escapeLiteral } = pg;

/** The session's row lock that `underSessionLock` takes first. */
const LOCK_SESSION = {
  name: 'lock_session',
  text: 'SELECT FROM sessions WHERE id = $1 FOR UPDATE',
};

/**
 * What a statement inside a transaction needs: TypeORM's EntityManager has this shape (for
 * statements whose result is a SELECT's rows), and so has `Sql.transaction`'s client.
 */
export interface Queryable {
  query<T = unknown>(text: string, values?: unknown[]): Promise<T>;
}

/**
 * Hand-written SQL on the hot paths (a session read, a transition), straight on the pool that
 * TypeORM opened: no query builder, no entity hydration, and a named prepared statement, so
 * PostgreSQL parses and plans each statement once per connection. Profiles of `GET
 * /api/sessions/:id` put TypeORM's query building and result transformation at about a sixth of
 * the CPU per request. Everything else keeps using TypeORM.
 */
@Injectable()
export class Sql {
  private readonly pool: Pool;
  /** Statement text -> its prepared name, for `underSessionLock` (a handful of texts). */
  private readonly preparedNames = new Map<string, string>();
  /** Which of those each pooled connection has prepared. */
  private readonly prepared = new WeakMap<PoolClient, Set<string>>();

  constructor(@InjectDataSource() dataSource: DataSource) {
    // TypeORM's PostgreSQL driver keeps its pg.Pool as `master` (typed `any` there).
    this.pool = (dataSource.driver as unknown as { master: Pool }).master;
  }

  /**
   * Runs one statement outside any transaction (a single statement is atomic on its own).
   * `name` identifies the prepared statement: one name, one text.
   */
  async rows<T extends QueryResultRow>(
    name: string,
    text: string,
    values: unknown[],
  ): Promise<T[]> {
    const result = await this.pool.query<T>({ name, text, values });
    return result.rows;
  }

  /**
   * Runs `statement` right after locking the session's row, so that it sees everything the
   * previous lock holder committed: under READ COMMITTED a statement's snapshot is taken when it
   * begins, and the lock and the statement are two statements of one message (the simple query
   * protocol runs them in one transaction, each with its own snapshot). The statement is
   * prepared once per connection (`PREPARE name(text[])`, its arguments in one text[], `$1`: see
   * `ArrayArgs`) and yields one row of one value (jsonb, returned parsed).
   *
   * Without `beforeCommit`: one round trip, committed on its own. With it: the lock is held, and
   * nothing committed, until `beforeCommit` has seen the result (it throws to roll back); two
   * round trips, the second the COMMIT.
   */
  async underSessionLock<T>(
    sessionId: string,
    statement: string,
    args: readonly (string | null)[],
    beforeCommit?: (result: T) => void | Promise<void>,
  ): Promise<T> {
    const name = this.preparedName(statement);
    // Literals, as the simple protocol has no parameters.
    const lock = `EXECUTE ${LOCK_SESSION.name}(${escapeLiteral(sessionId)})`;
    const run = `EXECUTE ${name}(ARRAY[${args.map((a) => (a === null ? 'NULL' : escapeLiteral(a))).join(', ')}]::text[])`;
    return this.onConnection(async (client) => {
      // Prepared too: planned once per connection, not with every message.
      await this.prepare(client, LOCK_SESSION.name, LOCK_SESSION.text, 'uuid');
      await this.prepare(client, name, statement, 'text[]');
      const message = beforeCommit ? `BEGIN; ${lock}; ${run}` : `${lock}; ${run}`;
      const results = (await client.query({
        text: message,
        rowMode: 'array',
      })) as unknown as Array<QueryResult<[T]>>;
      const result = results[results.length - 1].rows[0][0];
      if (beforeCommit) {
        await beforeCommit(result);
        await client.query('COMMIT');
      }
      return result;
    });
  }

  /** `locked_` and a digest of the text: one name, one text, whichever instance prepared it. */
  private preparedName(statement: string): string {
    let name = this.preparedNames.get(statement);
    if (!name) {
      name = `locked_${createHash('sha256').update(statement).digest('hex').slice(0, 24)}`;
      this.preparedNames.set(statement, name);
    }
    return name;
  }

  /**
   * PREPAREs the statement on this connection the first time it runs there, in a message of its
   * own: a prepared statement outlives a failed transaction, so one sent with the lock could
   * exist after an error without being recorded here.
   */
  private async prepare(
    client: PoolClient,
    name: string,
    statement: string,
    parameter: 'uuid' | 'text[]',
  ): Promise<void> {
    let names = this.prepared.get(client);
    if (!names) {
      names = new Set();
      this.prepared.set(client, names);
    }
    if (!names.has(name)) {
      await client.query(`PREPARE ${name}(${parameter}) AS ${statement}`);
      names.add(name);
    }
  }

  /**
   * A transaction on one pooled connection, without TypeORM's query runner around it. Committed when `work` resolves, rolled back when it
   * throws; a connection whose rollback failed is discarded, not returned to the pool.
   */
  async transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.onConnection(async (client) => {
      await client.query('BEGIN');
      const result = await work({
        query: async <R>(text: string, values?: unknown[]) =>
          (await client.query(text, values)).rows as R,
      });
      await client.query('COMMIT');
      return result;
    });
  }

  /**
   * `work` on one pooled connection: released when it resolves, rolled back when it throws (a
   * ROLLBACK outside a transaction only warns); a connection whose rollback failed is discarded,
   * not returned to the pool.
   */
  private async onConnection<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      const result = await work(client);
      if (client.getTransactionStatus() !== 'I') {
        // Never back into the pool inside a transaction: the next user would run in it.
        throw new Error(`connection left in transaction state ${client.getTransactionStatus()}`);
      }
      client.release();
      return result;
    } catch (error) {
      await client.query('ROLLBACK').then(
        () => client.release(),
        (rollbackError: Error) => client.release(rollbackError),
      );
      throw error;
    }
  }
}
