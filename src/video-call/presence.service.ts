import { randomUUID } from 'node:crypto';
import { Inject, Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Subscription } from 'rxjs';
import { DataSource } from 'typeorm';
import type { AuthUser } from '../auth/auth-user.js';
import { DomainError } from '../common/errors/domain-error.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { Sql, type Queryable } from '../database/sql.js';
import { ArrayArgs, sqlLiteralArray } from '../database/statement-args.js';
import { ACCESS, assertAccess } from '../sessions/session-access.js';
import { SessionEvents } from '../sessions/session-events.js';
import { SessionLifecycleService, transitionParts } from '../sessions/session-lifecycle.service.js';
import { assertRoomOpen } from '../sessions/session-policies.js';
import {
  CONFIRMED_PAYMENT_STATUSES,
  isTerminal,
  type PaymentStatus,
  type SessionStatus,
} from '../sessions/session-transitions.js';
import { outboxCtes, recordWebhookEvent } from '../webhooks/webhook-outbox.js';
import { InstanceRegistry } from './instance-registry.service.js';
import { RoomEvents, type ParticipantRole } from './room-events.js';

export type LeaveReason = 'leave' | 'disconnect' | 'instance-lost' | 'shutdown' | 'session-ended';

export interface PresentParticipant {
  userId: string;
  role: ParticipantRole;
}

export interface JoinResult {
  sessionId: string;
  status: SessionStatus;
  participants: PresentParticipant[];
  /** The session's client and psychologist, whether present or not. */
  parties: readonly [clientId: string, psychologistId: string];
}

/** The session's row as a join saw it (jsonb: times are strings). */
interface JoinedSession {
  client_id: string;
  psychologist_id: string;
  status: SessionStatus;
  payment_status: PaymentStatus;
  scheduled_start: string;
}

interface JoinOutcome {
  /** null: no such session. */
  session: JoinedSession | null;
  /** Who is present now, the joiner included; empty when the join was refused. */
  participants: Array<PresentParticipant & { wasPresent: boolean }>;
  /** The auto-start's row when this join started the call. */
  started: Record<string, unknown> | null;
}

/**
 * A room join as one statement, run under the session's row lock (`Sql.underSessionLock`), so
 * its snapshot sees every committed stay. The checks are conditions here (`admitted`): who may
 * join (a participant of the session), payment confirmed, the room open (`opensBy`: now plus
 * JOIN_EARLY_MINUTES, from the app's clock) and the status; a refused join writes nothing and
 * the caller explains the refusal from the session's row, with the same rules in code. When
 * admitted: the stay, the room no longer empty, `participant.joined` for a user's first socket,
 * and the auto-start when both participants are now present. Returns a `JoinOutcome`.
 */
function joinStatement(input: {
  sessionId: string;
  userId: string;
  socketId: string;
  instanceId: string;
  opensBy: Date;
  at: Date;
}): { text: string; values: (string | null)[] } {
  const args = new ArrayArgs();
  const session = args.add(input.sessionId, 'uuid');
  const user = args.add(input.userId, 'uuid');
  const socket = args.add(input.socketId, 'text');
  const instance = args.add(input.instanceId, 'uuid');
  const opensBy = args.add(input.opensBy, 'timestamptz');
  const at = args.add(input.at.toISOString(), 'text');
  const firstSocket = `NOT EXISTS (SELECT 1 FROM before WHERE user_id = ${user})`;
  const start = transitionParts(
    { sessionId: input.sessionId, cause: 'auto-start', actorId: null },
    args,
    '(SELECT count(*) FROM present) = 2',
  );
  const text = `WITH s AS (
       SELECT client_id, psychologist_id, status, payment_status, scheduled_start, room_emptied_at,
              CASE WHEN client_id = ${user} THEN 'client' ELSE 'psychologist' END AS role
         FROM sessions WHERE id = ${session}
     ), admitted AS (
       SELECT role FROM s
        WHERE ${user} IN (client_id, psychologist_id)
          AND payment_status = ANY(${sqlLiteralArray(CONFIRMED_PAYMENT_STATUSES)})
          AND scheduled_start <= ${opensBy}
          AND status IN ('Confirmed', 'In Progress')
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
       'participants', (SELECT COALESCE(jsonb_agg(jsonb_build_object(
           'userId', user_id, 'role', role, 'wasPresent', was_present) ORDER BY role), '[]')
         FROM present),
       'started', (SELECT to_jsonb(t) FROM (${start.select}) t))`;
  return { text, values: args.values };
}

