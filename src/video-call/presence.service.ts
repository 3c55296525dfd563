import { Injectable } from '@nestjs/common';
import type { AuthUser } from '../auth/auth-user.js';
import { InstanceStops } from './instance-stops.service.js';
import { PresenceDepartures, stayKey } from './presence-departures.service.js';
import {
  PresenceJoins,
  type JoinResult,
  type RestoreRefused,
  type SessionParties,
} from './presence-joins.service.js';
import type { LeaveReason } from './presence-stays.sql.js';

export type {
  JoinedSession,
  JoinResult,
  PresentParticipant,
  RestoreRefused,
  SessionParties,
} from './presence-joins.service.js';
export type { LeaveReason } from './presence-stays.sql.js';

/** A socket of this instance in a session's room. */
export interface LocalMember {
  sessionId: string;
  socketId: string;
  user: AuthUser;
}

/**
 * Who is in which room, kept in PostgreSQL so that every instance sees the same truth and a
 * status decision and the presence it depends on are read and written in one transaction.
 * Presence is per user: a user is present while at least one of their sockets is in the room.
 *
 * The one door of the gateway, the heartbeat and the services to presence: joins
 * (PresenceJoins), departures (PresenceDepartures: each instance is the authority on its own
 * sockets, and remembers a leave until it is written) and stops of instances (InstanceStops). On
 * every beat `PresenceHeartbeat` compares this instance's open stays with its sockets and
 * repairs either side.
 */
@Injectable()
export class PresenceService {
  constructor(
    private readonly joins: PresenceJoins,
    private readonly departures: PresenceDepartures,
    private readonly stops: InstanceStops,
  ) {}

  /**
   * Puts a socket in a session's room, in one statement under the session's row lock: checks who
   * may join, records the stay, and starts the call when both participants are now present.
   * `admitted` runs once the checks have passed and before the commit, with the session's two
   * participants: the transport's room is entered only by those allowed in, and before any later
   * status change can be announced (two round trips: the statement, then the COMMIT). Without it
   * the statement commits on its own, in one round trip: for a socket that is in the transport's
   * room already.
   */
  join(
    sessionId: string,
    user: AuthUser,
    socketId: string,
    admitted?: (parties: SessionParties) => void | Promise<void>,
  ): Promise<JoinResult> {
    return this.joins.join(sessionId, user, socketId, admitted);
  }

  /**
   * Records again the stay of a socket that is in the room on this instance but has no open stay
   * (its instance incarnation was declared dead, or the stay was closed while the socket stayed),
   * with the usual effects of a join. Refused when the session is over: the caller takes the
   * socket out of the room.
   */
  restore(sessionId: string, user: AuthUser, socketId: string): Promise<RestoreRefused | null> {
    return this.joins.restore(sessionId, user, socketId);
  }

  /**
   * A socket left a session's room (`reason`): remembered at once with the moment it went, then
   * written. Resolves true when a stay was closed, false when there was none; rejects UNAVAILABLE
   * when the database cannot be reached (the departure stays remembered, and the next beat writes
   * it with its real time).
   */
  depart(sessionId: string, socketId: string, reason: LeaveReason): Promise<boolean> {
    return this.departures.depart(sessionId, socketId, reason);
  }

  /** The write of a socket's departure in flight, if any (see `depart`). */
  departure(sessionId: string, socketId: string): Promise<boolean> | undefined {
    return this.departures.departure(sessionId, socketId);
  }

  /**
   * Closes a stay of this instance whose socket is no longer in the room: as of the moment it left
   * when that is remembered, else now (a stay whose leave was never seen, e.g. one committed while
   * its join was failing).
   */
  closeStale(sessionId: string, socketId: string): Promise<boolean> {
    return this.departures.closeStale(sessionId, socketId);
  }

  /**
   * Forgets the departures whose stays are not among `openStays` (written, or closed by someone
   * else), of those remembered before `readSince` (performance.now() when `openStays` was read).
   */
  forgetWritten(openStays: ReadonlySet<string>, readSince: number): void {
    this.departures.forgetWritten(openStays, readSince);
  }

  /** A beat sent at `sentAt` (performance.now()) found this instance alive: no burial before it. */
  aliveAt(sentAt: number): void {
    this.departures.aliveAt(sentAt);
  }

  /**
   * A beat found this instance buried, after its last beat that proved it alive (sent at `since`):
   * the sockets that left a room since then were in it until they left, not only until the
   * burial, and their stays are extended to that moment (see `lateStayStatement`) - those whose
   * departure was written already, and, for a few beats, those still to come (a socket's leave
   * may be heard only after the news of the burial).
   */
  buried(since: number): void {
    this.departures.buried(since);
  }

  /** This incarnation's open stays, as `sessionId socketId` keys. */
  openStays(): Promise<Set<string>> {
    return this.departures.openStays();
  }

  static keyOf(member: { sessionId: string; socketId: string }): string {
    return stayKey(member.sessionId, member.socketId);
  }

  /**
   * Buries the instances that stopped signing alive while this one could (see presence-rules.ts):
   * their stays end as of their last heartbeat. Returns how many were buried. Safe when several
   * instances sweep at once: each dead instance is taken by one.
   */
  sweepDeadInstances(): Promise<number> {
    return this.stops.sweepDeadInstances();
  }

  /** Graceful shutdown: this instance's sockets leave now; the grace period lets them rejoin elsewhere. */
  closeInstance(): Promise<void> {
    return this.stops.closeInstance();
  }

  /** userId -> start of the current stay, for the users in the session's room now. */
  currentStays(sessionId: string): Promise<Map<string, Date>> {
    return this.joins.currentStays(sessionId);
  }
}
