import { sqlLiteral, sqlLiteralArray } from '../database/statement-args.js';
import type { CallDeadline } from '../sessions/session-policies.js';
import { TRANSITIONS, type SessionStatus } from '../sessions/session-transitions.js';

/**
 * The reconciler's SQL: the sessions whose deadline has passed, found in bulk in
 * `session_deadlines` (session-tracking.sql.ts keeps it), then each one re-checked on its row of
 * `sessions` under its lock (SKIP LOCKED: a row another instance holds is theirs) before its
 * transition. Statuses and columns come from TRANSITIONS and CALL_DEADLINES; the durations are
 * parameters.
 */

/** `column` in `statuses`: `=` for one (a plainer condition for the planner), `= ANY` for several. */
export function statusIn(column: string, statuses: readonly SessionStatus[]): string {
  return statuses.length === 1
    ? `${column} = ${sqlLiteral(statuses[0])}`
    : `${column} = ANY(${sqlLiteralArray(statuses)})`;
}

/**
 * The session's row with id `param`, locked, as `locked`, for a re-check written over it. The
 * re-check's conditions stay off this scan, which reads the key.
 */
const lockedById = (param: string) =>
  `WITH locked AS (SELECT * FROM sessions WHERE id = ${param} FOR UPDATE SKIP LOCKED)`;

/** A deadline's due condition over `sessions`, `$1` being its minutes. */
function dueCondition({ cause, anchor }: CallDeadline): string {
  return `${statusIn('status', TRANSITIONS[cause].from)} AND ${anchor} <= now() - make_interval(mins => $1)`;
}

/**
 * The sessions past a deadline (`$1`: its minutes), a batch at a time, oldest deadline first: in
 * the order of the deadlines' index by kind and time, so a batch reads only due rows.
 */
export function dueSessions(deadline: CallDeadline): { name: string; text: string } {
  return {
    name: `deadline-due:${deadline.cause}`,
    text: `SELECT session_id AS id FROM session_deadlines
            WHERE kind = ${sqlLiteral(deadline.cause)} AND since <= now() - make_interval(mins => $1)
            ORDER BY since LIMIT 500`,
  };
}

/** One of them (`$2`), locked and still past the deadline (`$1`); no row: not (or not ours). */
export function lockedIfDue(deadline: CallDeadline): string {
  return `${lockedById('$2')} SELECT id FROM locked WHERE ${dueCondition(deadline)}`;
}

const AUTO_END_FROM = statusIn('status', TRANSITIONS['auto-end'].from);

/**
 * The calls whose room has been empty for the grace period (`$1` seconds): auto-end. Presence
 * keeps `room_emptied_at` and its deadline row (room-emptied.sql.ts).
 */
export const ABANDONED_CALLS = {
  name: 'deadline-due:auto-end',
  text: `SELECT session_id AS id FROM session_deadlines
        WHERE kind = 'auto-end' AND since <= now() - make_interval(secs => $1)
        ORDER BY since LIMIT 500`,
};

/**
 * One of them (`$1`), locked and still abandoned (`$2` seconds): a participant may have rejoined,
 * another instance may be ending it. Yields the emptied time, which becomes the call's end.
 */
export const LOCKED_IF_ABANDONED = `${lockedById('$1')}
           SELECT room_emptied_at FROM locked
            WHERE ${AUTO_END_FROM} AND room_emptied_at <= now() - make_interval(secs => $2)`;

/**
 * The auto-end deadline row of `$1` made true again, under the lock the re-check took, when the
 * re-check found the call not abandoned: gone when the room is no longer empty or the call no
 * longer runs, else moved to the room's emptied time. A join and a leave racing can leave the row
 * behind (a join's statement does not see a row committed after its snapshot); a row left behind
 * would be re-checked at every tick, and, oldest first, hold back due ones.
 */
export const REPAIR_AUTO_END_DEADLINE = `${lockedById('$1')}, moved AS (
           UPDATE session_deadlines d SET since = l.room_emptied_at FROM locked l
            WHERE d.session_id = l.id AND d.kind = 'auto-end'
              AND ${statusIn('l.status', TRANSITIONS['auto-end'].from)} AND l.room_emptied_at IS NOT NULL
              AND d.since <> l.room_emptied_at
         )
         DELETE FROM session_deadlines d USING locked l
          WHERE d.session_id = l.id AND d.kind = 'auto-end'
            AND (l.room_emptied_at IS NULL OR NOT (${statusIn('l.status', TRANSITIONS['auto-end'].from)}))`;
