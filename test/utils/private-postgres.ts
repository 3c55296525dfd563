import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import {
  startEmbeddedPostgres,
  type EmbeddedPostgres,
} from '../../src/database/embedded-postgres.js';
import { freePort } from './redis.js';

/**
 * A PostgreSQL server of the test's own (the embedded binaries, in a temporary folder, on a fixed
 * loopback port), for fault tests that stop and start it under a running service: the run's
 * shared server is never the one stopped. Settings as the run's throwaway cluster.
 */
export class PrivatePostgres {
  private server?: EmbeddedPostgres;

  private constructor(
    private readonly dataDir: string,
    private readonly port: number,
  ) {}

  static async start(): Promise<PrivatePostgres> {
    const dataDir = await mkdtemp(join(tmpdir(), 'svapi-private-pg-'));
    const pg = new PrivatePostgres(dataDir, await freePort());
    await pg.start();
    return pg;
  }

  /** The server's address, with the `postgres` database (or `database`). */
  url(database = 'postgres'): string {
    const url = new URL(this.server?.url ?? this.lastUrl);
    url.pathname = `/${database}`;
    return url.toString();
  }

  private lastUrl = '';

  get running(): boolean {
    return this.server !== undefined;
  }

  async start(): Promise<void> {
    if (this.server) {
      return;
    }
    this.server = await startEmbeddedPostgres({
      dataDir: this.dataDir,
      port: this.port,
      settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' },
    });
    this.lastUrl = this.server.url;
  }

  /** A fast shutdown: open transactions are aborted and every connection is closed. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    await server?.stop();
  }

  /** A new empty database on this server; its URL. */
  async createDatabase(): Promise<string> {
    const name = `svapi_fault_${randomBytes(6).toString('hex')}`;
    const client = new Client({ connectionString: this.url() });
    await client.connect();
    try {
      await client.query(`CREATE DATABASE ${name}`);
    } finally {
      await client.end();
    }
    return this.url(name);
  }

  async destroy(): Promise<void> {
    await this.stop();
    await rm(this.dataDir, { recursive: true, force: true });
  }
}
