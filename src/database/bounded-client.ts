import pg from 'pg';

/** pg's own words when a statement got no answer within `query_timeout`. */
const READ_TIMEOUT = 'Query read timeout';

/**
 * The pool's client class (pg's Client, given to the pool as `Client`), with two changes for when
 * the database goes away:
 *
 * - It always has an 'error' listener. pg emits 'error' on a client whose connection dies, also
 *   while a statement of it fails with that same error; pg-pool listens only while the client is
 *   idle and TypeORM only while one of its query runners holds it, so a client held by `Sql`
 *   between two statements would throw the event and end the process. Whoever holds the client
 *   still learns of the failure (its next statement fails), and the pool of an idle one.
 * - A statement that got no answer within `query_timeout` closes the client. pg fails the
 *   statement but leaves it outstanding on the connection (a late answer is read and dropped), so
 *   every later statement on the client waits behind it - on a silent server, each to its own
 *   bound - and as TypeORM releases its clients without an error, the pool would go on lending
 *   it. Closed, its later statements fail at once and the pool drops it when it comes back.
 */
export class BoundedClient extends pg.Client {
  constructor(config?: string | pg.ClientConfig) {
    super(config);
    this.on('error', () => undefined);
  }

  // pg's overloads (text or config, values, callback or a promise) are passed through as they are.
  override query(...args: unknown[]): never {
    const last = args.length - 1;
    const callback = args[last];
    if (typeof callback === 'function') {
      args[last] = (error: unknown, result: unknown) => {
        this.closeIfUnanswered(error);
        (callback as (error: unknown, result: unknown) => void)(error, result);
      };
    }
    const result = (super.query as (...a: unknown[]) => unknown).apply(this, args);
    if (result instanceof Promise) {
      // Before the caller's own handlers run (registered first), so that a release that follows
      // at once already finds the client closed.
      void result.catch((error: unknown) => this.closeIfUnanswered(error));
    }
    return result as never;
  }

  private closeIfUnanswered(error: unknown): void {
    if (error instanceof Error && error.message === READ_TIMEOUT) {
      // The statement is still outstanding, so pg destroys the socket rather than saying goodbye.
      this.end().catch(() => undefined);
    }
  }
}
