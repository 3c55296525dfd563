import { randomUUID } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { Sql, type Queryable } from '../database/sql.js';
import {
  PositionalArgs,
  sqlLiteral,
  sqlLiteralArray,
  type StatementArgs,
} from '../database/statement-args.js';
import { outboxCtes } from '../webhooks/webhooks.sql.js';
import { SessionEvents, type SessionStatusChanged } from './session-events.js';
import {
  SESSION_RECORD_COLUMNS,
  sessionRecordOf,
  type SessionRecord,
  type SessionRecordRow,
} from './session-record.js';
import {
  CONFIRMED_PAYMENT_STATUSES,
  isTerminal,
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

/**
 * The whole transition as one statement: lock the row, move it only from an allowed status (and
 * only when the cause's own conditions hold), write its history row and, when an endpoint wants
 * it, its webhook event and deliveries. No row back: the session was not in a `from` status (or
 * does not exist). Returned: the session after the change with both names, the old status and
 * the history row's time.
 */
function transitionStatement(input: TransitionInput): {
  name: string;
  text: string;
  values: unknown[];
} {
  const args = new PositionalArgs();
  const { ctes, select } = transitionParts(input, args);
  return { name: `transition:${input.cause}`, text: `WITH ${ctes} ${select}`, values: args.values };
}

/**
 * The transition's CTEs (`prev`, `moved`, `logged` and the outbox's, prefixed `status_`) and the
 * SELECT of its result, for a statement of its own or as part of a larger one (a room join that
 * starts the call). `when` is one more SQL condition for the move, over the statement's other
 * CTEs. The statuses and the cause come from the code's table and are written into the text, so
 * one cause is one statement text.
 */
export function transitionParts(
  input: TransitionInput,
  args: StatementArgs,
  when?: string,
): { ctes: string; select: string } {
  const rule = transitionFor(input.cause);
  const sessionId = args.add(input.sessionId, 'uuid');
  const actorId = args.add(input.actorId, 'uuid');
  const cause = sqlLiteral(input.cause);
  const set: string[] = [];
  const where: string[] = when ? [when] : [];
  switch (input.cause) {
    case 'start':
    case 'auto-start':
      set.push('video_call_started = now()');
      where.push(`s.payment_status = ANY(${sqlLiteralArray(CONFIRMED_PAYMENT_STATUSES)})`);
      break;
    case 'end':
    case 'auto-end':
    case 'max-duration': {
      const endedAt = `GREATEST(COALESCE(${args.add(input.endedAt ?? null, 'timestamptz')}, now()), s.video_call_started)`;
      set.push(
        `video_call_ended = ${endedAt}`,
        `call_duration_minutes = round(extract(epoch FROM ${endedAt} - s.video_call_started) / 60)`,
      );
      break;
    }
    case 'cancel':
      set.push(`cancel_reason = ${args.add(input.reason ?? null, 'text')}`);
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
  const ctes = `prev AS (
       SELECT id, status FROM sessions WHERE id = ${sessionId} FOR UPDATE
     ), moved AS (
       UPDATE sessions s
          SET status = ${sqlLiteral(rule.to)}, updated_at = now()${set.map((x) => `, ${x}`).join('')}
         FROM prev
        WHERE s.id = prev.id AND s.status = ANY(${sqlLiteralArray(rule.from)})${where.map((x) => ` AND ${x}`).join('')}
        RETURNING ${SESSION_RECORD_COLUMNS}, prev.status AS from_status
     ), logged AS (
       INSERT INTO session_status_changes (session_id, from_status, to_status, at, actor_id, cause)
       SELECT id, from_status, status, now(), ${actorId}, ${cause} FROM moved
       RETURNING at
     ),${
       isTerminal(rule.to)
         ? ` room_closed AS (
       -- A session that is over has no room: its stays end with it, in the same commit (the
       -- gateway takes the sockets out when it hears of the change).
       UPDATE room_presence SET left_at = GREATEST(now(), joined_at), left_reason = 'session-ended'
        WHERE session_id = ${sessionId} AND left_at IS NULL AND EXISTS (SELECT 1 FROM moved)
     ),`
         : ''
     }
     -- The webhook event commits with the change it reports, or not at all; written under the
     -- session's row lock, so its seq follows the order of the changes.
     ${outboxCtes('session.status_changed', {
       prefix: 'status_',
       eventId: args.add(randomUUID(), 'uuid'),
       sessionId: 'm.id',
       data: `jsonb_build_object(
                'sessionId', m.id, 'from', m.from_status, 'to', m.status, 'cause', ${cause},
                'actorId', ${actorId},
                'at', to_char(l.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))`,
       source: 'moved m CROSS JOIN logged l',
     })}`;
  const select = `SELECT m.*, l.at, c.name AS client_name, p.name AS psychologist_name
       FROM moved m
       CROSS JOIN logged l
       JOIN users c ON c.id = m.client_id
       JOIN users p ON p.id = m.psychologist_id`;
  return { ctes, select };
}
