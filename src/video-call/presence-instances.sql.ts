import { BEAT_RUN_GAP_BEATS, DEAD_AFTER_BEATS } from './presence-rules.js';
import type { LeaveReason } from './presence-stays.sql.js';
import { participantLeftCtes } from './presence-stays.sql.js';
import { roomEmptiedCte } from './room-emptied.sql.js';

/**
 * The SQL of instances (presence-rules.ts): registering an incarnation, its beats, and stopping
 * incarnations - buried by another, or shut down - with all their stays.
 */

/** A new incarnation, with its beat period and the process that holds it (host:pid). */
export const REGISTER_INSTANCE = {
  name: 'register-instance',
  text: `INSERT INTO instances (id, heartbeat_seconds, process) VALUES ($1, $2, $3)`,
};

/**
 * A beat: `reachable_since` carries on while beats come at most BEAT_RUN_GAP_BEATS apart and
 * starts again after a longer gap, so only an unbroken run lets an instance judge others. No row:
 * the incarnation is stopped or gone (buried).
 */
export const INSTANCE_BEAT = {
  name: 'instance-beat',
  text: `UPDATE instances
          SET heartbeat_at = now(),
              reachable_since = CASE
                WHEN heartbeat_at >= now() - make_interval(secs => heartbeat_seconds * $2::int)
                THEN reachable_since ELSE now() END
        WHERE id = $1 AND stopped_at IS NULL
        RETURNING 1`,
  values: (self: string) => [self, BEAT_RUN_GAP_BEATS],
};

/** An instance whose stays a bulk close ends, and as of when. */
export interface StoppedInstance {
  id: string;
  stopped_at: Date;
}

/**
 * The instances another instance may bury, locked (SKIP LOCKED: one that an instance is burying,
 * or whose own join is committing, is left to the next sweep). `$1` is the judge: it buries only
 * while its own beats have run unbroken for DEAD_AFTER_BEATS up to now, so silence nobody could
 * break is never taken for death.
 *
 * They stop as of their last heartbeat, unless nobody watched the database through their silence
 * (see presence-rules.ts, "as of when"): when no live instance's run reaches back to that
 * heartbeat and one of them lost its run after it (an outage they all lived through), the dead
 * one may have held its sockets until then, and stops as of the first moment a live instance's
 * run began again.
 */
export const SELECT_DEAD_INSTANCES = {
  name: 'select-dead-instances',
  text: `SELECT d.id,
                CASE WHEN EXISTS (SELECT 1 FROM instances w
                                   WHERE w.stopped_at IS NULL AND w.id <> d.id
                                     AND w.reachable_since <= d.heartbeat_at
                                     AND w.heartbeat_at >= now() - make_interval(secs => w.heartbeat_seconds * $3::int))
                       OR NOT EXISTS (SELECT 1 FROM instances b
                                       WHERE b.stopped_at IS NULL AND b.id <> d.id
                                         AND b.reachable_since > b.started_at
                                         AND b.reachable_since > d.heartbeat_at)
                     THEN d.heartbeat_at
                     ELSE (SELECT min(w.reachable_since) FROM instances w
                            WHERE w.stopped_at IS NULL AND w.id <> d.id
                              AND w.heartbeat_at >= now() - make_interval(secs => w.heartbeat_seconds * $3::int))
                END AS stopped_at
           FROM instances d
          WHERE d.stopped_at IS NULL AND d.id <> $1
            AND d.heartbeat_at < now() - make_interval(secs => d.heartbeat_seconds * $2::int)
            AND EXISTS (
              SELECT 1 FROM instances j
               WHERE j.id = $1 AND j.stopped_at IS NULL
                 AND j.reachable_since <= now() - make_interval(secs => j.heartbeat_seconds * $2::int)
                 AND j.heartbeat_at >= now() - make_interval(secs => j.heartbeat_seconds))
          ORDER BY d.id
          FOR UPDATE OF d SKIP LOCKED`,
  values: (judge: string) => [judge, DEAD_AFTER_BEATS, BEAT_RUN_GAP_BEATS],
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
 * emptied time is then decided from every stay committed before. ARRAY(...) rather than IN
 * (...): as a join, the planner could read the open stays of every instance through their index
 * by session.
 */
export const LOCK_SESSIONS_OF_INSTANCES = `SELECT s.id FROM sessions s
            WHERE s.id = ANY (ARRAY(SELECT p.session_id FROM room_presence p
                                     WHERE p.instance_id = ANY($1::uuid[])
                                       AND p.instance_id IS NOT NULL AND p.left_at IS NULL))
            ORDER BY s.id FOR UPDATE OF s`;

/**
 * Stops instances and closes all their open stays, as of each one's stop time, with everything that
 * follows: the rooms left empty by it, and `participant.left` for each user who has no socket left
 * in a room. One statement, in the transaction that locked the instances and their sessions
 * (`$1` ids, `$2` stop times, `$3` the reason). Yields the users gone from each room, each with
 * the session's other participant (who hears of it wherever they are).
 */
export const STOP_INSTANCES = `WITH stopping AS (
       SELECT * FROM unnest($1::uuid[], $2::timestamptz[]) AS x(id, stop_at)
     ), stopped AS (
       UPDATE instances i SET stopped_at = x.stop_at FROM stopping x WHERE i.id = x.id
     ), closed AS (
       -- = ANY of the ids, rather than a join: each instance's open stays are read through its
       -- index, never the open stays of every instance. (IS NOT NULL: = ANY of a parameter does
       -- not prove the index's predicate to the planner.)
       UPDATE room_presence p
          SET left_at = GREATEST((SELECT x.stop_at FROM stopping x WHERE x.id = p.instance_id), p.joined_at),
              left_reason = $3::text
        WHERE p.instance_id = ANY ($1::uuid[]) AND p.instance_id IS NOT NULL AND p.left_at IS NULL
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
     ), empty_rooms AS (
       SELECT session_id, last_left AS left_at FROM rooms WHERE cardinality(still) = 0
     ), ${roomEmptiedCte('empty_rooms')},
     ${participantLeftCtes('gone')}
     SELECT g.session_id AS "sessionId", g.user_id AS "userId",
            CASE WHEN s.client_id = g.user_id THEN s.psychologist_id ELSE s.client_id END
              AS "otherUserId"
       FROM gone g JOIN sessions s ON s.id = g.session_id`;

/** The arguments of STOP_INSTANCES. */
export function stopInstancesValues(
  instances: readonly StoppedInstance[],
  reason: LeaveReason,
): unknown[] {
  return [instances.map((i) => i.id), instances.map((i) => i.stopped_at), reason];
}
