import { Injectable, Logger } from '@nestjs/common';
import { InjectEntityManager } from '@nestjs/typeorm';
import type { EntityManager } from 'typeorm';
import { recordWebhookEvent } from '../webhooks/webhook-outbox.js';
import { SessionEvents, type SessionStatusChanged } from './session-events.js';
import {
  CONFIRMED_PAYMENT_STATUSES,
  transitionFor,
  type SessionStatus,
  type TransitionCause,
} from './session-transitions.js';

export interface TransitionInput {
  sessionId: string;
  cause: TransitionCause;
  /** The person who acted; null when the system did (auto-start, auto-end, ...). */
  actorId: string | null;
  /** For an end: when the call really ended (auto-end: the last leave). Defaults to now. */
  endedAt?: Date;
  /** For a cancel. */
  reason?: string | null;
}

interface TransitionRow {
  client_id: string;
  psychologist_id: string;
  from_status: SessionStatus;
  to_status: SessionStatus;
  at: Date;
  video_call_started: Date | null;
  video_call_ended: Date | null;
  call_duration_minutes: number | null;
}

const SHORT_CALL_SECONDS = 60;
const LONG_CALL_SECONDS = 4 * 3600;

/**
 * The one place a session's status changes. A transition is a single conditional UPDATE
 * (`WHERE id = $1 AND status = ANY($from)`) joined with the insert of its history row, so the
 * two commit together and concurrent callers cannot both succeed: the loser sees no row.
 */
@Injectable()
export class SessionLifecycleService {
  private readonly logger = new Logger(SessionLifecycleService.name);

  constructor(
    @InjectEntityManager() private readonly manager: EntityManager,
    private readonly events: SessionEvents,
  ) {}

  /** Applies and publishes a transition on its own; null when the session was not in a `from` status. */
  async apply(input: TransitionInput): Promise<SessionStatusChanged | null> {
    // A transaction of its own: the status change, its history row and its webhook event commit together.
    const change = await this.manager.transaction((m) => this.applyWithin(m, input));
    if (change) {
      this.publish(change);
    }
    return change;
  }

  /**
   * Applies a transition inside the caller's transaction (`manager` must be transactional: the
   * webhook outbox row is a second statement). The caller publishes the returned change
   * with `publish` after its commit, so nobody hears of a change that was rolled back.
   */
  async applyWithin(
    manager: EntityManager,
    input: TransitionInput,
  ): Promise<SessionStatusChanged | null> {
    const rule = transitionFor(input.cause);
    const params: unknown[] = [input.sessionId, rule.from, rule.to, input.actorId, input.cause];
    const set: string[] = [];
    const where: string[] = [];
    switch (input.cause) {
      case 'start':
      case 'auto-start':
        set.push('video_call_started = now()');
        params.push(CONFIRMED_PAYMENT_STATUSES);
        where.push(`s.payment_status = ANY($${params.length}::text[])`);
        break;
      case 'end':
      case 'auto-end':
      case 'max-duration':
        params.push(input.endedAt ?? null);
        set.push(
          `video_call_ended = GREATEST(COALESCE($${params.length}::timestamptz, now()), s.video_call_started)`,
          `call_duration_minutes = round(extract(epoch FROM GREATEST(COALESCE($${params.length}::timestamptz, now()), s.video_call_started) - s.video_call_started) / 60)`,
        );
        break;
      case 'cancel':
        params.push(input.reason ?? null);
        set.push(`cancel_reason = $${params.length}`);
        break;
      case 'no-show':
        // Who never came, from the presence record, fixed with the transition.
        set.push(
          `no_show_client = NOT EXISTS (SELECT 1 FROM room_presence rp WHERE rp.session_id = s.id AND rp.user_id = s.client_id)`,
          `no_show_psychologist = NOT EXISTS (SELECT 1 FROM room_presence rp WHERE rp.session_id = s.id AND rp.user_id = s.psychologist_id)`,
        );
        break;
      case 'payment':
        break;
    }
    const rows: TransitionRow[] = await manager.query(
      `WITH prev AS (
         SELECT id, status FROM sessions WHERE id = $1 FOR UPDATE
       ), moved AS (
         UPDATE sessions s
            SET status = $3, updated_at = now()${set.map((x) => `, ${x}`).join('')}
           FROM prev
          WHERE s.id = prev.id AND s.status = ANY($2::text[])${where.map((x) => ` AND ${x}`).join('')}
          RETURNING s.id, s.client_id, s.psychologist_id, prev.status AS from_status, s.status AS to_status,
                    s.video_call_started, s.video_call_ended, s.call_duration_minutes
       ), logged AS (
         INSERT INTO session_status_changes (session_id, from_status, to_status, at, actor_id, cause)
         SELECT id, from_status, to_status, now(), $4, $5 FROM moved
         RETURNING at
       )
       SELECT m.*, l.at FROM moved m CROSS JOIN logged l`,
      params,
    );
    const row = rows[0];
    if (!row) {
      return null;
    }
    const change: SessionStatusChanged = {
      sessionId: input.sessionId,
      clientId: row.client_id,
      psychologistId: row.psychologist_id,
      from: row.from_status,
      to: row.to_status,
      cause: input.cause,
      actorId: input.actorId,
      at: row.at,
      videoCallStarted: row.video_call_started,
      videoCallEnded: row.video_call_ended,
      duration: row.call_duration_minutes,
    };
    await recordWebhookEvent(manager, {
      type: 'session.status_changed',
      sessionId: change.sessionId,
      data: {
        sessionId: change.sessionId,
        from: change.from,
        to: change.to,
        cause: change.cause,
        actorId: change.actorId,
        at: change.at.toISOString(),
      },
    });
    this.warnOnOddDuration(change);
    return change;
  }

  publish(change: SessionStatusChanged): void {
    this.events.emitStatusChanged(change);
  }

  private warnOnOddDuration(change: SessionStatusChanged): void {
    if (change.to !== 'Completed' || !change.videoCallStarted || !change.videoCallEnded) {
      return;
    }
    const seconds = (change.videoCallEnded.getTime() - change.videoCallStarted.getTime()) / 1000;
    if (seconds < SHORT_CALL_SECONDS || seconds > LONG_CALL_SECONDS) {
      this.logger.warn(
        `call of session ${change.sessionId} lasted ${Math.round(seconds)} s (${change.cause}), outside 1 minute to 4 hours`,
      );
    }
  }
}
