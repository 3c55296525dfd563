import { Inject, Injectable, Logger } from '@nestjs/common';
import type { AuthUser } from '../auth/auth-user.js';
import { DomainError } from '../common/errors/domain-error.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { isDatabaseUnavailable } from '../database/postgres-errors.js';
import { Sql } from '../database/sql.js';
import { roomEntryRefusal } from '../sessions/session-access.js';
import { SessionLifecycleService } from '../sessions/session-lifecycle.service.js';
import type { PaymentStatus, SessionStatus } from '../sessions/session-transitions.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { InstanceRegistry } from './instance-registry.service.js';
import {
  joinStatement,
  lateStayStatement,
  leaveStatement,
  lockSessionsOfInstances,
  OPEN_STAYS_OF_INSTANCE,
  SELECT_DEAD_INSTANCES,
  SELECT_SELF,
  stopInstancesStatement,
  type LeaveReason,
  type StoppedInstance,
} from './presence.sql.js';
import { RoomEvents, type ParticipantRole } from './room-events.js';

export type { LeaveReason } from './presence.sql.js';

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
export interface JoinedSession {
  client_id: string;
  psychologist_id: string;
  status: SessionStatus;
  payment_status: PaymentStatus;
  scheduled_start: string;
  /** Read by a restore only. */
  video_call_started?: string | null;
  video_call_ended?: string | null;
  call_duration_minutes?: number | null;
}

interface JoinOutcome {
  /** null: no such session. */
  session: JoinedSession | null;
  /** Whether this instance's incarnation was alive for the statement. */
  live: boolean;
  /** Who is present now, the joiner included; empty when the join was refused. */
  participants: Array<PresentParticipant & { wasPresent: boolean }>;
  /** The auto-start's row when this join started the call. */
  started: Record<string, unknown> | null;
}

/** A restore that was refused: the session is over (or gone), the socket must leave the room. */
export interface RestoreRefused {
  session: JoinedSession | null;
}

/** A socket that left a room, remembered until its stay is known to be closed. */
interface Departure {
  sessionId: string;
  socketId: string;
  reason: LeaveReason;
  /** performance.now() when it left: a monotonic clock, so a late write keeps the real moment. */
  at: number;
  /** The write in flight, if any. */
  write?: Promise<boolean>;
}

/** A socket of this instance in a session's room. */
export interface LocalMember {
  sessionId: string;
  socketId: string;
  user: AuthUser;
}

const departureKey = (sessionId: string, socketId: string) => `${sessionId} ${socketId}`;

/** A database that cannot be reached is UNAVAILABLE to the caller; anything else is rethrown. */
function unavailable(error: unknown, message: string): unknown {
  return isDatabaseUnavailable(error) ? new DomainError('UNAVAILABLE', message) : error;
}

/**
 * Who is in which room, kept in PostgreSQL so that every instance sees the same truth and a
 * status decision and the presence it depends on are read and written in one transaction.
 * Presence is per user: a user is present while at least one of their sockets is in the room.
 *
 * Each instance is the authority on its own sockets, and presence is their record: a socket
 * that leaves is remembered here (with the moment it went) until its stay is written, so a leave
 * while the database is down is written, with its real time, once it is back; and on every beat
 * `PresenceHeartbeat` compares this instance's open stays with its sockets and repairs either side.
 */
@Injectable()
export class PresenceService {
  private readonly logger = new Logger(PresenceService.name);
  private readonly departures = new Map<string, Departure>();
  /** Set once the graceful shutdown has closed this instance's stays. */
  private closed = false;
  /**
   * Departures that found their stay closed already, since the last beat that proved this
   * instance alive: if the next beat says it was buried, the burial closed those stays too early.
   */
  private closedBeforeDeparture: Departure[] = [];
  /** Set for a few beats after a beat found this instance buried (see `buried`). */
  private burial?: { since: number; until: number };

