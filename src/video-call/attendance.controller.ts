import { Controller, Get, Param } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { DataSource } from 'typeorm';
import type { AuthUser } from '../auth/auth-user.js';
import { CurrentUser } from '../auth/current-user.decorator.js';
import { ApiErrors } from '../common/errors/api-errors.decorator.js';
import { ParseId } from '../common/http/uuid.pipe.js';
import { ACCESS } from '../sessions/session-access.js';
import { summarizeAttendance } from '../sessions/session-policies.js';
import { SessionsService } from '../sessions/sessions.service.js';
import { AttendanceView } from './dto/attendance.views.js';

/** Who attended a session's call, from the presence rows kept after each stay. */
@ApiTags('sessions')
@ApiBearerAuth()
@Controller('sessions')
export class AttendanceController {
  constructor(
    private readonly sessions: SessionsService,
    @InjectDataSource() private readonly db: DataSource,
  ) {}

  @Get(':id/attendance')
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOperation({
    operationId: 'getSessionAttendance',
    summary:
      'Per participant: first joined, last left, seconds present and number of stays in the room',
  })
  @ApiOkResponse({ type: [AttendanceView] })
  @ApiErrors('VALIDATION_FAILED', 'UNAUTHENTICATED', 'NOT_PARTICIPANT', 'NOT_FOUND')
  async attendance(
    @Param('id', ParseId('id')) id: string,
    @CurrentUser() user: AuthUser,
  ): Promise<AttendanceView[]> {
    const session = await this.sessions.findAuthorized(id, user, ACCESS.view);
    const rows: { user_id: string; joined_at: Date; left_at: Date | null; now: Date }[] =
      await this.db.query(
        `SELECT user_id, joined_at, left_at, now() AS now FROM room_presence WHERE session_id = $1`,
        [id],
      );
    const now = rows[0]?.now ?? new Date();
    const parties = [
      { userId: session.clientId, role: 'client' as const },
      { userId: session.psychologistId, role: 'psychologist' as const },
    ];
    return parties.map(({ userId, role }) => {
      const summary = summarizeAttendance(
        rows
          .filter((r) => r.user_id === userId)
          .map((r) => ({ joinedAt: r.joined_at, leftAt: r.left_at })),
        now,
      );
      return {
        userId,
        role,
        firstJoinedAt: summary.firstJoinedAt?.toISOString() ?? null,
        lastLeftAt: summary.lastLeftAt?.toISOString() ?? null,
        secondsPresent: summary.secondsPresent,
        stays: summary.stays,
      };
    });
  }
}
