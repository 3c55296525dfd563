import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Pool, QueryResultRow } from 'pg';
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
@Injectable()
export class Sql {
  private readonly pool: Pool;

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
   * A transaction on one pooled connection, without TypeORM's query runner around it (the room
   * join and leave run one per message). Committed when `work` resolves, rolled back when it
   * throws; a connection whose rollback failed is discarded, not returned to the pool.
   */
  async transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    const tx: Queryable = {
      query: async <R>(text: string, values?: unknown[]) =>
        (await client.query(text, values)).rows as R,
    };
    try {
      await client.query('BEGIN');
      const result = await work(tx);
      await client.query('COMMIT');
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