  constructor(
    private readonly sql: Sql,
    private readonly lifecycle: SessionLifecycleService,
    private readonly instance: InstanceRegistry,
    private readonly roomEvents: RoomEvents,
    private readonly metrics: MetricsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

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
    // A leave of this socket not yet written (the database was down) is written first: the new
    // stay must not be taken for the old one, which would hide the time the socket was away.
    await this.flushDeparture(sessionId, socketId);
    const now = new Date();
    const verdict = ({ session, live, participants }: JoinOutcome) => {
      if (!session) {
        throw new DomainError('NOT_FOUND', `Session ${sessionId} does not exist`);
      }
      if (!live) {
        throw new DomainError('UNAVAILABLE', 'This server is re-registering: join again');
      }
      if (!participants.some((p) => p.userId === user.id)) {
        throw (
          roomEntryRefusal(
            {
              clientId: session.client_id,
              psychologistId: session.psychologist_id,
              paymentStatus: session.payment_status,
              status: session.status,
              scheduledStart: new Date(session.scheduled_start),
            },
            user,
            now,
            this.config.joinEarlyMinutes,
          ) ?? new DomainError('INVALID_TRANSITION', 'The room cannot be joined now')
        );
      }
    };
    const outcome = await this.enter(
      sessionId,
      user,
      socketId,
      false,
      now,
      admitted ? verdict : undefined,
      admitted,
    );
    if (!admitted) {
      // A refused join wrote nothing.
      verdict(outcome);
    }
    const session = outcome.session!;
    return {
      sessionId,
      status: this.announce(sessionId, user, socketId, outcome) ?? session.status,
      participants: outcome.participants.map(({ userId, role }) => ({ userId, role })),
      parties: [session.client_id, session.psychologist_id],
    };
  }

  /**
   * Records again the stay of a socket that is in the room on this instance but has no open stay
   * (its instance incarnation was declared dead, or the stay was closed while the socket stayed),
   * with the usual effects of a join. Refused when the session is over: the caller takes the
   * socket out of the room.
   */
  async restore(
    sessionId: string,
    user: AuthUser,
    socketId: string,
  ): Promise<RestoreRefused | null> {
    const outcome = await this.enter(sessionId, user, socketId, true, new Date());
    if (!outcome.live) {
      throw new DomainError('UNAVAILABLE', 'This server is re-registering');
    }
    if (!outcome.participants.some((p) => p.userId === user.id)) {
      return { session: outcome.session };
    }
    this.announce(sessionId, user, socketId, outcome);
    return null;
  }

  /**
   * A socket left a session's room (`reason`): remembered at once with the moment it went, then
   * written. Resolves true when a stay was closed, false when there was none; rejects UNAVAILABLE
   * when the database cannot be reached (the departure stays remembered, and the next beat writes
   * it with its real time).
   */
  depart(sessionId: string, socketId: string, reason: LeaveReason): Promise<boolean> {
    if (this.closed) {
      // The shutdown closed every stay of this instance: the sockets now going leave nothing open.
      return Promise.resolve(false);
    }
    const departure: Departure = { sessionId, socketId, reason, at: performance.now() };
    this.departures.set(departureKey(sessionId, socketId), departure);
    return this.writeDeparture(departure);
  }

  /** The write of a socket's departure in flight, if any (see `depart`). */
  departure(sessionId: string, socketId: string): Promise<boolean> | undefined {
    return this.departures.get(departureKey(sessionId, socketId))?.write;
  }

  /**
   * Closes a stay of this instance whose socket is no longer in the room: as of the moment it left
   * when that is remembered, else now (a stay whose leave was never seen, e.g. one committed while
   * its join was failing).
   */
  closeStale(sessionId: string, socketId: string): Promise<boolean> {
    const remembered = this.departures.get(departureKey(sessionId, socketId));
    return remembered
      ? this.writeDeparture(remembered)
      : this.depart(sessionId, socketId, 'disconnect');
  }

  /**
   * Forgets the departures whose stays are not among `openStays` (written, or closed by someone
   * else), of those remembered before `readSince` (performance.now() when `openStays` was read).
   */
  forgetWritten(openStays: ReadonlySet<string>, readSince: number): void {
    for (const [key, departure] of this.departures) {
      if (departure.at < readSince && !departure.write && !openStays.has(key)) {
        this.departures.delete(key);
      }
    }
  }

