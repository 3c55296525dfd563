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
import { User } from '../auth/user.entity.js';
import { Session } from '../sessions/session.entity.js';
import { SessionStatusChange } from '../sessions/session-status-change.entity.js';

export const ENTITIES = [User, Session, SessionStatusChange];
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
];

/**
 * The one description of the database, used by the app (database.module.ts) and by the TypeORM
 * CLI (data-source.ts). The schema comes only from migrations: `synchronize` stays off, and
 * migrations are applied by `migrateUnderLock`, never implicitly.
 */
export function buildDataSourceOptions(url: string): DataSourceOptions {
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
    extra: { max: 20, application_name: 'session-video-api' },
  };
}
