import { Injectable } from '@nestjs/common';
import { actorOf, type AuthUser } from '../auth/auth-user.js';
import type { UserRole } from '../auth/user.entity.js';
import { DomainError } from '../common/errors/domain-error.js';
import { Sql } from '../database/sql.js';
import type {
  BookSessionDto,
  CancelSessionDto,
  ConfirmPaymentDto,
  ListSessionsQuery,
} from './dto/session.inputs.js';
import { SessionPage, SessionView, StatusChangeView } from './dto/session.views.js';
import { bookingParty } from './session-access.js';
import { SessionEvents } from './session-events.js';
import { SessionLifecycleService } from './session-lifecycle.service.js';
import { sessionRecordOf, type SessionRecord, type SessionRecordRow } from './session-record.js';
import {
  isPaymentConfirmed,
  transitionFor,
  type PaymentStatus,
  type SessionStatus,
  type TransitionCause,
} from './session-transitions.js';
import {
  INSERT_BOOKING,
  listSessions,
  SESSION_RECORD,
  SET_PAYMENT_STATUS,
  STATUS_HISTORY,
  USER_ROLE,
} from './sessions.sql.js';

const DEFAULT_DURATION_MINUTES = 50;
const MAX_PAST_MS = 5 * 60_000;

/** The same moment a calendar year later (365 or 366 days, whichever the coming year has). */
function oneYearAfter(ms: number): number {
  const d = new Date(ms);
  d.setUTCFullYear(d.getUTCFullYear() + 1);
  return d.getTime();
}

/**
 * Booking, reading, paying for and cancelling sessions. Who may act on a session is checked
 * before these run (`@SessionAccess` on the routes); status changes go through the lifecycle.
 */
@Injectable()
export class SessionsService {
  constructor(
    private readonly lifecycle: SessionLifecycleService,
    private readonly sql: Sql,
    private readonly events: SessionEvents,
  ) {}

  /** Loads a session with both parties' names; 404 when it does not exist. */
  async findOrFail(id: string): Promise<SessionRecord> {
    const [row] = await this.sql.rows<SessionRecordRow>(SESSION_RECORD.name, SESSION_RECORD.text, [
      id,
    ]);
    if (!row) {
      throw new DomainError('NOT_FOUND', `Session ${id} does not exist`);
    }
    return sessionRecordOf(row);
  }

  async view(id: string): Promise<SessionView> {
    return SessionView.of(await this.findOrFail(id));
  }

  async book(dto: BookSessionDto, user: AuthUser): Promise<SessionView> {
    const scheduledStart = new Date(dto.scheduledStart);
    const now = Date.now();
    if (
      scheduledStart.getTime() < now - MAX_PAST_MS ||
      scheduledStart.getTime() > oneYearAfter(now)
    ) {
      throw new DomainError(
        'VALIDATION_FAILED',
        'scheduledStart must be from 5 minutes ago to a year ahead',
        [{ field: 'scheduledStart', messages: ['must be from 5 minutes ago to a year ahead'] }],
      );
    }
    const party = bookingParty(user, dto.clientId);
    await this.assertRole(dto.psychologistId, 'psychologist', 'psychologistId');
    if (party.clientToCheck) {
      await this.assertRole(party.clientToCheck, 'client', 'clientId');
    }
    if (party.refusal) {
      throw party.refusal;
    }
    const durationMinutes = dto.durationMinutes ?? DEFAULT_DURATION_MINUTES;
    const [row] = await this.sql.rows<{ id: string }>(INSERT_BOOKING.name, INSERT_BOOKING.text, [
      party.clientId,
      dto.psychologistId,
      scheduledStart,
      new Date(scheduledStart.getTime() + durationMinutes * 60_000),
      durationMinutes,
    ]);
    if (!row) {
      throw new DomainError(
        'SLOT_TAKEN',
        'The psychologist or the client already has a live booking overlapping this time',
      );
    }
    return this.view(row.id);
  }

  async list(query: ListSessionsQuery, user: AuthUser): Promise<SessionPage> {
    const { page, count } = listSessions(
      { scope: user.role === 'admin' ? 'all' : user.role, userId: user.id, status: query.status },
      { limit: query.limit, offset: (query.page - 1) * query.limit },
    );
    const [rows, [{ total }]] = await Promise.all([
      this.sql.rows<SessionRecordRow>(page.name, page.text, page.values),
      this.sql.rows<{ total: number }>(count.name, count.text, count.values),
    ]);
    return {
      items: rows.map((row) => SessionView.of(sessionRecordOf(row))),
      total,
      page: query.page,
      limit: query.limit,
    };
  }

  /**
   * The payment provider's word, relayed by an admin. A confirming status moves a Pending session
   * to Confirmed; nothing else about payment changes the status (a running call goes on), and
   * a new payment status without a status change is announced as an update.
   */
  async confirmPayment(
    session: SessionRecord,
    dto: ConfirmPaymentDto,
    user: AuthUser,
  ): Promise<SessionView> {
    const id = session.id;
    const { change, previous } = await this.sql.transaction(async (tx) => {
      const [set] = await tx.query<{ previous: PaymentStatus }[]>(SET_PAYMENT_STATUS, [
        id,
        dto.paymentStatus,
      ]);
      return {
        previous: set?.previous,
        change: isPaymentConfirmed(dto.paymentStatus)
          ? await this.lifecycle.applyWithin(tx, {
              sessionId: id,
              cause: 'payment',
              ...actorOf(user),
            })
          : null,
      };
    });
    const after = await this.findOrFail(id);
    if (change) {
      this.lifecycle.publish(change);
    } else if (previous !== dto.paymentStatus) {
      this.events.emitUpdated({
        sessionId: id,
        clientId: after.clientId,
        psychologistId: after.psychologistId,
        scheduledStart: after.scheduledStart,
        durationMinutes: after.durationMinutes,
        paymentStatus: dto.paymentStatus,
      });
    }
    return SessionView.of(after);
  }

  async cancel(
    session: SessionRecord,
    dto: CancelSessionDto,
    user: AuthUser,
  ): Promise<SessionView> {
    const applied = await this.lifecycle.apply({
      sessionId: session.id,
      cause: 'cancel',
      actorId: user.id,
      reason: dto.reason ?? null,
    });
    if (!applied) {
      const current = await this.findOrFail(session.id);
      throw new DomainError(
        'INVALID_TRANSITION',
        `A session can be cancelled only while ${transitionFor('cancel').from.join(' or ')}; it is ${current.status}`,
      );
    }
    return SessionView.of(applied.session);
  }

  async history(session: SessionRecord): Promise<StatusChangeView[]> {
    const rows = await this.sql.rows<{
      from_status: SessionStatus;
      to_status: SessionStatus;
      at: Date;
      actor_id: string | null;
      actor_key_id: string | null;
      cause: TransitionCause;
    }>(STATUS_HISTORY.name, STATUS_HISTORY.text, [session.id]);
    return rows.map((r) => ({
      from: r.from_status,
      to: r.to_status,
      at: r.at.toISOString(),
      actorId: r.actor_id,
      actorKeyId: r.actor_key_id,
      cause: r.cause,
    }));
  }

  private async assertRole(userId: string, role: UserRole, field: string): Promise<void> {
    const [found] = await this.sql.rows<{ role: UserRole }>(USER_ROLE.name, USER_ROLE.text, [
      userId,
    ]);
    if (found?.role !== role) {
      throw new DomainError('VALIDATION_FAILED', `${field} must be the id of a ${role}`, [
        { field, messages: [`must be the id of a ${role}`] },
      ]);
    }
  }
}