  /** A beat sent at `sentAt` (performance.now()) found this instance alive: no burial before it. */
  aliveAt(sentAt: number): void {
    this.closedBeforeDeparture = this.closedBeforeDeparture.filter((d) => d.at >= sentAt);
    if (this.burial && sentAt > this.burial.until) {
      this.burial = undefined;
    }
  }

  /**
   * A beat found this instance buried, after its last beat that proved it alive (sent at `since`):
   * the sockets that left a room since then were in it until they left, not only until the
   * burial, and their stays are extended to that moment (see `lateStayStatement`) - those whose
   * departure was written already, and, for a few beats, those still to come (a socket's leave
   * may be heard only after the news of the burial).
   */
  buried(since: number): void {
    this.burial = {
      since,
      until: performance.now() + 3 * this.config.presenceHeartbeatSeconds * 1000,
    };
    const late = this.closedBeforeDeparture.filter((d) => d.at >= since);
    this.closedBeforeDeparture = [];
    for (const departure of late) {
      void this.extendStay(departure);
    }
  }

  private async extendStay({ sessionId, socketId, reason, at }: Departure): Promise<void> {
    const { text, values } = lateStayStatement({
      sessionId,
      socketId,
      instanceId: this.instance.id,
      reason,
      secondsAgo: Math.max(0, performance.now() - at) / 1000,
    });
    try {
      if ((await this.sql.underSessionLock<number>(sessionId, text, values)) > 0) {
        this.metrics.presenceRepair('extended');
      }
    } catch (error) {
      this.logger.warn(`stay of socket ${socketId} not extended past its burial: ${String(error)}`);
    }
  }

  /** This incarnation's open stays, as `sessionId socketId` keys. */
  async openStays(): Promise<Set<string>> {
    const rows = await this.sql.rows<{ sessionId: string; socketId: string }>(
      OPEN_STAYS_OF_INSTANCE.name,
      OPEN_STAYS_OF_INSTANCE.text,
      [this.instance.id],
    );
    return new Set(rows.map((r) => departureKey(r.sessionId, r.socketId)));
  }

  static keyOf(member: { sessionId: string; socketId: string }): string {
    return departureKey(member.sessionId, member.socketId);
  }

  /**
   * Buries the instances that stopped signing alive while this one could (see presence-rules.ts):
   * their stays end as of their last heartbeat. Returns how many were buried. Safe when several
   * instances sweep at once: each dead instance is taken by one.
   */
  sweepDeadInstances(): Promise<number> {
    return this.stopInstances(
      SELECT_DEAD_INSTANCES.name,
      SELECT_DEAD_INSTANCES.text,
      SELECT_DEAD_INSTANCES.values(this.instance.id),
      'instance-lost',
    );
  }

  /** Graceful shutdown: this instance's sockets leave now; the grace period lets them rejoin elsewhere. */
  async closeInstance(): Promise<void> {
    this.closed = true;
    await this.stopInstances(
      SELECT_SELF.name,
      SELECT_SELF.text,
      SELECT_SELF.values(this.instance.id),
      'shutdown',
    );
  }

  /** userId -> start of the current stay, for the users in the session's room now. */
  async currentStays(sessionId: string): Promise<Map<string, Date>> {
    const rows = await this.sql.rows<{ user_id: string; since: Date }>(
      'current-stays',
      `SELECT user_id, min(joined_at) AS since FROM room_presence
        WHERE session_id = $1 AND left_at IS NULL GROUP BY user_id`,
      [sessionId],
    );
    return new Map(rows.map((r) => [r.user_id, r.since]));
  }

