/**
 * The rules a booking and a reschedule share: how far back and ahead a session may start, and
 * that it lies inside its psychologist's working hours; and when a session may still be moved. Pure, so both paths apply the same rule
 * and it can be tested on its own.
 */
import { DomainError } from '../common/errors/domain-error.js';
import { fitsWorkingHours, type WorkingHours } from '../psychologists/working-hours.js';
import { isRoomOpen } from './session-policies.js';
import { RESCHEDULABLE_STATUSES, type SessionStatus } from './session-transitions.js';

export const DEFAULT_DURATION_MINUTES = 50;

/** A start a little in the past is accepted: the request may have been slow to arrive. */
const MAX_PAST_MS = 5 * 60_000;

export const BOOKABLE_START_MESSAGE = 'must be from 5 minutes ago to a year ahead';

/** The same moment a calendar year later (365 or 366 days, whichever the coming year has). */
function oneYearAfter(ms: number): number {
  const d = new Date(ms);
  d.setUTCFullYear(d.getUTCFullYear() + 1);
  return d.getTime();
}

/** Whether a session may start at `startMs` when asked at `nowMs`. */
export function isBookableStart(startMs: number, nowMs: number): boolean {
  return startMs >= nowMs - MAX_PAST_MS && startMs <= oneYearAfter(nowMs);
}

/** SLOT_TAKEN (409): the exclusion constraints refused an overlap, on a booking or a reschedule. */
export function slotTaken(): DomainError {
  return new DomainError(
    'SLOT_TAKEN',
    'The psychologist or the client already has a live booking overlapping this time',
  );
}

/** The end of a session of `durationMinutes` starting at `start`. */
export function sessionEnd(start: Date, durationMinutes: number): Date {
  return new Date(start.getTime() + durationMinutes * 60_000);
}

/**
 * OUTSIDE_WORKING_HOURS (409) unless `[start, end)` fits the psychologist's hours (none set: any
 * time fits). An admin may place a session outside them: `byAdmin` skips the check.
 */
export function assertInsideWorkingHours(
  hours: WorkingHours | null,
  start: Date,
  end: Date,
  byAdmin: boolean,
): void {
  if (!byAdmin && !fitsWorkingHours(hours, start.getTime(), end.getTime())) {
    throw new DomainError(
      'OUTSIDE_WORKING_HOURS',
      "The session does not lie inside the psychologist's working hours",
    );
  }
}

/**
 * INVALID_TRANSITION (409) unless a session in `status` starting at `scheduledStart` may still be
 * moved at `now`: while it is Pending or Confirmed and before its room opens. The reschedule's
 * statement applies the same rule in SQL, built from the same list and bound; this names why.
 */
export function assertReschedulable(
  session: { status: SessionStatus; scheduledStart: Date },
  now: Date,
  joinEarlyMinutes: number,
): void {
  if (!RESCHEDULABLE_STATUSES.includes(session.status)) {
    throw new DomainError(
      'INVALID_TRANSITION',
      `A session can be rescheduled only while ${RESCHEDULABLE_STATUSES.join(' or ')}; it is ${session.status}`,
    );
  }
  if (isRoomOpen(session.scheduledStart, joinEarlyMinutes, now)) {
    throw new DomainError(
      'INVALID_TRANSITION',
      'A session can be rescheduled only before its room opens',
    );
  }
}
