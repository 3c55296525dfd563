import { Injectable } from '@nestjs/common';
import type { JoinResult } from './presence.service.js';

/**
 * Which joins may enter a session's room ahead of their verdict: the client and psychologist of
 * each session whose room has sockets on this instance, learnt from its joins (who takes part in
 * a session never changes) and forgotten with the room. Such a join takes one round trip instead
 * of two (see RoomMembership.join). A cache of this instance's rooms: another instance learns its
 * own, and a miss only costs the second round trip.
 */
@Injectable()
export class EarlyRoomEntry {
  private readonly roomParties = new Map<string, JoinResult['parties']>();

  /** Whether the user is known to be one of the session's two participants. */
  mayEnterEarly(sessionId: string, userId: string): boolean {
    return this.roomParties.get(sessionId)?.includes(userId) ?? false;
  }

  /** A join committed while its socket is in the room. */
  remember(sessionId: string, parties: JoinResult['parties']): void {
    this.roomParties.set(sessionId, parties);
  }

  /** The room has no socket left on this instance. */
  forget(sessionId: string): void {
    this.roomParties.delete(sessionId);
  }
}
