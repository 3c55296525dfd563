import { randomUUID } from 'node:crypto';
import { ArrayArgs, sqlLiteralArray } from '../database/statement-args.js';
import { transitionParts } from '../sessions/sessions.sql.js';
import { CONFIRMED_PAYMENT_STATUSES, ROOM_OPEN_STATUSES } from '../sessions/session-transitions.js';
import { outboxCtes } from '../webhooks/webhooks.sql.js';
import { roomEmptiedCte, roomOccupiedCte } from './room-emptied.sql.js';

/** A socket's stay in a session's room: what the statements on one stay are keyed by. */
interface StayOf {
  sessionId: string;
  socketId: string;
}

type Statement = { text: string; values: (string | null)[] };

function stayArgs(input: StayOf): { args: ArrayArgs; session: string; socket: string } {
  const args = new ArrayArgs();
  return {
    args,
    session: args.add(input.sessionId, 'uuid'),
    socket: args.add(input.socketId, 'text'),
  };
}

/**
 * The SQL of stays. A stay is one socket in one session's room, on one instance incarnation, from
 * `joined_at` to `left_at`. Every statement that opens or closes stays also keeps what depends on
 * them in the same transaction: the room's emptied time (room-emptied.sql.ts), the
 * `participant.joined`/`participant.left` outbox rows, the auto-start.
 */

export type LeaveReason = 'leave' | 'disconnect' | 'instance-lost' | 'shutdown';

