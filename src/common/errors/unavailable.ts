import { isDatabaseUnavailable } from '../../database/postgres-errors.js';
import { DomainError } from './domain-error.js';

/**
 * The `Retry-After` of a 503 UNAVAILABLE, in seconds: about what a PostgreSQL restart or a
 * failover takes, and short enough for someone waiting to join a call. Retrying sooner only meets
 * another 503 (a request fails within the pool's bounds, and the first one after the database is
 * back succeeds: the pool connects again by itself).
 */
export const RETRY_AFTER_SECONDS = 5;

export const UNAVAILABLE_MESSAGE =
  'The database cannot be reached right now; try again in a few seconds';

/**
 * `error` as the API's UNAVAILABLE when it says that the database cannot be reached (see
 * isDatabaseUnavailable), else undefined.
 */
export function asUnavailable(error: unknown): DomainError | undefined {
  if (!isDatabaseUnavailable(error)) {
    return undefined;
  }
  return new DomainError('UNAVAILABLE', UNAVAILABLE_MESSAGE);
}
