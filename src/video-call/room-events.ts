import { Injectable } from '@nestjs/common';
import { Subject } from 'rxjs';

export type ParticipantRole = 'client' | 'psychologist';

/** `otherUserId`: the session's other participant, who hears of it even outside the room. */
export type RoomEvent =
  | {
      type: 'participant-joined';
      sessionId: string;
      userId: string;
      otherUserId: string;
      role: ParticipantRole;
      socketId: string;
    }
  | { type: 'participant-left'; sessionId: string; userId: string; otherUserId: string };

/**
 * Presence changes that the room should hear of, whoever noticed them: a socket on this
 * instance, or the sweep that buried a dead instance's participants. LiveEvents emits them.
 */
@Injectable()
export class RoomEvents {
  private readonly events = new Subject<RoomEvent>();

  readonly events$ = this.events.asObservable();

  emit(event: RoomEvent): void {
    this.events.next(event);
  }
}
