import type { DataSourceOptions } from 'typeorm';
import { InitialSchema1764000000000 } from '../../migrations/1764000000000-InitialSchema.js';
import { RoomPresence1764000000001 } from '../../migrations/1764000000001-RoomPresence.js';
import { RefreshTokensAndBookingOverlap1764000000002 } from '../../migrations/1764000000002-RefreshTokensAndBookingOverlap.js';
import { SessionPolicies1764000000003 } from '../../migrations/1764000000003-SessionPolicies.js';
import { Webhooks1764000000004 } from '../../migrations/1764000000004-Webhooks.js';
import { WebhookRetention1764000000005 } from '../../migrations/1764000000005-WebhookRetention.js';
import { PresenceBySocket1764000000006 } from '../../migrations/1764000000006-PresenceBySocket.js';
import { PartialIndexesByKey1764000000007 } from '../../migrations/1764000000007-PartialIndexesByKey.js';
import { InstanceLiveness1764000000008 } from '../../migrations/1764000000008-InstanceLiveness.js';
import { PsychologistDirectory1764000000009 } from '../../migrations/1764000000009-PsychologistDirectory.js';
import { ServiceKeys1764000000010 } from '../../migrations/1764000000010-ServiceKeys.js';
import { LiveRangesAndDeadlines1764000000011 } from '../../migrations/1764000000011-LiveRangesAndDeadlines.js';
import { User } from '../auth/user.entity.js';
import { Session } from '../sessions/session.entity.js';
import { BoundedClient } from './bounded-client.js';
import { warnDatabaseUnavailable } from './outage-log.js';

export const ENTITIES = [User, Session];
export const MIGRATIONS = [
  InitialSchema1764000000000,
  RoomPresence1764000000001,
  RefreshTokensAndBookingOverlap1764000000002,
  SessionPolicies1764000000003,
  Webhooks1764000000004,
  WebhookRetention1764000000005,
  PresenceBySocket1764000000006,
  PartialIndexesByKey1764000000007,
  InstanceLiveness1764000000008,
  PsychologistDirectory1764000000009,
  ServiceKeys1764000000010,
  LiveRangesAndDeadlines1764000000011,
];

/**
 * How long the service waits for the database. A request fails at its first statement that
 * cannot be served, and must then answer 503 within 5 s (PRODUCT.md section 9) however the
 * database went away:
 * - refused or cut connections (a stopped or restarting server) fail at once;
 * - a connection, or a free one from the pool, not had within `connectTimeoutMs` fails then: a
 *   connection on a healthy network takes milliseconds, and so does a free pooled one (a request
 *   holds one for about a millisecond);
 * - a statement the server works on for longer than `statementTimeoutMs` is cancelled by the
 *   server, and the connection stays usable: the REST statements take milliseconds (p99 in the
 *   tens), so 2 s means a stuck lock or an overloaded server, better answered 503 than late;
 * - a statement that gets no answer at all (a silent or unreachable host whose packets are
 *   dropped: no error ever comes, and TCP retransmits for many minutes) fails after
 *   `readTimeoutMs`, and its connection is closed (see BoundedClient). Longer than the server's
 *   bound, so that a statement that is merely slow gets the server's clean cancel first.
 * A request thus fails within one bound, 2.5 s at most; the worst case, nearly the sum (4.5 s), is
 * a request that waited almost the whole connect bound for a pooled connection that then turned
 * out silent. TCP keepalive lets idle pooled connections to a vanished host be noticed.
 */
export const DATABASE_BOUNDS = {
  connectTimeoutMs: 2000,
  statementTimeoutMs: 2000,
  readTimeoutMs: 2500,
  keepAliveInitialDelayMs: 10_000,
} as const;

/**
 * The one description of the database, used by the app (database.module.ts) and by the TypeORM
 * CLI (data-source.ts). The schema comes only from migrations: `synchronize` stays off, and
 * migrations are applied by `migrateUnderLock`, never implicitly.
 *
 * `serve` is the service's pool, under DATABASE_BOUNDS. `migrate` is for migrations, which wait
 * for another instance's migration (pg_advisory_lock) and may run long statements: only the
 * connect bound applies, and the server's statement_timeout is lifted for its connections (a
 * default of the role or the database would otherwise apply).
 */
export function buildDataSourceOptions(
  url: string,
  purpose: 'serve' | 'migrate' = 'serve',
): DataSourceOptions {
  const connection = {
    Client: BoundedClient,
    connectionTimeoutMillis: DATABASE_BOUNDS.connectTimeoutMs,
    keepAlive: true,
    keepAliveInitialDelayMillis: DATABASE_BOUNDS.keepAliveInitialDelayMs,
  };
  const extra =
    purpose === 'serve'
      ? {
          ...connection,
          max: 20,
          application_name: 'session-video-api',
          statement_timeout: DATABASE_BOUNDS.statementTimeoutMs,
          query_timeout: DATABASE_BOUNDS.readTimeoutMs,
        }
      : {
          ...connection,
          application_name: 'session-video-api migrations',
          options: '-c statement_timeout=0',
        };
  return {
    type: 'postgres',
    url,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: 'migrations',
    synchronize: false,
    migrationsRun: false,
    // Off: TypeORM would print failed queries with their parameters (password hashes, emails)
    // outside the logger's redaction; errors reach the exception filter and are logged there.
    logging: false,
    extra,
    // Idle pooled connections that die (the server stopped or restarted) are reported here;
    // TypeORM's own handler logs through its logger, which `logging: false` silences.
    poolErrorHandler: (error: unknown) => warnDatabaseUnavailable('idle connection', error),
  };
}