  /** The join statement, under the session's row lock; see `join`. */
  private async enter(
    sessionId: string,
    user: AuthUser,
    socketId: string,
    restore: boolean,
    now: Date,
    verdict?: (outcome: JoinOutcome) => void,
    admitted?: () => void | Promise<void>,
  ): Promise<JoinOutcome> {
    const { text, values } = joinStatement({
      sessionId,
      userId: user.id,
      socketId,
      instanceId: this.instance.id,
      opensBy: new Date(now.getTime() + this.config.joinEarlyMinutes * 60_000),
      at: now,
      restore,
    });
    try {
      // With `admitted`, the verdict is known before the commit: the transport's room is entered
      // while the row is still locked, so a status change that follows this join is heard there.
      return verdict && admitted
        ? await this.sql.underSessionLock<JoinOutcome>(sessionId, text, values, async (o) => {
            verdict(o);
            await admitted();
          })
        : await this.sql.underSessionLock<JoinOutcome>(sessionId, text, values);
    } catch (error) {
      throw unavailable(error, 'The database cannot be reached: join again in a moment');
    }
  }

  /** After a join's commit: the room hears of a user's first socket, and of an auto-start. */
  private announce(
    sessionId: string,
    user: AuthUser,
    socketId: string,
    { participants, started }: JoinOutcome,
  ): SessionStatus | undefined {
    // Checked by the caller: the user is among the present.
    const me = participants.find((p) => p.userId === user.id)!;
    if (!me.wasPresent) {
      this.roomEvents.emit({
        type: 'participant-joined',
        sessionId,
        userId: user.id,
        role: me.role,
        socketId,
      });
    }
    if (!started) {
      return undefined;
    }
    const change = this.lifecycle.changeOfJson(
      { sessionId, cause: 'auto-start', actorId: null },
      started,
    );
    this.lifecycle.publish(change);
    return change.to;
  }

  private async flushDeparture(sessionId: string, socketId: string): Promise<void> {
    const pending = this.departures.get(departureKey(sessionId, socketId));
    if (pending) {
      await (pending.write ?? this.writeDeparture(pending));
    }
  }

  /**
   * Writes a departure (one at a time per departure); forgets it once written, keeps it when the
   * write failed. Resolves whether a stay was closed.
   */
  private writeDeparture(departure: Departure): Promise<boolean> {
    if (departure.write) {
      return departure.write;
    }
    const key = departureKey(departure.sessionId, departure.socketId);
    const write = this.leave(departure).then(
      (closed) => {
        if (this.departures.get(key) === departure) {
          this.departures.delete(key);
        }
        if (closed) {
          // Nothing to extend.
        } else if (this.burial && departure.at >= this.burial.since) {
          void this.extendStay(departure);
        } else {
          this.closedBeforeDeparture.push(departure);
        }
        return closed;
      },
      (error: unknown) => {
        departure.write = undefined;
        throw unavailable(
          error,
          'The database cannot be reached: the leave is recorded, with its time, once it is back',
        );
      },
    );
    departure.write = write;
    return write;
  }

  /** Ends a socket's stay as of its departure; see `leaveStatement`. */
  private async leave({ sessionId, socketId, reason, at }: Departure): Promise<boolean> {
    const msAgo = Math.max(0, performance.now() - at);
    const { text, values } = leaveStatement({
      sessionId,
      socketId,
      reason,
      secondsAgo: msAgo / 1000,
      at: new Date(Date.now() - msAgo),
    });
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

  /**
   * Stops the instances `select` picks and locks, with all their stays and what follows from them,
   * in one transaction (see `stopInstancesStatement`). Returns how many instances were stopped.
   */
  private async stopInstances(
    name: string,
    select: string,
    values: unknown[],
    reason: LeaveReason,
  ): Promise<number> {
    const { stopped, gone } = await this.sql.transaction(async (tx) => {
      const instances = await tx.query<StoppedInstance[]>(select, values);
      if (instances.length === 0) {
        return { stopped: 0, gone: [] };
      }
      const lock = lockSessionsOfInstances(instances);
      await tx.query(lock.text, lock.values);
      const work = stopInstancesStatement(instances, reason);
      const left = await tx.query<{ sessionId: string; userId: string }[]>(work.text, work.values);
      return { stopped: instances.length, gone: left };
    });
    if (stopped > 0) {
      this.logger.log(
        `${name}: ${stopped} instance(s) stopped, ${gone.length} participant(s) left`,
      );
    }
    for (const { sessionId, userId } of gone) {
      this.roomEvents.emit({ type: 'participant-left', sessionId, userId });
    }
    return stopped;
  }
}
