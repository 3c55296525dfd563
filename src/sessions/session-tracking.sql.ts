import { sqlLiteral, sqlLiteralArray } from '../database/statement-args.js';
import { CALL_DEADLINES, type CallDeadline } from './session-policies.js';
import {
  LIVE_STATUSES,
  TRANSITIONS,
  type SessionStatus,
  type TransitionRule,
} from './session-transitions.js';

/**
 * What `sessions` no longer indexes by status (migration LiveRangesAndDeadlines), kept by the
 * statements that change it, in the same statement and under the session's row lock:
 *
 * - `session_ranges`: a live booking's time (LIVE_STATUSES), for the no-overlap exclusion
 *   constraints. Written by the booking, moved by a reschedule, removed by the transition that
 *   ends the session.
 * - `session_deadlines`: a row per session and cause while the session is in that cause's `from`
 *   status (TRANSITIONS), with the time its deadline counts from: CALL_DEADLINES' anchors, and the
 *   room's emptied time for auto-end (written by presence, room-emptied.sql.ts). The reconciler
 *   reads its due work here (call-deadlines.sql.ts).
 *
 * So a call's start and end change no indexed value of `sessions`: their updates are HOT.
 */

/** The causes with a deadline row: the timed ones and the empty room's. */
export type DeadlineKind = CallDeadline['cause'] | 'auto-end';

/** Each kind's time, as a column of `sessions`. */
const ANCHORS = {
  ...(Object.fromEntries(CALL_DEADLINES.map((d) => [d.cause, d.anchor])) as Record<
    CallDeadline['cause'],
    CallDeadline['anchor']
  >),
  'auto-end': 'room_emptied_at',
} satisfies Record<DeadlineKind, string>;

const KINDS = Object.keys(ANCHORS) as DeadlineKind[];

/** Whether a session in `status` has a deadline row of `kind` (auto-end: once its room empties). */
const heldIn = (kind: DeadlineKind, status: SessionStatus) =>
  TRANSITIONS[kind].from.includes(status);

const isLive = (status: SessionStatus) => LIVE_STATUSES.includes(status);

/**
 * The CTEs (each followed by a comma) that keep both tables exact through a transition of
 * `rule`, over the transition's `moved` CTE (at most one row: the session `sessionId`). By the
 * session's key, after `moved`: nothing happens when the transition did not apply.
 */
export function transitionTrackingCtes(rule: TransitionRule, sessionId: string): string {
  const ctes: string[] = [];
  const applied = 'EXISTS (SELECT 1 FROM moved)';
  if (rule.from.some(isLive) && !isLive(rule.to)) {
    ctes.push(`range_freed AS (
       DELETE FROM session_ranges WHERE session_id = ${sessionId} AND ${applied}
     )`);
  }
  const passed = KINDS.filter(
    (k) => !heldIn(k, rule.to) && rule.from.some((from) => heldIn(k, from)),
  );
  if (passed.length > 0) {
    ctes.push(`deadlines_passed AS (
       DELETE FROM session_deadlines
        WHERE session_id = ${sessionId} AND kind = ANY(${sqlLiteralArray(passed)}) AND ${applied}
     )`);
  }
  // The room's emptied time is set by presence while the call runs, never by a transition.
  const begun = KINDS.filter(
    (k) => k !== 'auto-end' && heldIn(k, rule.to) && !rule.from.every((from) => heldIn(k, from)),
  );
  if (begun.length > 0) {
    ctes.push(`deadlines_begun AS (
       INSERT INTO session_deadlines (session_id, kind, since)
       ${begun.map((k) => `SELECT id, ${sqlLiteral(k)}, ${ANCHORS[k]} FROM moved`).join(' UNION ALL ')}
     )`);
  }
  return ctes.map((c) => `${c},`).join(' ');
}

/**
 * The CTEs (each followed by a comma) that move a rescheduled session's live range and the
 * deadlines counted from its scheduled start, over the reschedule's `moved` CTE.
 */
export function rescheduleTrackingCtes(sessionId: string, start: string, end: string): string {
  const fromStart = KINDS.filter((k) => ANCHORS[k] === 'scheduled_start');
  return `range_moved AS (
       UPDATE session_ranges SET scheduled_start = ${start}, scheduled_end = ${end}
        WHERE session_id = ${sessionId} AND EXISTS (SELECT 1 FROM moved)
     ), deadlines_moved AS (
       UPDATE session_deadlines SET since = ${start}
        WHERE session_id = ${sessionId} AND kind = ANY(${sqlLiteralArray(fromStart)})
          AND EXISTS (SELECT 1 FROM moved)
     ),`;
}

/**
 * The CTE `emptied_due`: the auto-end deadline of each running call in `emptied` (a CTE of `id`
 * and `room_emptied_at`), set or pushed back to the room's emptied time.
 */
export function roomEmptiedDeadlineCte(emptied: string): string {
  return `emptied_due AS (
       INSERT INTO session_deadlines (session_id, kind, since)
       SELECT id, 'auto-end', room_emptied_at FROM ${emptied} WHERE room_emptied_at IS NOT NULL
       ON CONFLICT (session_id, kind) DO UPDATE SET since = EXCLUDED.since
     )`;
}

/** The CTE `occupied_due`: no auto-end for `session` once `occupied` (a CTE) has a row. */
export function roomOccupiedDeadlineCte(session: string, occupied: string): string {
  return `occupied_due AS (
       DELETE FROM session_deadlines
        WHERE session_id = ${session} AND kind = 'auto-end' AND EXISTS (SELECT 1 FROM ${occupied})
     )`;
}

/**
 * Both tables' rows for the sessions of `where` (a condition on `sessions`), derived from their
 * rows: for sessions written without the statements above (a fill of history, a test's data).
 */
export function trackingInserts(where: string): string[] {
  return [
    `INSERT INTO session_ranges (session_id, client_id, psychologist_id, scheduled_start, scheduled_end)
     SELECT id, client_id, psychologist_id, scheduled_start, scheduled_end FROM sessions
      WHERE (${where}) AND status = ANY(${sqlLiteralArray(LIVE_STATUSES)})`,
    `INSERT INTO session_deadlines (session_id, kind, since)
     ${KINDS.map(
       (k) => `SELECT id, ${sqlLiteral(k)}, ${ANCHORS[k]} FROM sessions
      WHERE (${where}) AND status = ANY(${sqlLiteralArray(TRANSITIONS[k].from)})
        AND ${ANCHORS[k]} IS NOT NULL`,
     ).join(' UNION ALL ')}`,
  ];
}
