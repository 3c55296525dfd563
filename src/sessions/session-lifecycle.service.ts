import { Injectable, Logger } from '@nestjs/common';
import { Sql, type Queryable } from '../database/sql.js';
import { SessionEvents, type SessionStatusChanged } from './session-events.js';
import { sessionRecordOf, type SessionRecord, type SessionRecordRow } from './session-record.js';
import type { SessionStatus, TransitionCause } from './session-transitions.js';
import { transitionStatement } from './sessions.sql.js';

export interface TransitionInput {
  sessionId: string;
  cause: TransitionCause;
  /** The person who acted; null when the system did (auto-start, auto-end, ...). */
  actorId: string | null;
  /** The service key that acted (actorId then null). */
  actorKeyId?: string | null;
  /** For an end: when the call really ended (auto-end: the last leave). Defaults to now. */
  endedAt?: Date;
  /** For a cancel. */
  reason?: string | null;
}

type TransitionRow = SessionRecordRow & { from_status: SessionStatus; at: Date };

/** A transition that happened, and the session as it left it. */
export interface AppliedTransition {
  change: SessionStatusChanged;
  session: SessionRecord;
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
    private readonly events: SessionEvents,
    private readonly sql: Sql,
  ) {}

  /**
   * Applies and publishes a transition on its own: one statement, so one round trip (a single
   * statement is atomic, no transaction around it is needed). Null when the session was not in a
   * `from` status.
   */
  async apply(input: TransitionInput): Promise<AppliedTransition | null> {
    const { name, text, values } = transitionStatement(input);
    const [row] = await this.sql.rows<TransitionRow>(name, text, values);
    if (!row) {
      return null;
    }
    const applied = { change: this.changeOf(input, row), session: sessionRecordOf(row) };
    this.publish(applied.change);
    return applied;
  }

  /**
   * Applies a transition inside the caller's transaction (`manager` is transactional). The caller
   * publishes the returned change with `publish` after its commit, so nobody hears of a change
   * that was rolled back.
   */
  async applyWithin(
    manager: Queryable,
    input: TransitionInput,
  ): Promise<SessionStatusChanged | null> {
    const { text, values } = transitionStatement(input);
    const [row] = await manager.query<TransitionRow[]>(text, values);
    return row ? this.changeOf(input, row) : null;
  }

  /**
   * The change reported by a transition that ran inside a larger statement (its `transitionParts`
   * row, as jsonb there). The caller publishes it.
   */
  changeOfJson(input: TransitionInput, json: Record<string, unknown>): SessionStatusChanged {
    const date = (value: unknown) => (typeof value === 'string' ? new Date(value) : null);
    return this.changeOf(input, {
      ...(json as unknown as TransitionRow),
      at: date(json.at)!,
      video_call_started: date(json.video_call_started),
      video_call_ended: date(json.video_call_ended),
    });
  }

  publish(change: SessionStatusChanged): void {
    this.events.emitStatusChanged(change);
  }

  private changeOf(input: TransitionInput, row: TransitionRow): SessionStatusChanged {
    const change: SessionStatusChanged = {
      sessionId: input.sessionId,
      clientId: row.client_id,
      psychologistId: row.psychologist_id,
      from: row.from_status,
      to: row.status,
      cause: input.cause,
      actorId: input.actorId,
      at: row.at,
      videoCallStarted: row.video_call_started,
      videoCallEnded: row.video_call_ended,
      duration: row.call_duration_minutes,
    };
    this.warnOnOddDuration(change);
    return change;
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
