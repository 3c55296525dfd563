import { Injectable, Logger } from '@nestjs/common';
import type { Namespace } from 'socket.io';
import { DomainError } from '../common/errors/domain-error.js';
import { warnDatabaseUnavailable } from '../database/outage-log.js';
import type { SessionStatusChanged } from '../sessions/session-events.js';
import { isTerminal } from '../sessions/session-transitions.js';
import {
  PresenceService,
  type JoinedSession,
  type JoinResult,
  type LocalMember,
} from './presence.service.js';
import { sessionOfRoom, sessionRoom, userRoom } from './room-names.js';
import { RoomParties } from './room-parties.service.js';
import type { RoomSocket } from './room-socket.js';

/**
 * Which of this instance's sockets are in which session's room, kept in step with presence: a
 * socket enters a room when presence lets it in and leaves it when its stay closes; room commands
 * of one socket apply in the order sent. The rooms themselves are Socket.io's (shared across
 * instances by the adapter); the only state kept here is the namespace to reach them.
 */
@Injectable()
export class RoomMembership {
  private readonly logger = new Logger(RoomMembership.name);
  private namespace?: Namespace;

  constructor(
    private readonly presence: PresenceService,
    private readonly parties: RoomParties,
  ) {}

  /**
   * Every way a socket leaves a session's room - its own leave-room, a disconnect, the end of the
   * session, a failed join - is learnt here, from the namespace's adapter, at the moment it
   * happens (socket.io leaves every room of a socket that disconnects): the departure is
   * remembered with that moment and written (see PresenceService.depart). One listener for all
   * sockets, rather than a `disconnect` listener on each.
   */
  attach(namespace: Namespace): void {
    this.namespace = namespace;
    namespace.adapter.on('leave-room', (room: string, id: string) => {
      const sessionId = sessionOfRoom(room);
      if (sessionId) {
        this.departed(sessionId, id);
      }
    });
    namespace.adapter.on('delete-room', (room: string) => {
      const sessionId = sessionOfRoom(room);
      if (sessionId) {
        this.parties.forget(sessionId);
      }
    });
  }

  private socket(socketId: string): RoomSocket | undefined {
    return this.namespace?.sockets.get(socketId) as RoomSocket | undefined;
  }

  /** Whether the socket may signal into the session's room: in it, and not ahead of its verdict. */
  isMember(socket: RoomSocket, sessionId: string): boolean {
    return socket.rooms.has(sessionRoom(sessionId)) && socket.data.entering !== sessionId;
  }

  /**
   * Where a member's signal goes: the room's other sockets, less the sender's own (its user room)
   * or, addressed `to` a user, less those of the session's other participant. A room holds only
   * the session's two participants, so that is exactly the `to` user's sockets in the room, with
   * no room per user and session. A `to` who is not a participant reaches nobody: undefined.
   */
  signalAudience(
    sessionId: string,
    from: string,
    to: string | undefined,
  ): { room: string; except: string } | undefined {
    const room = sessionRoom(sessionId);
    if (to === undefined) {
      return { room, except: userRoom(from) };
    }
    // Known for any room a member is in: its join was admitted on this instance.
    const parties = this.parties.of(sessionId);
    if (!parties?.includes(to)) {
      return undefined;
    }
    return { room, except: userRoom(parties[0] === to ? parties[1] : parties[0]) };
  }

  private departed(sessionId: string, socketId: string): void {
    const reason = this.socket(socketId)?.data.leaving === sessionId ? 'leave' : 'disconnect';
    this.presence.depart(sessionId, socketId, reason).catch((error: unknown) => {
      // Remembered: written at the next beat. The leave-room command reports it to its caller.
      if (reason !== 'disconnect') {
        return;
      }
      if (error instanceof DomainError && error.code === 'UNAVAILABLE') {
        warnDatabaseUnavailable('departures', error);
      } else {
        this.logger.warn(`departure of socket ${socketId} not written yet: ${String(error)}`);
      }
    });
  }

  /**
   * The sockets of this instance in session rooms, as presence should record them. A socket with
   * a join or leave in flight is left out: its own command writes its presence.
   */
  members(): LocalMember[] {
    const members: LocalMember[] = [];
    for (const socket of (this.namespace?.sockets.values() ?? []) as Iterable<RoomSocket>) {
      if (socket.data.roomCommands) {
        continue;
      }
      for (const room of socket.rooms) {
        const sessionId = sessionOfRoom(room);
        if (sessionId) {
          members.push({ sessionId, socketId: socket.id, user: socket.data.user });
        }
      }
    }
    return members;
  }

  /** Whether the socket has a join or leave in flight (or is gone): presence is its command's. */
  isBusy(socketId: string): boolean {
    return this.socket(socketId)?.data.roomCommands !== undefined;
  }

