/** PostgreSQL error classification for the few constraint errors the services turn into codes. */
interface PgError {
  code?: string;
  constraint?: string;
  driverError?: PgError;
}

function pgError(error: unknown): PgError | undefined {
  if (typeof error !== 'object' || error === null) {
    return undefined;
  }
  const e = error as PgError;
  return e.driverError ?? e;
}

export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  const e = pgError(error);
  return e?.code === '23505' && (constraint === undefined || e.constraint === constraint);
}

/** An exclusion constraint refused the row (a booking overlapping another, e.g.). */
export function isExclusionViolation(error: unknown): boolean {
  return pgError(error)?.code === '23P01';
}

/**
 * SQLSTATE classes and codes that mean the database could not be reached or is going away, rather
 * than that the statement was wrong: connection exceptions (08), the server shutting down or
 * starting up (57P01-57P03), too many connections (53300), and a statement cancelled (57014) -
 * by the pool's statement_timeout (a stuck lock, an overloaded server) or by an operator.
 */
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '57014']);

/** Node's socket errors on the way to the database. */
const UNAVAILABLE_ERRNOS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ENOTFOUND',
]);

/**
 * The driver's own words for a connection that failed, was cut, or did not answer in time
 * (pg and pg-pool throw plain Errors for these, with no code).
 */
const UNAVAILABLE_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Query read timeout',
  'Client has encountered a connection error and is not queryable',
  'Client was closed and is not queryable',
  'Cannot use a pool after calling end on the pool',
];

/**
 * Whether `error` says that the database cannot be reached right now (down, restarting, cut off,
 * not answering within the bounds set on the pool), as opposed to a bug or a refused statement.
 * Such errors are answered UNAVAILABLE (503) and retried by the background loops.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) {
    return false;
  }
  const e = (error as PgError).driverError ?? error;
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (code.startsWith('08') || UNAVAILABLE_SQLSTATES.has(code) || UNAVAILABLE_ERRNOS.has(code)) {
      return true;
    }
  }
  const message = (e as { message?: unknown }).message;
  if (typeof message === 'string' && UNAVAILABLE_MESSAGES.some((m) => message.includes(m))) {
    return true;
  }
  // AggregateError (a connect to several addresses that all failed) carries the causes.
  const errors = (e as { errors?: unknown }).errors;
  return Array.isArray(errors) && errors.length > 0 && errors.every(isDatabaseUnavailable);
}
