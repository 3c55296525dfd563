import { Injectable } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { DataSource, Repository } from 'typeorm';
import type { AuthUser } from '../auth/auth-user.js';
import { User, type UserRole } from '../auth/user.entity.js';
import { DomainError } from '../common/errors/domain-error.js';
import { Sql } from '../database/sql.js';
import type {
  BookSessionDto,
  CancelSessionDto,
  ConfirmPaymentDto,
  ListSessionsQuery,
} from './dto/session.inputs.js';
import { SessionPage, SessionView, StatusChangeView } from './dto/session.views.js';
import { ACCESS, assertAccess, type AccessRule } from './session-access.js';
import { SessionLifecycleService } from './session-lifecycle.service.js';
import {
  SESSION_RECORD_SQL,
  sessionRecordOf,
  type SessionRecord,
  type SessionRecordRow,
} from './session-record.js';
import { SessionStatusChange } from './session-status-change.entity.js';
import { isPaymentConfirmed } from './session-transitions.js';
import { Session } from './session.entity.js';

const DEFAULT_DURATION_MINUTES = 50;
const MAX_PAST_MS = 5 * 60_000;

/** The same moment a calendar year later (365 or 366 days, whichever the coming year has). */
function oneYearAfter(ms: number): number {
  const d = new Date(ms);
  d.setUTCFullYear(d.getUTCFullYear() + 1);
  return d.getTime();
}

@Injectable()
export class SessionsService {
  constructor(
    @InjectRepository(Session) private readonly sessions: Repository<Session>,
    @InjectRepository(SessionStatusChange)
    private readonly changes: Repository<SessionStatusChange>,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly lifecycle: SessionLifecycleService,
    private readonly sql: Sql,
  ) {}

  /** Loads a session with both parties' names; 404 when it does not exist. */
  async findOrFail(id: string): Promise<SessionRecord> {
    const [row] = await this.sql.rows<SessionRecordRow>('session-record', SESSION_RECORD_SQL, [id]);
    if (!row) {
      throw new DomainError('NOT_FOUND', `Session ${id} does not exist`);
    }
    return sessionRecordOf(row);
  }

  /** Existence, then role, membership and payment as the rule says. */
  async findAuthorized(id: string, user: AuthUser, rule: AccessRule): Promise<SessionRecord> {
    const session = await this.findOrFail(id);
    assertAccess(session, user, rule);
    return session;
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
    if (user.role === 'admin' && !dto.clientId) {
      throw new DomainError('VALIDATION_FAILED', 'clientId is required when an admin books', [
        { field: 'clientId', messages: ['clientId is required when an admin books'] },
      ]);
    }
    await this.assertRole(dto.psychologistId, 'psychologist', 'psychologistId');
    if (user.role === 'admin') {
      await this.assertRole(dto.clientId!, 'client', 'clientId');
    }
    if (user.role === 'psychologist') {
      throw new DomainError('FORBIDDEN', 'Psychologists cannot book sessions');
    }
    if (user.role === 'client' && dto.clientId !== undefined && dto.clientId !== user.id) {
      throw new DomainError('FORBIDDEN', 'A client can only book for themselves');
    }
    const clientId = user.role === 'admin' ? dto.clientId! : user.id;
    const durationMinutes = dto.durationMinutes ?? DEFAULT_DURATION_MINUTES;
    const id = await this.insertBooking([
      clientId,
      dto.psychologistId,
      scheduledStart,
      new Date(scheduledStart.getTime() + durationMinutes * 60_000),
      durationMinutes,
    ]);
    return this.view(id);
  }

