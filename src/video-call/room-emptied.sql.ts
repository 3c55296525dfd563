import {
  roomEmptiedDeadlineCte,
  roomOccupiedDeadlineCte,
} from '../sessions/session-tracking.sql.js';
import { TRANSITIONS } from '../sessions/session-transitions.js';
import { statusIn } from './call-deadlines.sql.js';

/**
 * The room's emptied time (`sessions.room_emptied_at`), from which auto-end counts its grace
 * period. Set by `roomEmptiedCte` (every path that closes stays: a leave, a late stay, a stop of
 * instances) and cleared by `roomOccupiedCte` (a join); nothing else writes it. It matters only
 * while the call runs: in auto-end's statuses. Both keep the call's auto-end deadline row with it
 * (session-tracking.sql.ts), which is what the reconciler reads.
 */

/**
 * The CTEs `emptied` and `emptied_due`: the running calls of the rooms in `rooms` (a CTE with `session_id` and
 * `left_at`, the statement's own latest leave in each room it leaves empty) are empty from the
 * room's latest leave on. That need not be the statement's own leave: one written late (after an
 * outage) may be older than one already written; and the statement's snapshot does not see its
 * own writes, hence both maxima. `onlyIfLater`: only a room already empty since before that leave
 * (a stay found to have lasted past its burial pushes the grace period back, never starts one).
 * By id through ARRAY(...): the key, never a whole scan of the table.
 */
export function roomEmptiedCte(rooms: string, onlyIfLater = false): string {
  const ownLeave = `(SELECT max(r.left_at) FROM ${rooms} r WHERE r.session_id = s.id)`;
  return `emptied AS (
       UPDATE sessions s
          SET room_emptied_at = GREATEST(${ownLeave},
                (SELECT max(p.left_at) FROM room_presence p WHERE p.session_id = s.id))
        WHERE s.id = ANY (ARRAY(SELECT session_id FROM ${rooms}))
          AND ${statusIn('s.status', TRANSITIONS['auto-end'].from)}
          ${onlyIfLater ? `AND s.room_emptied_at < ${ownLeave}` : ''}
        RETURNING s.id, s.room_emptied_at
     ), ${roomEmptiedDeadlineCte('emptied')}`;
}

/**
 * The CTEs `occupied` and `occupied_due`: a join admitted (`admitted`, an SQL condition) to an emptied running call
 * makes it occupied again. The room's state is read from `s` (the join's read of the session),
 * not written as conditions on this scan of sessions, which stays a read by the key.
 */
export function roomOccupiedCte(session: string, admitted: string): string {
  return `occupied AS (
       UPDATE sessions SET room_emptied_at = NULL
        WHERE id = ${session} AND ${admitted}
          AND EXISTS (SELECT 1 FROM s WHERE ${statusIn('status', TRANSITIONS['auto-end'].from)}
                                        AND room_emptied_at IS NOT NULL)
        RETURNING id
     ), ${roomOccupiedDeadlineCte(session, 'occupied')}`;
}