/**
 * A socket's stay ends, as one statement under the session's row lock. Yields
 * `{userId, stillPresent}`, or null when the socket was not in the room. When it was the user's
 * last socket, `participant.left` is recorded; when it was the room's last socket and the call is
 * running, the room is empty from now (auto-end counts from here). The statement's snapshot
 * still sees the closed row open, hence the `socket_id <>` below.
 */
function leaveStatement(input: {
  sessionId: string;
  socketId: string;
  reason: LeaveReason;
  at: Date;
}): { text: string; values: (string | null)[] } {
  const args = new ArrayArgs();
  const session = args.add(input.sessionId, 'uuid');
  const socket = args.add(input.socketId, 'text');
  const reason = args.add(input.reason, 'text');
  const at = args.add(input.at.toISOString(), 'text');
  const text = `WITH closed AS (
       -- now() is when this transaction began: a join of the same socket may have committed
       -- since, with a later joined_at (the stay then lasted no time, and left_at >= joined_at).
       UPDATE room_presence SET left_at = GREATEST(now(), joined_at), left_reason = ${reason}
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
       -- As of the latest leave, which need not be this one: now() is when a transaction began,
       -- and one that began earlier may have taken the row lock later.
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
 * Who is in which room, kept in PostgreSQL so that every instance sees the same truth and a
 * status decision and the presence it depends on are read and written in one transaction.
 * Presence is per user: a user is present while at least one of their sockets is in the room.
 */
@Injectable()
export class PresenceService implements OnModuleInit, OnModuleDestroy {
  private subscription?: Subscription;

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly sql: Sql,
    private readonly lifecycle: SessionLifecycleService,
    private readonly instance: InstanceRegistry,
    private readonly roomEvents: RoomEvents,
    private readonly sessionEvents: SessionEvents,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    // A session that is over has no room: its members are taken out (the gateway drops the sockets).
    this.subscription = this.sessionEvents.statusChanged$.subscribe((change) => {
      if (isTerminal(change.to)) {
        void this.closeRoom(change.sessionId).catch(() => undefined);
      }
    });
  }

  onModuleDestroy(): void {
    this.subscription?.unsubscribe();
  }

  /**
   * Puts a socket in a session's room, in one statement under the session's row lock (see
   * `joinStatement`): checks who may join, records the stay, and starts the call when both
   * participants are now present (once, however many join at the same moment on however many
   * instances).
   * `admitted` runs once the checks have passed and before the commit: the transport's room is
   * entered only by those allowed in, and before any later status change can be announced (two
   * round trips: the statement, then the COMMIT). Without it the statement commits on its own, in
   * one round trip: for a socket that is in the transport's room already.
   */
  async join(
    sessionId: string,
    user: AuthUser,
    socketId: string,
    admitted?: () => void | Promise<void>,
  ): Promise<JoinResult> {
    const now = new Date();
    const { text, values } = joinStatement({
      sessionId,
      userId: user.id,
      socketId,
      instanceId: this.instance.id,
      opensBy: new Date(now.getTime() + this.config.joinEarlyMinutes * 60_000),
      at: now,
    });
    const verdict = ({ session, participants }: JoinOutcome) => {
      if (!session) {
        throw new DomainError('NOT_FOUND', `Session ${sessionId} does not exist`);
      }
      if (!participants.some((p) => p.userId === user.id)) {
        throw refusal(session, user, this.config.joinEarlyMinutes, now);
      }
    };
    // With `admitted`, the verdict is known before the commit: the transport's room is entered
    // while the row is still locked, so a status change that follows this join is heard there.
    const outcome = admitted
      ? await this.sql.underSessionLock<JoinOutcome>(sessionId, text, values, async (o) => {
          verdict(o);
          await admitted();
        })
      : await this.sql.underSessionLock<JoinOutcome>(sessionId, text, values);
    if (!admitted) {
      // A refused join wrote nothing.
      verdict(outcome);
    }
    const { participants: present, started } = outcome;
    const session = outcome.session!;
    const change = started
      ? this.lifecycle.changeOfJson({ sessionId, cause: 'auto-start', actorId: null }, started)
      : null;
    // Both checked by the verdict.
    const me = present.find((p) => p.userId === user.id)!;
    const status = change?.to ?? session.status;
    if (!me.wasPresent) {
      this.roomEvents.emit({
        type: 'participant-joined',
        sessionId,
        userId: user.id,
        role: me.role,
        socketId,
      });
    }
    if (change) {
      this.lifecycle.publish(change);
    }
    return {
      sessionId,
      status,
      participants: present.map(({ userId, role }) => ({ userId, role })),
      parties: [session.client_id, session.psychologist_id],
    };
  }

  /** Takes a socket out of a room. Returns false when it was not in it. */
  async leave(
    sessionId: string,
    socketId: string,
    reason: LeaveReason = 'leave',
  ): Promise<boolean> {
    const { text, values } = leaveStatement({ sessionId, socketId, reason, at: new Date() });
    const left = await this.sql.underSessionLock<{
      userId: string;
      stillPresent: boolean;
    } | null>(sessionId, text, values);
    if (!left) {
      return false;
    }
    if (!left.stillPresent) {
      this.roomEvents.emit({ type: 'participant-left', sessionId, userId: left.userId });
    }
    return true;
  }

  /** A socket of this instance went away: it leaves every room it was in. */
  async disconnect(socketId: string): Promise<void> {
    // By socket alone: socket ids are random and belong to the instance that made them, and a
    // condition on instance_id would offer the planner the index of the instance's open stays.
    const rows = await this.sql.rows<{ session_id: string }>(
      'open-stays-of-socket',
      `SELECT DISTINCT session_id FROM room_presence WHERE socket_id = $1 AND left_at IS NULL`,
      [socketId],
    );
    for (const { session_id } of rows) {
      await this.leave(session_id, socketId, 'disconnect');
    }
  }

  // UPDATE ... RETURNING is wrapped in a CTE throughout: TypeORM's query() answers a bare UPDATE
  // with [rows, count], a SELECT with rows.

  /**
   * Closes the presence of instances that stopped signing alive (3 missed beats), as of their last
   * heartbeat. Safe when several instances sweep at once: each dead instance is taken by one.
   */
  async sweepDeadInstances(): Promise<number> {
    const rows: { session_id: string; user_id: string }[] = await this.db.query(
      `WITH dead AS (
         SELECT id, heartbeat_at FROM instances
          WHERE stopped_at IS NULL AND heartbeat_at < now() - make_interval(secs => heartbeat_seconds * 3)
          FOR UPDATE SKIP LOCKED
       ), buried AS (
         UPDATE instances i SET stopped_at = d.heartbeat_at FROM dead d WHERE i.id = d.id
       ), closed AS (
         -- = ANY of the dead ids, rather than a join with dead: each instance's open stays are
         -- then read through its index, never the open stays of every instance.
         UPDATE room_presence p
            SET left_at = GREATEST((SELECT heartbeat_at FROM dead WHERE id = p.instance_id), p.joined_at),
                left_reason = 'instance-lost'
          WHERE p.instance_id = ANY (ARRAY(SELECT id FROM dead)) AND p.left_at IS NULL
          RETURNING p.session_id, p.user_id
       )
       SELECT session_id, user_id FROM closed`,
    );
    await this.afterBulkLeave(rows);
    return rows.length;
  }

  /** Graceful shutdown: this instance's sockets leave now; the grace period lets them rejoin elsewhere. */
  async closeInstance(): Promise<void> {
    const rows: { session_id: string; user_id: string }[] = await this.db.query(
      `WITH closed AS (
         UPDATE room_presence SET left_at = now(), left_reason = 'shutdown'
          WHERE instance_id = $1 AND left_at IS NULL
          RETURNING session_id, user_id
       )
       SELECT session_id, user_id FROM closed`,
      [this.instance.id],
    );
    await this.afterBulkLeave(rows);
  }

  /** userId -> start of the current stay, for the users in the session's room now. */
  async currentStays(sessionId: string): Promise<Map<string, Date>> {
    const rows: { user_id: string; since: Date }[] = await this.db.query(
      `SELECT user_id, min(joined_at) AS since FROM room_presence
        WHERE session_id = $1 AND left_at IS NULL GROUP BY user_id`,
      [sessionId],
    );
    return new Map(rows.map((r) => [r.user_id, r.since]));
  }

  private async closeRoom(sessionId: string): Promise<void> {
    await this.sql.rows(
      'close-room',
      `UPDATE room_presence SET left_at = now(), left_reason = 'session-ended'
        WHERE session_id = $1 AND left_at IS NULL`,
      [sessionId],
    );
  }

  private async afterBulkLeave(rows: { session_id: string; user_id: string }[]): Promise<void> {
    const bySession = new Map<string, Set<string>>();
    for (const r of rows) {
      bySession.set(r.session_id, (bySession.get(r.session_id) ?? new Set()).add(r.user_id));
    }
    for (const [sessionId, userIds] of bySession) {
      const present = await this.sql.transaction(async (m) => {
        const locked: { client_id: string }[] = await m.query(
          `SELECT client_id FROM sessions WHERE id = $1 FOR UPDATE`,
          [sessionId],
        );
        await this.markEmptyIfVacant(m, sessionId);
        const now = await this.presentUsers(m, sessionId);
        // The presence rows were closed by the sweep's own statement; the webhook event follows
        // here, under the session's lock so that it keeps its place among the session's events.
        for (const userId of userIds) {
          if (!now.some((p) => p.userId === userId)) {
            const role: ParticipantRole =
              locked[0]?.client_id === userId ? 'client' : 'psychologist';
            await this.recordLeft(m, sessionId, userId, role);
          }
        }
        return now;
      });
      for (const userId of userIds) {
        if (!present.some((p) => p.userId === userId)) {
          this.roomEvents.emit({ type: 'participant-left', sessionId, userId });
        }
      }
    }
  }

  private recordLeft(
    m: Queryable,
    sessionId: string,
    userId: string,
    role: ParticipantRole,
  ): Promise<void> {
    return recordWebhookEvent(m, {
      type: 'participant.left',
      sessionId,
      data: { sessionId, userId, role, at: new Date().toISOString() },
    });
  }

  private presentUsers(m: Queryable, sessionId: string): Promise<PresentParticipant[]> {
    return m.query(
      `SELECT DISTINCT user_id AS "userId", role FROM room_presence
        WHERE session_id = $1 AND left_at IS NULL ORDER BY role`,
      [sessionId],
    );
  }

  /**
   * When nobody is left in a started call's room, remember since when (the last leave): the
   * reconciler ends the call once that is longer ago than the grace period.
   */
  private async markEmptyIfVacant(m: Queryable, sessionId: string): Promise<void> {
    await m.query(
      `UPDATE sessions s
          SET room_emptied_at = (SELECT max(left_at) FROM room_presence WHERE session_id = s.id)
        WHERE s.id = $1 AND s.status = 'In Progress'
          AND NOT EXISTS (SELECT 1 FROM room_presence WHERE session_id = s.id AND left_at IS NULL)`,
      [sessionId],
    );
  }
}

/**
 * Why a join was refused, from the session's row as the join saw it: the same rules as the
 * statement's conditions, in the contract's order (role, membership, payment, room window,
 * status).
 */
function refusal(
  session: JoinedSession,
  user: AuthUser,
  joinEarlyMinutes: number,
  now: Date,
): DomainError {
  try {
    assertAccess(
      {
        clientId: session.client_id,
        psychologistId: session.psychologist_id,
        paymentStatus: session.payment_status,
      },
      user,
      ACCESS.start,
    );
    assertRoomOpen(new Date(session.scheduled_start), joinEarlyMinutes, now);
  } catch (error) {
    if (error instanceof DomainError) {
      return error;
    }
    throw error;
  }
  return new DomainError(
    'INVALID_TRANSITION',
    `The room is open only while the session is Confirmed or In Progress; it is ${session.status}`,
  );
}
