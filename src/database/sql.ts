import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import pg, { type Pool, type PoolClient, type QueryResult, type QueryResultRow } from 'pg';
import { DataSource } from 'typeorm';

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
const { escapeLiteral } = pg;

@Injectable()
export class Sql {
  private readonly pool: Pool;
  /** Statement text -> its prepared name under `run_under_session_lock` (a handful of texts). */
  private readonly lockedStatementNames = new Map<string, string>();

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
   * Runs `statement` right after locking the session's row (the `run_under_session_lock`
   * function, see its migration): the statement takes its snapshot after the lock, so it sees
   * everything the previous holder committed. Its arguments come in one text[] (`ArrayArgs`); it
   * yields one jsonb value, returned parsed. The function prepares the statement on each
   * connection under a name derived from its text.
   *
   * Without `beforeCommit`: one round trip, committed on its own. With it: the lock is held, and
   * nothing committed, until `beforeCommit` has seen the result (it throws to roll back); two
   * round trips, BEGIN and the call sent together, then COMMIT.
   */
  async underSessionLock<T>(
    sessionId: string,
    statement: string,
    args: readonly (string | null)[],
    beforeCommit?: (result: T) => void | Promise<void>,
  ): Promise<T> {
    const name = this.lockedStatementName(statement);
    if (!beforeCommit) {
      const [row] = await this.rows<{ result: T }>(
        'run-under-session-lock',
        'SELECT run_under_session_lock($1, $2, $3, $4) AS result',
        [sessionId, name, statement, args],
      );
      return row.result;
    }
    const array = `ARRAY[${args.map((a) => (a === null ? 'NULL' : escapeLiteral(a))).join(', ')}]::text[]`;
    return this.onConnection(async (client) => {
      // The simple query protocol takes several statements in one message; the values are in
      // the text, as literals.
      const results = (await client.query(
        `BEGIN; SELECT run_under_session_lock(${escapeLiteral(sessionId)}::uuid, ${escapeLiteral(name)},
           ${escapeLiteral(statement)}, ${array}) AS result`,
      )) as unknown as [QueryResult, QueryResult<{ result: T }>];
      const result = results[1].rows[0].result;
      await beforeCommit(result);
      await client.query('COMMIT');
      return result;
    });
  }

  private lockedStatementName(statement: string): string {
    let name = this.lockedStatementNames.get(statement);
    if (!name) {
      name = `locked_${createHash('sha256').update(statement).digest('hex').slice(0, 24)}`;
      this.lockedStatementNames.set(statement, name);
    }
    return name;
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
   * `work` on one pooled connection that opens a transaction: released when it resolves, rolled
   * back when it throws; a connection whose rollback failed is discarded, not returned to the
   * pool.
   */
  private async onConnection<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      const result = await work(client);
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
