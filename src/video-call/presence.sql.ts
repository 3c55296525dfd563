import { randomUUID } from 'node:crypto';
import { ArrayArgs, sqlLiteralArray } from '../database/statement-args.js';
import { transitionParts } from '../sessions/session-lifecycle.service.js';
import { CONFIRMED_PAYMENT_STATUSES, ROOM_OPEN_STATUSES } from '../sessions/session-transitions.js';
import { outboxCtes } from '../webhooks/webhook-outbox.js';
import { DEAD_AFTER_BEATS } from './presence-rules.js';

/**
 * Presence's SQL, in one place. A stay is one socket in one session's room, on one instance
 * incarnation, from `joined_at` to `left_at`. Every statement that opens or closes stays also keeps
 * what depends on them in the same transaction: the room's emptied time (auto-end counts from it),
 * the `participant.joined`/`participant.left` outbox rows, the auto-start.
 */

export type LeaveReason = 'leave' | 'disconnect' | 'instance-lost' | 'shutdown';

/** ISO-8601 UTC with milliseconds, as the API writes times. */
const isoOf = (expr: string) =>
  `to_char(${expr} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * A room join as one statement, run under the session's row lock (`Sql.underSessionLock`), so its
 * snapshot sees every committed stay. The checks are conditions here (`admitted`): who may join (a
 * participant of the session), payment confirmed, the room open (`opensBy`: now plus
 * JOIN_EARLY_MINUTES, from the app's clock), the status, and this instance's incarnation alive
 * (`live`). A refused join writes nothing and the caller explains the refusal from the session's
 * row. When admitted: the stay, the room no longer empty, `participant.joined` for a user's first
 * socket, and the auto-start when both participants are now present.
 *
 * `restore`: the stay of a socket that is in the room already, announced again after it was lost
 * (its instance was declared dead, or its stay was closed while the socket stayed): payment and the
 * room's window are not asked again, as a running call is never interrupted for them; the session
 * must still be open. Its result carries the call's times, for telling a socket whose session ended.
 */
export function joinStatement(input: {
  sessionId: string;
  userId: string;
  socketId: string;
  instanceId: string;
  opensBy: Date;
  at: Date;
  restore: boolean;
}): { text: string; values: (string | null)[] } {
  const args = new ArrayArgs();
  const session = args.add(input.sessionId, 'uuid');
  const user = args.add(input.userId, 'uuid');
  const socket = args.add(input.socketId, 'text');
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
     ), occupied AS (
       -- The room's state is read from s, not written as conditions on this scan of sessions:
       -- those would let the planner read sessions_room_emptied_idx whole instead of the key.
       UPDATE sessions SET room_emptied_at = NULL
        WHERE id = ${session} AND EXISTS (SELECT 1 FROM admitted)
          AND EXISTS (SELECT 1 FROM s WHERE status = 'In Progress' AND room_emptied_at IS NOT NULL)
     ), ${outboxCtes('participant.joined', {
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
 * A socket's stay ends, as one statement under the session's row lock. Yields
 * `{userId, stillPresent}`, or null when the socket had no open stay there. The stay ends
 * `secondsAgo` before this transaction began: the moment the socket really went, which may be a
 * while back when the write waited for the database (a leave during an outage). When it was the
 * user's last socket, `participant.left` is recorded; when it was the room's last socket and the
 * call is running, the room is empty from then on (auto-end counts from there). The statement's
 * snapshot still sees the closed row open, hence the `socket_id` condition below.
 */
export function leaveStatement(input: {
  sessionId: string;
  socketId: string;
  reason: LeaveReason;
  secondsAgo: number;
  at: Date;
}): { text: string; values: (string | null)[] } {
  const args = new ArrayArgs();
  const session = args.add(input.sessionId, 'uuid');
  const socket = args.add(input.socketId, 'text');
  const reason = args.add(input.reason, 'text');
  const secondsAgo = args.add(input.secondsAgo, 'float8');
  const at = args.add(input.at.toISOString(), 'text');
  const text = `WITH closed AS (
       -- Never before the join: a join of the same socket may have committed after the moment
       -- the socket went (the stay then lasted no time, and left_at >= joined_at).
       UPDATE room_presence
          SET left_at = GREATEST(now() - make_interval(secs => ${secondsAgo}), joined_at),
              left_reason = ${reason}
        WHERE session_id = ${session} AND socket_id = ${socket} AND left_at IS NULL
        RETURNING user_id, role, left_at
     ), others AS (
       -- IS DISTINCT FROM, not <>: a strict condition on socket_id would let the planner read
       -- the index of open stays by socket whole (see the PartialIndexesByKey migration).
       SELECT DISTINCT user_id FROM room_presence
        WHERE session_id = ${session} AND left_at IS NULL AND socket_id IS DISTINCT FROM ${socket}
     ), gone AS (
       SELECT c.user_id, c.role FROM closed c WHERE c.user_id NOT IN (SELECT user_id FROM others)
     ), emptied AS (
       -- As of the latest leave, which need not be this one: a leave written late (after an
       -- outage) may be older than one already written.
       UPDATE sessions SET room_emptied_at = GREATEST(
                (SELECT max(left_at) FROM closed),
                (SELECT max(left_at) FROM room_presence WHERE session_id = ${session}))
        WHERE id = ${session} AND status = 'In Progress'
          AND EXISTS (SELECT 1 FROM closed) AND NOT EXISTS (SELECT 1 FROM others)
     ), ${outboxCtes('participant.left', {
       eventId: args.add(randomUUID(), 'uuid'),
       sessionId: session,
       data: `jsonb_build_object('sessionId', ${session}, 'userId', g.user_id, 'role', g.role, 'at', ${at})`,
       source: 'gone g',
     })}
     SELECT (SELECT jsonb_build_object(
               'userId', c.user_id, 'stillPresent', c.user_id IN (SELECT user_id FROM others))
               FROM closed c)`;
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
export function lateStayStatement(input: {
  sessionId: string;
  socketId: string;
  instanceId: string;
  reason: LeaveReason;
  secondsAgo: number;
}): { text: string; values: (string | null)[] } {
  const args = new ArrayArgs();
  const session = args.add(input.sessionId, 'uuid');
  const socket = args.add(input.socketId, 'text');
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
       RETURNING left_at
     ), emptied AS (
       UPDATE sessions SET room_emptied_at = (SELECT left_at FROM late)
        WHERE id = ${session} AND status = 'In Progress'
          AND room_emptied_at < (SELECT left_at FROM late)
     )
     SELECT (SELECT count(*) FROM late)::int`;
  return { text, values: args.values };
}

