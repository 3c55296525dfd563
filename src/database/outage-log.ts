import { Logger } from '@nestjs/common';
import { isDatabaseUnavailable } from './postgres-errors.js';

const logger = new Logger('Database');

/** An outage fails every request and every pooled connection at once: one line per source this often. */
const WARN_EVERY_MS = 10_000;

const lastWarned = new Map<string, { at: number; since: number }>();

/**
 * Logs that the database could not be reached, as a warning without a stack (it is not a bug):
 * at most one line per `source` every 10 s, counting the occurrences it stood for.
 */
export function warnDatabaseUnavailable(source: string, error: unknown): void {
  const now = Date.now();
  const last = lastWarned.get(source);
  if (last && now - last.at < WARN_EVERY_MS) {
    last.since += 1;
    return;
  }
  const reason = error instanceof Error ? error.message : String(error);
  const more = last?.since ? ` (${last.since} more since the last line)` : '';
  logger.warn(`database unavailable (${source}): ${reason}${more}`);
  lastWarned.set(source, { at: now, since: 0 });
}

/**
 * A background job's failure: an unreachable database is the rate-limited warning above (the job
 * tries again, nothing is lost), anything else an error of the job's own logger.
 */
export function logJobFailure(logger: Logger, job: string, error: unknown): void {
  if (isDatabaseUnavailable(error)) {
    warnDatabaseUnavailable(job, error);
  } else {
    logger.error(`${job} failed: ${error instanceof Error ? error.message : String(error)}`);
  }
}
