import { Inject, Injectable } from '@nestjs/common';
import type { AuthUser } from '../auth/auth-user.js';
import { DomainError } from '../common/errors/domain-error.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { SessionView } from '../sessions/dto/session.views.js';
import { SessionLifecycleService } from '../sessions/session-lifecycle.service.js';
import { assertRoomOpen } from '../sessions/session-policies.js';
import { roomEntryRefusal } from '../sessions/session-access.js';
import type { SessionRecord } from '../sessions/session-record.js';
import { transitionFor } from '../sessions/session-transitions.js';
import { SessionsService } from '../sessions/sessions.service.js';
import type { CallParticipantView, VideoCallView } from './dto/video-call.views.js';
import { PresenceService } from './presence.service.js';

@Injectable()
export class VideoCallService {
  constructor(
    private readonly sessions: SessionsService,
    private readonly lifecycle: SessionLifecycleService,
    private readonly presence: PresenceService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * Confirmed -> In Progress. Idempotent: when the call is already running (another participant
   * pressed start first), the caller gets the session unchanged and no second transition is made.
   * Before `JOIN_EARLY_MINUTES` ahead of the scheduled start: TOO_EARLY with `opensAt`.
   * `session` is the row the access guard read.
   */
  async start(session: SessionRecord, user: AuthUser): Promise<SessionView> {
    // The window is checked before the status (contract order); time only moves forward, so a
    // room found open stays open for the transition below.
    assertRoomOpen(session.scheduledStart, this.config.joinEarlyMinutes, new Date());
    const applied = await this.lifecycle.apply({
      sessionId: session.id,
      cause: 'start',
      actorId: user.id,
    });
    if (applied) {
      return SessionView.of(applied.session);
    }
    const current = await this.sessions.findOrFail(session.id);
    if (current.status === transitionFor('start').to) {
      return SessionView.of(current);
    }
    throw (
      roomEntryRefusal(current, user, new Date(), this.config.joinEarlyMinutes) ??
      new DomainError('INVALID_TRANSITION', `A call can start only when the session is Confirmed`)
    );
  }

  /** In Progress -> Completed. Idempotent on an already completed session. */
  async end(session: SessionRecord, user: AuthUser): Promise<SessionView> {
    const applied = await this.lifecycle.apply({
      sessionId: session.id,
      cause: 'end',
      actorId: user.id,
    });
    if (applied) {
      return SessionView.of(applied.session);
    }
    const current = await this.sessions.findOrFail(session.id);
    if (current.status !== transitionFor('end').to) {
      throw new DomainError(
        'INVALID_TRANSITION',
        `Only a call in progress can end; the session is ${current.status}`,
      );
    }
    return SessionView.of(current);
  }

  async details(session: SessionRecord): Promise<VideoCallView> {
    const present = await this.presence.currentStays(session.id);
    const party = (
      userId: string,
      role: 'client' | 'psychologist',
      name: string,
    ): CallParticipantView => {
      const since = present.get(userId);
      return {
        userId,
        role,
        name,
        present: since !== undefined,
        joinedAt: since?.toISOString() ?? null,
      };
    };
    return {
      ...SessionView.of(session),
      participants: [
        party(session.clientId, 'client', session.client?.name ?? ''),
        party(session.psychologistId, 'psychologist', session.psychologist?.name ?? ''),
      ],
      callSeconds: callSeconds(session, new Date()),
    };
  }
}

export function callSeconds(
  session: Pick<SessionRecord, 'videoCallStarted' | 'videoCallEnded'>,
  now: Date,
): number {
  if (!session.videoCallStarted) {
    return 0;
  }
  const end = session.videoCallEnded ?? now;
  return Math.max(0, Math.floor((end.getTime() - session.videoCallStarted.getTime()) / 1000));
}