  /**
   * One INSERT (Pending, payment Pending); the database's exclusion constraints are the rule, and
   * the loser of a collision gets SLOT_TAKEN. `ON CONFLICT DO NOTHING` makes it a speculative
   * insertion: PostgreSQL looks for a conflicting booking before it enters the row, and after, it
   * waits only for an older inserter. A plain INSERT enters its row first and then checks, so
   * bookings of one psychologist arriving together all wait for each other: deadlocks, each found
   * after deadlock_timeout (1 s), one after the other (CI saw 20 such bookings go on for over a
   * minute). Besides the exclusion constraints, the only unique key is the generated id.
   */
  private async insertBooking(values: unknown[]): Promise<string> {
    const [row] = await this.sql.rows<{ id: string }>(
      'session-insert',
      `INSERT INTO sessions (client_id, psychologist_id, scheduled_start, scheduled_end, duration_minutes)
       VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING id`,
      values,
    );
    if (!row) {
      throw new DomainError(
        'SLOT_TAKEN',
        'The psychologist or the client already has a live booking overlapping this time',
      );
    }
    return row.id;
  }

  async list(query: ListSessionsQuery, user: AuthUser): Promise<SessionPage> {
    const qb = this.sessions
      .createQueryBuilder('s')
      .leftJoin('s.client', 'client')
      .addSelect(['client.id', 'client.name'])
      .leftJoin('s.psychologist', 'psychologist')
      .addSelect(['psychologist.id', 'psychologist.name'])
      .orderBy('s.scheduledStart', 'DESC')
      .addOrderBy('s.id', 'DESC')
      .skip((query.page - 1) * query.limit)
      .take(query.limit);
    if (user.role === 'client') {
      qb.andWhere('s.clientId = :uid', { uid: user.id });
    } else if (user.role === 'psychologist') {
      qb.andWhere('s.psychologistId = :uid', { uid: user.id });
    }
    if (query.status) {
      qb.andWhere('s.status = :status', { status: query.status });
    }
    const [rows, total] = await qb.getManyAndCount();
    return {
      items: rows.map((s) => SessionView.of(s)),
      total,
      page: query.page,
      limit: query.limit,
    };
  }

  async get(id: string, user: AuthUser): Promise<SessionView> {
    return SessionView.of(await this.findAuthorized(id, user, ACCESS.view));
  }

  /**
   * The payment provider's word, relayed by an admin. A confirming status moves a Pending session
   * to Confirmed; nothing else about payment changes the status (a running call goes on).
   */
  async confirmPayment(id: string, dto: ConfirmPaymentDto, user: AuthUser): Promise<SessionView> {
    await this.findAuthorized(id, user, ACCESS.payment);
    const change = await this.dataSource.transaction(async (manager) => {
      await manager.query(
        `UPDATE sessions SET payment_status = $2, updated_at = now() WHERE id = $1`,
        [id, dto.paymentStatus],
      );
      return isPaymentConfirmed(dto.paymentStatus)
        ? this.lifecycle.applyWithin(manager, { sessionId: id, cause: 'payment', actorId: user.id })
        : null;
    });
    if (change) {
      this.lifecycle.publish(change);
    }
    return this.view(id);
  }

  async cancel(id: string, dto: CancelSessionDto, user: AuthUser): Promise<SessionView> {
    const session = await this.findAuthorized(id, user, ACCESS.cancel);
    const applied = await this.lifecycle.apply({
      sessionId: id,
      cause: 'cancel',
      actorId: user.id,
      reason: dto.reason ?? null,
    });
    if (!applied) {
      const current = await this.findOrFail(id);
      throw new DomainError(
        'INVALID_TRANSITION',
        `A session can be cancelled only while Pending or Confirmed; it is ${current.status ?? session.status}`,
      );
    }
    return SessionView.of(applied.session);
  }

  async history(id: string, user: AuthUser): Promise<StatusChangeView[]> {
    await this.findAuthorized(id, user, ACCESS.view);
    const rows = await this.changes.find({ where: { sessionId: id }, order: { id: 'ASC' } });
    return rows.map((r) => ({
      from: r.from,
      to: r.to,
      at: r.at.toISOString(),
      actorId: r.actorId,
      cause: r.cause,
    }));
  }

  private async assertRole(userId: string, role: UserRole, field: string): Promise<void> {
    const found = await this.dataSource.getRepository(User).findOneBy({ id: userId });
    if (found?.role !== role) {
      throw new DomainError('VALIDATION_FAILED', `${field} must be the id of a ${role}`, [
        { field, messages: [`must be the id of a ${role}`] },
      ]);
    }
  }
}
