import { Inject, Injectable } from '@nestjs/common';
import type { AuthUser } from '../auth/auth-user.js';
import { DomainError } from '../common/errors/domain-error.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { isExclusionViolation } from '../database/postgres-errors.js';
import { Sql } from '../database/sql.js';
import {
  ROLE_AND_HOURS,
  workingHoursOf,
  type RoleAndHoursRow,
} from '../psychologists/psychologists.sql.js';
import {
  assertInsideWorkingHours,
  assertReschedulable,
  sessionEnd,
  slotTaken,
} from './booking-rules.js';
import type { RescheduleSessionDto } from './dto/session.inputs.js';
import { SessionView } from './dto/session.views.js';
import { SessionEvents, sessionUpdatedOf } from './session-events.js';
import { roomsOpenStartingBy } from './session-policies.js';
import { sessionRecordOf, type SessionRecord, type SessionRecordRow } from './session-record.js';
import { SessionsService } from './sessions.service.js';
import { rescheduleStatement } from './reschedule.sql.js';

/**
 * Moving a session to another time, keeping its status and payment (PRODUCT.md section 11). Who
 * may is checked before (`@SessionAccess(ACCESS.reschedule)`); then, in the contract's order of
 * 409s: whether it may still move, the working hours, and the slot (the exclusion constraints).
 */
@Injectable()
export class SessionRescheduleService {
  constructor(
    private readonly sessions: SessionsService,
    private readonly events: SessionEvents,
    private readonly sql: Sql,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** `session` is the row the access guard read; the statement checks it again under its lock. */
  async reschedule(
    session: SessionRecord,
    dto: RescheduleSessionDto,
    user: AuthUser,
  ): Promise<SessionView> {
    const now = new Date();
    assertReschedulable(session, now, this.config.joinEarlyMinutes);
    const scheduledStart = new Date(dto.scheduledStart);
    const durationMinutes = dto.durationMinutes ?? session.durationMinutes;
    const scheduledEnd = sessionEnd(scheduledStart, durationMinutes);
    // An admin may move a session outside the hours, so theirs need not be read.
    const byAdmin = user.role === 'admin';
    if (!byAdmin) {
      const [row] = await this.sql.rows<RoleAndHoursRow>(ROLE_AND_HOURS.name, ROLE_AND_HOURS.text, [
        session.psychologistId,
      ]);
      assertInsideWorkingHours(
        row ? workingHoursOf(row) : null,
        scheduledStart,
        scheduledEnd,
        false,
      );
    }
    const statement = rescheduleStatement({
      sessionId: session.id,
      actorId: user.id,
      scheduledStart,
      scheduledEnd,
      durationMinutes,
      opensBy: roomsOpenStartingBy(now, this.config.joinEarlyMinutes),
    });
    let row: SessionRecordRow | undefined;
    try {
      [row] = await this.sql.rows<SessionRecordRow>(
        statement.name,
        statement.text,
        statement.values,
      );
    } catch (error) {
      if (isExclusionViolation(error)) {
        throw slotTaken();
      }
      throw error;
    }
    if (!row) {
      // It changed since the guard read it: say why as of now (404 if it is gone).
      const current = await this.sessions.findOrFail(session.id);
      assertReschedulable(current, now, this.config.joinEarlyMinutes);
      throw new DomainError('INVALID_TRANSITION', 'The session can no longer be rescheduled');
    }
    const moved = sessionRecordOf(row);
    this.events.emitUpdated(sessionUpdatedOf(moved));
    return SessionView.of(moved);
  }
}
