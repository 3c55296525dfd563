import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { KeyScope } from '../service-keys/service-key-scopes.js';
import { ACCESS } from '../sessions/session-access.js';
import { AccessedSession, SessionAccess } from '../sessions/session-access.guard.js';
import type { SessionRecord } from '../sessions/session-record.js';
import { AttendanceService } from './attendance.service.js';
import { AttendanceView } from './dto/attendance.views.js';

@ApiTags('sessions')
@ApiBearerAuth()
@Controller('sessions')
export class AttendanceController {
  constructor(private readonly attendanceOf: AttendanceService) {}

  @Get(':id/attendance')
  @SessionAccess(ACCESS.view, 'id')
  @KeyScope('sessions:read')
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOperation({
    operationId: 'getSessionAttendance',
    summary:
      'Per participant: first joined, last left, seconds present and number of stays in the room',
  })
  @ApiOkResponse({ type: [AttendanceView] })
  attendance(@AccessedSession() session: SessionRecord): Promise<AttendanceView[]> {
    return this.attendanceOf.of(session);
  }
}