/** An instance whose stays a bulk close ends, and as of when. */
export interface StoppedInstance {
  id: string;
  stopped_at: Date;
}

/**
 * The instances another instance may bury, locked (SKIP LOCKED: one that an instance is burying,
 * or whose own join is committing, is left to the next sweep). `$1` is the judge: it buries only
 * while its own beats have run unbroken for DEAD_AFTER_BEATS (see presence-rules.ts) up to now,
 * so silence nobody could break is never taken for death. They stop as of their last heartbeat.
 */
export const SELECT_DEAD_INSTANCES = {
  name: 'select-dead-instances',
  text: `SELECT d.id, d.heartbeat_at AS stopped_at FROM instances d
          WHERE d.stopped_at IS NULL AND d.id <> $1
            AND d.heartbeat_at < now() - make_interval(secs => d.heartbeat_seconds * $2::int)
            AND EXISTS (
              SELECT 1 FROM instances j
               WHERE j.id = $1 AND j.stopped_at IS NULL
                 AND j.reachable_since <= now() - make_interval(secs => j.heartbeat_seconds * $2::int)
                 AND j.heartbeat_at >= now() - make_interval(secs => j.heartbeat_seconds))
          ORDER BY d.id
          FOR UPDATE OF d SKIP LOCKED`,
  values: (judge: string) => [judge, DEAD_AFTER_BEATS],
};

/** This incarnation, locked, stopping now (a graceful shutdown). */
export const SELECT_SELF = {
  name: 'select-self-instance',
  text: `SELECT id, now() AS stopped_at FROM instances WHERE id = $1 AND stopped_at IS NULL FOR UPDATE`,
  values: (self: string) => [self],
};

/**
 * The sessions in which those instances have open stays, locked in id order (as every other
 * writer locks one session at a time, no deadlock), before the work's snapshot is taken: the
 * emptied time is then decided from every stay committed before.
 */
