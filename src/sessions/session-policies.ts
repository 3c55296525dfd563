/**
 * The time rules around a session (PRODUCT.md section 6), pure so they can be tested on their own.
 */
import { DomainError } from '../common/errors/domain-error.js';

const MINUTE_MS = 60_000;

/** The moment a session's room opens: `JOIN_EARLY_MINUTES` before its scheduled start. */
export function roomOpensAt(scheduledStart: Date, joinEarlyMinutes: number): Date {
  return new Date(scheduledStart.getTime() - joinEarlyMinutes * MINUTE_MS);
}

/**
 * The latest scheduled start of a session whose room is open at `now`: the join window as a
 * bound on `scheduled_start`, for SQL that checks it (`scheduled_start <= this`).
 */
export function roomsOpenStartingBy(now: Date, joinEarlyMinutes: number): Date {
  return new Date(now.getTime() + joinEarlyMinutes * MINUTE_MS);
}

/** Whether the room is open at `now` (from its opening moment on, inclusive). */
export function isRoomOpen(scheduledStart: Date, joinEarlyMinutes: number, now: Date): boolean {
  return now.getTime() >= roomOpensAt(scheduledStart, joinEarlyMinutes).getTime();
}

/**
 * The deadlines that end a session without anyone acting, as data: a session in the cause's
 * `from` status (see TRANSITIONS) whose `anchor` is `minutes` (the named setting) in the past is
 * moved by that cause. The reconciler's SQL is built from this table (call-deadlines.sql.ts), in
 * its order. The empty room's grace period (auto-end) counts from the room's emptied time, which
 * presence keeps, and has a statement of its own there.
 */
export interface CallDeadline {
  cause: 'max-duration' | 'no-show';
  /** The session's column the deadline counts from. */
  anchor: 'video_call_started' | 'scheduled_start';
  /** The setting that gives the minutes. */
  minutes: 'maxCallMinutes' | 'noShowAfterMinutes';
}

export const CALL_DEADLINES: readonly CallDeadline[] = [
  // A running call is completed by the length cap.
  { cause: 'max-duration', anchor: 'video_call_started', minutes: 'maxCallMinutes' },
  // A Confirmed session that nobody started in time becomes No Show.
  { cause: 'no-show', anchor: 'scheduled_start', minutes: 'noShowAfterMinutes' },
];

/** The moment a deadline falls, from its anchor's time and its setting in minutes. */
export function deadlineAt(anchorTime: Date, minutes: number): Date {
  return new Date(anchorTime.getTime() + minutes * MINUTE_MS);
}

export interface Stay {
  joinedAt: Date;
  /** null while the socket is still in the room. */
  leftAt: Date | null;
}

export interface AttendanceSummary {
  firstJoinedAt: Date | null;
  /** null when the participant never came or is in the room now. */
  lastLeftAt: Date | null;
  secondsPresent: number;
  /** Separate stays: overlapping or touching sockets (two devices) count as one. */
  stays: number;
}

/**
 * One participant's attendance from their per-socket presence rows: the union of the intervals,
 * so two devices at once count once, and every gap (a drop, then a rejoin) starts a new stay.
 */
export function summarizeAttendance(rows: readonly Stay[], now: Date): AttendanceSummary {
  const intervals = rows
    .map((r) => ({ from: r.joinedAt.getTime(), to: (r.leftAt ?? now).getTime(), open: !r.leftAt }))
    .sort((a, b) => a.from - b.from);
  if (intervals.length === 0) {
    return { firstJoinedAt: null, lastLeftAt: null, secondsPresent: 0, stays: 0 };
  }
  let stays = 0;
  let totalMs = 0;
  let current: { from: number; to: number } | undefined;
  for (const i of intervals) {
    if (current && i.from <= current.to) {
      current.to = Math.max(current.to, i.to);
      continue;
    }
    if (current) {
      totalMs += current.to - current.from;
    }
    current = { from: i.from, to: i.to };
    stays++;
  }
  totalMs += current!.to - current!.from;
  const present = intervals.some((i) => i.open);
  const lastLeft = Math.max(...rows.filter((r) => r.leftAt).map((r) => r.leftAt!.getTime()));
  return {
    firstJoinedAt: new Date(intervals[0].from),
    lastLeftAt: present || !Number.isFinite(lastLeft) ? null : new Date(lastLeft),
    secondsPresent: Math.round(Math.max(0, totalMs) / 1000),
    stays,
  };
}

/** TOO_EARLY (409) before the room opens; the body's `opensAt` says when it does. */
export function assertRoomOpen(scheduledStart: Date, joinEarlyMinutes: number, now: Date): void {
  if (!isRoomOpen(scheduledStart, joinEarlyMinutes, now)) {
    const opensAt = roomOpensAt(scheduledStart, joinEarlyMinutes).toISOString();
    throw new DomainError('TOO_EARLY', `The room opens at ${opensAt}`, undefined, { opensAt });
  }
}
