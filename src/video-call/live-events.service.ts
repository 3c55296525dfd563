import { Injectable } from '@nestjs/common';
import type { Namespace } from 'socket.io';
import type { SessionStatusChanged, SessionUpdated } from '../sessions/session-events.js';
import type { RoomEvent } from './room-events.js';
import { sessionRoom, userRoom } from './room-names.js';
import type { RoomSocket } from './room-socket.js';

/**
 * Who hears what happens to a session: its room, and every socket of its two participants
 * wherever they are (their user rooms, joined at connect). One emit to all of those rooms at
 * once: Socket.io (and each instance behind the Redis adapter) sends it once to each socket in
 * any of them, so a socket in the room and in its user room gets one copy.
 */
export function sessionAudience(
  sessionId: string,
  clientId: string,
  psychologistId: string,
): string[] {
  return [sessionRoom(sessionId), userRoom(clientId), userRoom(psychologistId)];
}

/**
 * Where a participant's arrival or departure goes: the room, and the other participant's sockets
 * outside it (a dashboard shows "your client is waiting"); never the participant's own sockets.
 */
export function participantAudience(
  event: Pick<RoomEvent, 'sessionId' | 'userId' | 'otherUserId'>,
): { to: string[]; except: string } {
  return {
    to: [sessionRoom(event.sessionId), userRoom(event.otherUserId)],
    except: userRoom(event.userId),
  };
}

/**
 * The server-to-client events about sessions (`session-status`, `session-updated`,
 * `participant-joined`, `participant-left`), sent to those entitled to them and to nobody else:
 * the session's two participants. Admins and strangers are in neither the session's room (joins
 * are for its participants only) nor its participants' user rooms.
 */
@Injectable()
export class LiveEvents {
  private namespace?: Namespace;

  attach(namespace: Namespace): void {
    this.namespace = namespace;
  }

  /** Every socket enters its user's room as it connects, before it can hear anything. */
  connected(socket: RoomSocket): void {
    void socket.join(userRoom(socket.data.user.id));
  }

  statusChanged(change: SessionStatusChanged): void {
    this.namespace
      ?.to(sessionAudience(change.sessionId, change.clientId, change.psychologistId))
      .emit('session-status', {
        sessionId: change.sessionId,
        status: change.to,
        videoCallStarted: change.videoCallStarted?.toISOString() ?? null,
        videoCallEnded: change.videoCallEnded?.toISOString() ?? null,
        duration: change.duration,
      });
  }

  updated(update: SessionUpdated): void {
    this.namespace
      ?.to(sessionAudience(update.sessionId, update.clientId, update.psychologistId))
      .emit('session-updated', {
        sessionId: update.sessionId,
        scheduledStart: update.scheduledStart.toISOString(),
        durationMinutes: update.durationMinutes,
        paymentStatus: update.paymentStatus,
      });
  }

  roomEvent(event: RoomEvent): void {
    const { to, except } = participantAudience(event);
    const audience = this.namespace?.to(to).except(except);
    switch (event.type) {
      case 'participant-joined':
        audience?.emit('participant-joined', {
          sessionId: event.sessionId,
          userId: event.userId,
          role: event.role,
        });
        break;
      case 'participant-left':
        audience?.emit('participant-left', { sessionId: event.sessionId, userId: event.userId });
        break;
    }
  }
}
