import { Injectable } from '@nestjs/common';
import { actorOf, type AuthUser } from '../auth/auth-user.js';
import type { UserRole } from '../auth/user.entity.js';
import { DomainError } from '../common/errors/domain-error.js';
import { pageOffset } from '../common/http/paging.js';
import { Sql } from '../database/sql.js';
import {
  ROLE_AND_HOURS,
  workingHoursOf,
  type RoleAndHoursRow,
} from '../psychologists/psychologists.sql.js';
import type { WorkingHours } from '../psychologists/working-hours.js';
import {
  assertInsideWorkingHours,
  DEFAULT_DURATION_MINUTES,
  sessionEnd,
  slotTaken,
} from './booking-rules.js';
import type {
  BookSessionDto,
  CancelSessionDto,
  ConfirmPaymentDto,
  ListSessionsQuery,
} from './dto/session.inputs.js';
import { SessionPage, SessionView, StatusChangeView } from './dto/session.views.js';
import { bookingParty } from './session-access.js';
import { SessionEvents, sessionUpdatedOf } from './session-events.js';
import { SessionLifecycleService } from './session-lifecycle.service.js';
import { sessionRecordOf, type SessionRecord, type SessionRecordRow } from './session-record.js';
import {
  isPaymentConfirmed,
  transitionFor,
  type PaymentStatus,
  type HistoryCause,
  type SessionStatus,
} from './session-transitions.js';
import {
  INSERT_BOOKING,
  listSessions,
  SESSION_RECORD,
  SET_PAYMENT_STATUS,
  STATUS_HISTORY,
  USER_ROLE,
} from './sessions.sql.js';

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
    // The start's bounds are checked with the body (ScheduledStart).
    const scheduledStart = new Date(dto.scheduledStart);
    const party = bookingParty(user, dto.clientId);
    const hours = await this.psychologistHours(dto.psychologistId);
    if (party.clientToCheck) {
      await this.assertRole(party.clientToCheck, 'client', 'clientId');
    }
    if (party.refusal) {
      throw party.refusal;
    }
    const durationMinutes = dto.durationMinutes ?? DEFAULT_DURATION_MINUTES;
    const scheduledEnd = sessionEnd(scheduledStart, durationMinutes);
    assertInsideWorkingHours(hours, scheduledStart, scheduledEnd, user.role === 'admin');
    const [row] = await this.sql.rows<{ id: string }>(INSERT_BOOKING.name, INSERT_BOOKING.text, [
      party.clientId,
      dto.psychologistId,
      scheduledStart,
      scheduledEnd,
      durationMinutes,
    ]);
    if (!row) {
      throw slotTaken();
    }
    return this.view(row.id);
  }

  async list(query: ListSessionsQuery, user: AuthUser): Promise<SessionPage> {
    const { page, count } = listSessions(
      { scope: user.role === 'admin' ? 'all' : user.role, userId: user.id, status: query.status },
      { limit: query.limit, offset: pageOffset(query) },
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
      this.events.emitUpdated(sessionUpdatedOf(after));
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
      cause: HistoryCause;
      previous_start: Date | null;
      scheduled_start: Date | null;
    }>(STATUS_HISTORY.name, STATUS_HISTORY.text, [session.id]);
    return rows.map((r) => ({
      from: r.from_status,
      to: r.to_status,
      at: r.at.toISOString(),
      actorId: r.actor_id,
      actorKeyId: r.actor_key_id,
      cause: r.cause,
      previousStart: r.previous_start?.toISOString() ?? null,
      scheduledStart: r.scheduled_start?.toISOString() ?? null,
    }));
  }

  /**
   * The working hours of the psychologist a booking names (null: none set), with the check that
   * it names a psychologist (400 otherwise), in one read.
   */
  private async psychologistHours(userId: string): Promise<WorkingHours | null> {
    const [found] = await this.sql.rows<RoleAndHoursRow>(ROLE_AND_HOURS.name, ROLE_AND_HOURS.text, [
      userId,
    ]);
    if (found?.role !== 'psychologist') {
      throw new DomainError(
        'VALIDATION_FAILED',
        'psychologistId must be the id of a psychologist',
        [{ field: 'psychologistId', messages: ['must be the id of a psychologist'] }],
      );
    }
    return workingHoursOf(found);
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
