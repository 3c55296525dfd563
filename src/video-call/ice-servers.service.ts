import { Inject, Injectable } from '@nestjs/common';
import type { AuthUser } from '../auth/auth-user.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { roomEntryRefusal, type RoomSession } from '../sessions/session-access.js';
import type { IceServersView } from './dto/ice-servers.views.js';
import { iceServersFor, type IceServerSettings } from './turn-credentials.js';

/**
 * Hands each participant the ICE servers of the deployment, with a TURN credential of their own.
 * Credentials are only returned to their user: never logged, never part of an event.
 */
@Injectable()
export class IceServersService {
  private readonly settings: IceServerSettings;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly metrics: MetricsService,
  ) {
    this.settings = {
      stunUrls: config.stunUrls,
      turn: config.turn,
      credentialTtlSeconds: config.turnCredentialTtlSeconds,
    };
  }

  /** For a user already admitted to a room (the join-room acknowledgement). */
  issue(user: AuthUser, via: 'rest' | 'join-room'): IceServersView {
    const { iceServers, expiresAt } = iceServersFor(this.settings, user.id, new Date());
    if (this.settings.turn) {
      this.metrics.turnCredentialIssued(via);
    }
    return { iceServers, expiresAt: expiresAt.toISOString() };
  }

  /**
   * For a user who may enter the session's room now: the same checks, in the same order, as
   * join-room, so a relay is never handed to someone who could not join the call it serves.
   */
  forRoom(session: RoomSession, user: AuthUser): IceServersView {
    const refusal = roomEntryRefusal(session, user, new Date(), this.config.joinEarlyMinutes);
    if (refusal) {
      throw refusal;
    }
    return this.issue(user, 'rest');
  }
}
