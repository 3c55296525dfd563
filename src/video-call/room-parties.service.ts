import { Injectable } from '@nestjs/common';
import type { SessionParties } from './presence.service.js';

/**
 * The client and psychologist of each session whose room has sockets on this instance, learnt as
 * an admitted join's socket enters the room (who takes part in a session never changes) and
 * forgotten with the room. Every socket in a room entered it that way, so the parties of any room
 * a socket is in are known: signals are routed with them (see RoomMembership.signalAudience), and
 * a join of one of them may enter the room ahead of its verdict, in one round trip instead of two
 * (see RoomMembership.join). Another instance learns its own rooms' parties.
 */
@Injectable()
export class RoomParties {
  private readonly parties = new Map<string, SessionParties>();

  /** The session's two participants, while its room has sockets on this instance. */
  of(sessionId: string): SessionParties | undefined {
    return this.parties.get(sessionId);
  }

  /** Whether the user is known to be one of the session's two participants. */
  mayEnterEarly(sessionId: string, userId: string): boolean {
    return this.of(sessionId)?.includes(userId) ?? false;
  }

  /** An admitted join's socket is in the session's room. */
  remember(sessionId: string, parties: SessionParties): void {
    this.parties.set(sessionId, parties);
  }

  /** The room has no socket left on this instance. */
  forget(sessionId: string): void {
    this.parties.delete(sessionId);
  }
}
