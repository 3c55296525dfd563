import { Inject, Injectable } from '@nestjs/common';
import type { AuthUser } from '../auth/auth-user.js';
import { DomainError } from '../common/errors/domain-error.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { Sql } from '../database/sql.js';
import { roomEntryRefusal } from '../sessions/session-access.js';
import { roomsOpenStartingBy } from '../sessions/session-policies.js';
import { SessionLifecycleService } from '../sessions/session-lifecycle.service.js';
import type { PaymentStatus, SessionStatus } from '../sessions/session-transitions.js';
import { InstanceRegistry } from './instance-registry.service.js';
import { PresenceDepartures, unavailable } from './presence-departures.service.js';
import { CURRENT_STAYS, joinStatement } from './presence-stays.sql.js';
import { RoomEvents, type ParticipantRole } from './room-events.js';

export interface PresentParticipant {
  userId: string;
  role: ParticipantRole;
}

export interface JoinResult {
  sessionId: string;
  status: SessionStatus;
  participants: PresentParticipant[];
}

/** A session's client and psychologist, whether present or not. */
export type SessionParties = readonly [clientId: string, psychologistId: string];

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

/**
 * Sockets entering rooms: a join checks who may enter and records the stay in one statement
 * under the session's row lock (see `joinStatement`), and starts the call when both participants
 * are present (once, however many join at the same moment on however many instances).
 */
@Injectable()
export class PresenceJoins {
  constructor(
    private readonly sql: Sql,
    private readonly lifecycle: SessionLifecycleService,
    private readonly instance: InstanceRegistry,
    private readonly departures: PresenceDepartures,
    private readonly roomEvents: RoomEvents,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** See PresenceService.join. */
  async join(
    sessionId: string,
    user: AuthUser,
    socketId: string,
    admitted?: (parties: SessionParties) => void | Promise<void>,
  ): Promise<JoinResult> {
    // A leave of this socket not yet written (the database was down) is written first: the new
    // stay must not be taken for the old one, which would hide the time the socket was away.
    await this.departures.flush(sessionId, socketId);
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
    return {
      sessionId,
      status: this.announce(sessionId, user, socketId, outcome) ?? outcome.session!.status,
      participants: outcome.participants.map(({ userId, role }) => ({ userId, role })),
    };
  }

  /** See PresenceService.restore. */
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

  /** userId -> start of the current stay, for the users in the session's room now. */
  async currentStays(sessionId: string): Promise<Map<string, Date>> {
    const rows = await this.sql.rows<{ user_id: string; since: Date }>(
      CURRENT_STAYS.name,
      CURRENT_STAYS.text,
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
    admitted?: (parties: SessionParties) => void | Promise<void>,
  ): Promise<JoinOutcome> {
    const { text, values } = joinStatement({
      sessionId,
      userId: user.id,
      socketId,
      instanceId: this.instance.id,
      opensBy: roomsOpenStartingBy(now, this.config.joinEarlyMinutes),
      at: now,
      restore,
    });
    try {
      // With `admitted`, the verdict is known before the commit: the transport's room is entered
      // while the row is still locked, so a status change that follows this join is heard there.
      return verdict && admitted
        ? await this.sql.underSessionLock<JoinOutcome>(sessionId, text, values, async (o) => {
            verdict(o);
            await admitted([o.session!.client_id, o.session!.psychologist_id]);
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
    { session, participants, started }: JoinOutcome,
  ): SessionStatus | undefined {
    // Checked by the caller: the user is among the present, so the session exists.
    const me = participants.find((p) => p.userId === user.id)!;
    if (!me.wasPresent) {
      const { client_id: clientId, psychologist_id: psychologistId } = session!;
      this.roomEvents.emit({
        type: 'participant-joined',
        sessionId,
        userId: user.id,
        otherUserId: user.id === clientId ? psychologistId : clientId,
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
}