/** ISO-8601 UTC with milliseconds, as the API writes times. */
const isoOf = (expr: string) =>
  `to_char(${expr} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * `participant.left` for each user gone from a room, written with the stays that closed: `gone`
 * is a CTE of (session_id, user_id, role, left_at), one row per user whose last socket left.
 */
export function participantLeftCtes(gone: string): string {
  return outboxCtes('participant.left', {
    eventId: 'gen_random_uuid()',
    sessionId: 'g.session_id',
    data: `jsonb_build_object('sessionId', g.session_id, 'userId', g.user_id, 'role', g.role,
                'at', ${isoOf('g.left_at')})`,
    source: `${gone} g`,
  });
}

/**
 * A room join as one statement, run under the session's row lock (`Sql.underSessionLock`), so its
 * snapshot sees every committed stay. The checks are conditions here (`admitted`), built from the
 * rules' tables: a participant of the session, payment in CONFIRMED_PAYMENT_STATUSES, the room
 * open (`opensBy`: now plus JOIN_EARLY_MINUTES, from the app's clock), the status in
 * ROOM_OPEN_STATUSES, and this instance's incarnation alive (`live`). A refused join writes nothing
 * and the caller explains the refusal from the session's row (roomEntryRefusal). When admitted:
 * the stay, the room no longer empty, `participant.joined` for a user's first socket, and the
 * auto-start when both participants are now present.
 *
 * `restore`: the stay of a socket that is in the room already, announced again after it was lost
 * (its instance was declared dead, or its stay was closed while the socket stayed): payment and the
 * room's window are not asked again, as a running call is never interrupted for them; the session
 * must still be open. Its result carries the call's times, for telling a socket whose session ended.
 */
export function joinStatement(
  input: StayOf & { userId: string; instanceId: string; opensBy: Date; at: Date; restore: boolean },
): Statement {
  const { args, session, socket } = stayArgs(input);
  const user = args.add(input.userId, 'uuid');
  const instance = args.add(input.instanceId, 'uuid');
  const opensBy = input.restore ? '' : args.add(input.opensBy, 'timestamptz');
  const at = args.add(input.at.toISOString(), 'text');
  const firstSocket = `NOT EXISTS (SELECT 1 FROM before WHERE user_id = ${user})`;
  const start = transitionParts(
    { sessionId: input.sessionId, cause: 'auto-start', actorId: null },
    args,
    '(SELECT count(*) FROM present) = 2',
  );
  const text = `WITH s AS (
       SELECT client_id, psychologist_id, status, payment_status, scheduled_start, room_emptied_at,
              ${input.restore ? 'video_call_started, video_call_ended, call_duration_minutes,' : ''}
              CASE WHEN client_id = ${user} THEN 'client' ELSE 'psychologist' END AS role
         FROM sessions WHERE id = ${session}
     ), live AS (
       -- Held until the commit: a sweep burying this incarnation takes the row FOR UPDATE, so it
       -- either waits for this stay and closes it, or has committed and this finds no live row.
       SELECT 1 FROM instances WHERE id = ${instance} AND stopped_at IS NULL FOR KEY SHARE
     ), admitted AS (
       SELECT role FROM s
        WHERE ${user} IN (client_id, psychologist_id)
          AND status = ANY(${sqlLiteralArray(ROOM_OPEN_STATUSES)})
          ${
            input.restore
              ? ''
              : `AND payment_status = ANY(${sqlLiteralArray(CONFIRMED_PAYMENT_STATUSES)})
          AND scheduled_start <= ${opensBy}`
          }
          AND EXISTS (SELECT 1 FROM live)
     ), before AS (
       SELECT DISTINCT user_id, role FROM room_presence
        WHERE session_id = ${session} AND left_at IS NULL
     ), stay AS (
       INSERT INTO room_presence (session_id, user_id, role, socket_id, instance_id)
       SELECT ${session}, ${user}, role, ${socket}, ${instance} FROM admitted
       -- The unique index of open stays, named by its columns and its whole predicate.
       ON CONFLICT (session_id, socket_id) WHERE left_at IS NULL AND session_id IS NOT NULL DO NOTHING
     ), present AS (
       SELECT user_id, role, true AS was_present FROM before WHERE EXISTS (SELECT 1 FROM admitted)
       UNION ALL
       SELECT ${user}, role, false FROM admitted WHERE ${firstSocket}
     ), ${roomOccupiedCte(session, 'EXISTS (SELECT 1 FROM admitted)')},
     ${outboxCtes('participant.joined', {
       prefix: 'joined_',
       eventId: args.add(randomUUID(), 'uuid'),
       sessionId: session,
       data: `jsonb_build_object('sessionId', ${session}, 'userId', ${user}, 'role', a.role, 'at', ${at})`,
       source: 'admitted a',
       when: firstSocket,
     })},
     ${start.ctes}
     SELECT jsonb_build_object(
       'session', (SELECT to_jsonb(s) FROM s),
       'live', EXISTS (SELECT 1 FROM live),
       'participants', (SELECT COALESCE(jsonb_agg(jsonb_build_object(
           'userId', user_id, 'role', role, 'wasPresent', was_present) ORDER BY role), '[]')
         FROM present),
       'started', (SELECT to_jsonb(t) FROM (${start.select}) t))`;
  return { text, values: args.values };
}

/**
 * A socket's stay ends, as one statement under the session's row lock. Yields `{userId,
 * otherUserId, stillPresent}` (otherUserId: the session's other participant), or null when the
 * socket had no open stay there. The stay ends `secondsAgo` before this transaction began: the
 * moment the socket really went, which may be a while back when the write waited for the database
 * (a leave during an outage). When it was the user's last socket, `participant.left` is recorded;
 * when it was the room's last socket, the room is empty from then on. The statement's snapshot
 * still sees the closed row open, hence the `socket_id` condition below.
 */
export function leaveStatement(
  input: StayOf & { reason: LeaveReason; secondsAgo: number },
): Statement {
  const { args, session, socket } = stayArgs(input);
  const reason = args.add(input.reason, 'text');
  const secondsAgo = args.add(input.secondsAgo, 'float8');
  const text = `WITH closed AS (
       -- Never before the join: a join of the same socket may have committed after the moment
       -- the socket went (the stay then lasted no time, and left_at >= joined_at).
       UPDATE room_presence
          SET left_at = GREATEST(now() - make_interval(secs => ${secondsAgo}), joined_at),
              left_reason = ${reason}
        WHERE session_id = ${session} AND socket_id = ${socket} AND left_at IS NULL
        RETURNING session_id, user_id, role, left_at
     ), others AS (
       -- IS DISTINCT FROM, not <>: a strict condition on socket_id would imply the predicate of
       -- the open stays' index by socket, which the planner could then read whole.
       SELECT DISTINCT user_id FROM room_presence
        WHERE session_id = ${session} AND left_at IS NULL AND socket_id IS DISTINCT FROM ${socket}
     ), gone AS (
       SELECT c.session_id, c.user_id, c.role, c.left_at FROM closed c
        WHERE c.user_id NOT IN (SELECT user_id FROM others)
     ), empty_rooms AS (
       SELECT session_id, left_at FROM closed WHERE NOT EXISTS (SELECT 1 FROM others)
     ), ${roomEmptiedCte('empty_rooms')},
     ${participantLeftCtes('gone')}
     SELECT (SELECT jsonb_build_object(
               'userId', c.user_id, 'stillPresent', c.user_id IN (SELECT user_id FROM others),
               'otherUserId', CASE WHEN s.client_id = c.user_id THEN s.psychologist_id
                                   ELSE s.client_id END)
               FROM closed c JOIN sessions s ON s.id = c.session_id)`;
  return { text, values: args.values };
}

/**
 * The stay of a socket that left a room while its instance was frozen or cut off and then buried:
 * the burial closed its stay as of the instance's last heartbeat, yet the socket was in the room
 * until it left (as its instance saw it once it ran again). Recorded as a stay from the burial to
 * that moment, and the room, if still empty, is empty only from then on: the grace period counts
 * from the real last leave, not from the burial. Only after a burial of that socket's stay (its
 * latest stay ended `instance-lost` before the departure); otherwise nothing is written.
 */
export function lateStayStatement(
  input: StayOf & { instanceId: string; reason: LeaveReason; secondsAgo: number },
): Statement {
  const { args, session, socket } = stayArgs(input);
  const instance = args.add(input.instanceId, 'uuid');
  const reason = args.add(input.reason, 'text');
  const leftAt = `now() - make_interval(secs => ${args.add(input.secondsAgo, 'float8')})`;
  const text = `WITH latest AS (
       SELECT user_id, role, left_at, left_reason FROM room_presence
        WHERE session_id = ${session} AND socket_id = ${socket} AND left_at IS NOT NULL
        ORDER BY left_at DESC LIMIT 1
     ), late AS (
       INSERT INTO room_presence
              (session_id, user_id, role, socket_id, instance_id, joined_at, left_at, left_reason)
       SELECT ${session}, user_id, role, ${socket}, ${instance}, left_at, ${leftAt}, ${reason}
         FROM latest WHERE left_reason = 'instance-lost' AND left_at < ${leftAt}
       RETURNING session_id, left_at
     ), ${roomEmptiedCte('late', true)}
     SELECT (SELECT count(*) FROM late)::int`;
  return { text, values: args.values };
}

/** This incarnation's open stays, for comparing them with its live sockets. */
export const OPEN_STAYS_OF_INSTANCE = {
  name: 'open-stays-of-instance',
  text: `SELECT session_id AS "sessionId", socket_id AS "socketId" FROM room_presence
          WHERE instance_id = $1 AND left_at IS NULL`,
};

/** Who is in a session's room now, each user with the start of their current stay. */
export const CURRENT_STAYS = {
  name: 'current-stays',
  text: `SELECT user_id, min(joined_at) AS since FROM room_presence
        WHERE session_id = $1 AND left_at IS NULL GROUP BY user_id`,
};