export function lockSessionsOfInstances(instances: readonly StoppedInstance[]): {
  text: string;
  values: unknown[];
} {
  return {
    // ARRAY(...) rather than IN (...): as a join, the planner could read the open stays of every
    // instance through their index by session.
    text: `SELECT s.id FROM sessions s
            WHERE s.id = ANY (ARRAY(SELECT p.session_id FROM room_presence p
                                     WHERE p.instance_id = ANY($1::uuid[])
                                       AND p.instance_id IS NOT NULL AND p.left_at IS NULL))
            ORDER BY s.id FOR UPDATE OF s`,
    values: [instances.map((i) => i.id)],
  };
}

/**
 * Stops instances and closes all their open stays, as of each one's stop time, with everything that
 * follows: the rooms left empty by it (auto-end counts from their latest leave), and
 * `participant.left` for each user who has no socket left in a room. One statement, in the
 * transaction that locked the instances and their sessions. Yields the users gone from each room.
 */
export function stopInstancesStatement(
  instances: readonly StoppedInstance[],
  reason: LeaveReason,
): { text: string; values: unknown[] } {
  const [ids, stops, why] = ['$1::uuid[]', '$2::timestamptz[]', '$3::text'];
  const text = `WITH stopping AS (
       SELECT * FROM unnest(${ids}, ${stops}) AS x(id, stop_at)
     ), stopped AS (
       UPDATE instances i SET stopped_at = x.stop_at FROM stopping x WHERE i.id = x.id
     ), closed AS (
       -- = ANY of the ids, rather than a join: each instance's open stays are read through its
       -- index, never the open stays of every instance. (IS NOT NULL: = ANY of a parameter does
       -- not prove the index's predicate to the planner.)
       UPDATE room_presence p
          SET left_at = GREATEST((SELECT x.stop_at FROM stopping x WHERE x.id = p.instance_id), p.joined_at),
              left_reason = ${why}
        WHERE p.instance_id = ANY (${ids}) AND p.instance_id IS NOT NULL AND p.left_at IS NULL
        RETURNING p.id, p.session_id, p.user_id, p.role, p.left_at
     ), rooms AS (
       -- Per room: the users still in it. Read by session, once per room (the statement's snapshot
       -- still sees the stays it closed open: those are left out by id).
       SELECT c.session_id, c.last_left,
              ARRAY(SELECT DISTINCT p.user_id FROM room_presence p
                     WHERE p.session_id = c.session_id AND p.left_at IS NULL
                       AND p.id <> ALL (c.closed_ids)) AS still
         FROM (SELECT session_id, array_agg(id) AS closed_ids, max(left_at) AS last_left
                 FROM closed GROUP BY session_id) c
     ), gone AS (
       SELECT c.session_id, c.user_id, min(c.role) AS role, max(c.left_at) AS left_at
         FROM closed c JOIN rooms r ON r.session_id = c.session_id
        WHERE NOT c.user_id = ANY (r.still)
        GROUP BY c.session_id, c.user_id
     ), emptied AS (
       -- As of the room's latest leave: it may be a stay closed before, later than these.
       UPDATE sessions s
          SET room_emptied_at = GREATEST(
                (SELECT r.last_left FROM rooms r WHERE r.session_id = s.id),
                (SELECT max(p.left_at) FROM room_presence p WHERE p.session_id = s.id))
        WHERE s.id = ANY (ARRAY(SELECT session_id FROM rooms WHERE cardinality(still) = 0))
          AND s.status = 'In Progress'
     ), ${outboxCtes('participant.left', {
       eventId: 'gen_random_uuid()',
       sessionId: 'g.session_id',
       data: `jsonb_build_object('sessionId', g.session_id, 'userId', g.user_id, 'role', g.role,
                'at', ${isoOf('g.left_at')})`,
       source: 'gone g',
     })}
     SELECT session_id AS "sessionId", user_id AS "userId" FROM gone`;
  return {
    text,
    values: [instances.map((i) => i.id), instances.map((i) => i.stopped_at), reason],
  };
}

/** This incarnation's open stays, for comparing them with its live sockets. */
export const OPEN_STAYS_OF_INSTANCE = {
  name: 'open-stays-of-instance',
  text: `SELECT session_id AS "sessionId", socket_id AS "socketId" FROM room_presence
          WHERE instance_id = $1 AND left_at IS NULL`,
};