  /**
   * Records again the stay of a member that presence lost (see PresenceService.restore), in the
   * socket's order of room commands. When the session is over, the socket leaves the room and
   * `evicted` tells it the session's state: it is never kept in a room that presence has forgotten.
   */
  async restore(
    member: LocalMember,
    evicted: (socket: RoomSocket, session: JoinedSession) => void,
  ): Promise<'restored' | 'evicted' | 'gone'> {
    const socket = this.socket(member.socketId);
    if (!socket) {
      return 'gone';
    }
    return this.inOrder(socket, async () => {
      const { sessionId } = member;
      if (!socket.rooms.has(sessionRoom(sessionId))) {
        return 'gone';
      }
      const refused = await this.presence.restore(sessionId, socket.data.user, socket.id);
      if (!refused) {
        return 'restored';
      }
      await socket.leave(sessionRoom(sessionId));
      if (refused.session) {
        evicted(socket, refused.session);
      }
      return 'evicted';
    });
  }

  /** join-room, after the socket's earlier room commands. */
  join(socket: RoomSocket, sessionId: string): Promise<JoinResult> {
    return this.inOrder(socket, () => this.enter(socket, sessionId));
  }

  /** leave-room, after the socket's earlier room commands. */
  leave(socket: RoomSocket, sessionId: string): Promise<void> {
    return this.inOrder(socket, async () => {
      // A socket that is not in the room has no open stay there (it enters the room before its
      // stay commits, and leaves it when the stay closes): nothing to do, and no row to lock.
      if (!socket.rooms.has(sessionRoom(sessionId))) {
        return;
      }
      // Out of the room at once, whatever the database says: the leave is remembered with
      // this moment (see departed), and the caller learns whether it is written.
      socket.data.leaving = sessionId;
      try {
        await socket.leave(sessionRoom(sessionId));
      } finally {
        socket.data.leaving = undefined;
      }
      await this.presence.departure(sessionId, socket.id);
    });
  }

  /** A session that ended: its members leave its rooms (their stays close as they leave). */
  closeIfEnded(change: SessionStatusChanged): void {
    if (!isTerminal(change.to) || !this.namespace) {
      return;
    }
    const room = sessionRoom(change.sessionId);
    this.namespace.in(room).socketsLeave(room);
  }

  /**
   * Only those allowed in may hear the room, and a joiner must hear every status change that
   * follows its join. A socket normally enters the room once the join's checks have passed and
   * before it commits (two round trips). A socket that is in the room already, or whose user is
   * one of the session's two participants (see RoomParties), enters first and the join commits
   * in one round trip: such a socket may hear its own session's events for the moment a refusal
   * takes, never a stranger's; its signals wait for the verdict.
   */
  private async enter(socket: RoomSocket, sessionId: string): Promise<JoinResult> {
    const { user } = socket.data;
    const room = sessionRoom(sessionId);
    const wasIn = socket.rooms.has(room);
    const early = !wasIn && this.parties.mayEnterEarly(sessionId, user.id);
    try {
      let joined: JoinResult;
      if (wasIn || early) {
        if (early) {
          await socket.join(room);
          socket.data.entering = sessionId;
        }
        try {
          joined = await this.presence.join(sessionId, user, socket.id);
        } finally {
          socket.data.entering = undefined;
        }
      } else {
        joined = await this.presence.join(sessionId, user, socket.id, (parties) => {
          const entered = socket.join(room);
          // Known from the moment the socket is in the room, so its signals can be routed (see
          // signalAudience), and forgotten with the room. A socket gone meanwhile is let into no
          // room (Socket.io makes its join a no-op): nothing to remember, nothing would forget it.
          if (socket.rooms.has(room)) {
            this.parties.remember(sessionId, parties);
          }
          return entered;
        });
      }
      if (socket.disconnected) {
        // The socket went away while its join was being committed: its departure may have been
        // written before the stay existed, which would leave the stay open. Closed here (closing
        // it twice is a no-op).
        await this.presence.depart(sessionId, socket.id, 'disconnect');
      }
      return joined;
    } catch (error) {
      if (!wasIn) {
        void socket.leave(room);
      }
      throw error;
    }
  }

  /**
   * Runs a room command after the socket's previous one has finished: a join and a leave sent
   * back to back apply in that order (concurrently, the later could commit first).
   */
  private inOrder<T>(socket: RoomSocket, command: () => Promise<T>): Promise<T> {
    const previous = socket.data.roomCommands ?? Promise.resolve();
    const result = previous.then(command);
    const settled = result.then(
      () => undefined,
      () => undefined,
    );
    socket.data.roomCommands = settled;
    void settled.then(() => {
      if (socket.data.roomCommands === settled) {
        socket.data.roomCommands = undefined;
      }
    });
    return result;
  }
}
