import { Body, Controller, Get, HttpCode, Post, Query } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiCreatedResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import type { AuthUser } from '../auth/auth-user.js';
import { CurrentUser } from '../auth/current-user.decorator.js';
import { KeyScope } from '../service-keys/service-key-scopes.js';
import { ApiErrors } from '../common/errors/api-errors.decorator.js';
import {
  BookSessionDto,
  CancelSessionDto,
  ConfirmPaymentDto,
  ListSessionsQuery,
  RescheduleSessionDto,
} from './dto/session.inputs.js';
import { SessionPage, SessionView, StatusChangeView } from './dto/session.views.js';
import { ACCESS } from './session-access.js';
import { AccessedSession, SessionAccess } from './session-access.guard.js';
import type { SessionRecord } from './session-record.js';
import { SessionRescheduleService } from './session-reschedule.service.js';
import { SessionsService } from './sessions.service.js';

@ApiTags('sessions')
@ApiBearerAuth()
@Controller('sessions')
export class SessionsController {
  constructor(
    private readonly sessions: SessionsService,
    private readonly rescheduling: SessionRescheduleService,
  ) {}

  @Post()
  @ApiOperation({
    operationId: 'bookSession',
    summary: 'Book a session (client for themselves; admin for a client)',
  })
  @ApiCreatedResponse({ type: SessionView })
  @ApiErrors(
    'VALIDATION_FAILED',
    'UNAUTHENTICATED',
    'FORBIDDEN',
    'OUTSIDE_WORKING_HOURS',
    'SLOT_TAKEN',
    'PAYLOAD_TOO_LARGE',
    'UNSUPPORTED_MEDIA_TYPE',
  )
  book(@Body() dto: BookSessionDto, @CurrentUser() user: AuthUser): Promise<SessionView> {
    return this.sessions.book(dto, user);
  }

  @Get()
  @ApiOperation({
    operationId: 'listSessions',
    summary: 'Sessions visible to the caller, newest scheduledStart first',
  })
  @ApiOkResponse({ type: SessionPage })
  @ApiErrors('VALIDATION_FAILED', 'UNAUTHENTICATED')
  list(@Query() query: ListSessionsQuery, @CurrentUser() user: AuthUser): Promise<SessionPage> {
    return this.sessions.list(query, user);
  }

  @Get(':id')
  @SessionAccess(ACCESS.view, 'id')
  @KeyScope('sessions:read')
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOperation({
    operationId: 'getSession',
    summary: 'One session (its participants or an admin)',
  })
  @ApiOkResponse({ type: SessionView })
  get(@AccessedSession() session: SessionRecord): SessionView {
    return SessionView.of(session);
  }

  @Post(':id/payment')
  @SessionAccess(ACCESS.payment, 'id', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE')
  @KeyScope('payments:write')
  @HttpCode(200)
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOperation({
    operationId: 'confirmPayment',
    summary:
      "Record the payment provider's status (admin); a confirming status moves Pending to Confirmed",
  })
  @ApiOkResponse({ type: SessionView })
  confirmPayment(
    @AccessedSession() session: SessionRecord,
    @Body() dto: ConfirmPaymentDto,
    @CurrentUser() user: AuthUser,
  ): Promise<SessionView> {
    return this.sessions.confirmPayment(session, dto, user);
  }

  @Post(':id/cancel')
  @SessionAccess(
    ACCESS.cancel,
    'id',
    'INVALID_TRANSITION',
    'PAYLOAD_TOO_LARGE',
    'UNSUPPORTED_MEDIA_TYPE',
  )
  @HttpCode(200)
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOperation({ operationId: 'cancelSession', summary: 'Cancel a Pending or Confirmed session' })
  @ApiOkResponse({ type: SessionView })
  cancel(
    @AccessedSession() session: SessionRecord,
    @Body() dto: CancelSessionDto,
    @CurrentUser() user: AuthUser,
  ): Promise<SessionView> {
    return this.sessions.cancel(session, dto ?? {}, user);
  }

  @Post(':id/reschedule')
  @SessionAccess(
    ACCESS.reschedule,
    'id',
    'INVALID_TRANSITION',
    'OUTSIDE_WORKING_HOURS',
    'SLOT_TAKEN',
    'PAYLOAD_TOO_LARGE',
    'UNSUPPORTED_MEDIA_TYPE',
  )
  @HttpCode(200)
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOperation({
    operationId: 'rescheduleSession',
    summary:
      'Move a Pending or Confirmed session to another time before its room opens (its client, its psychologist or an admin; admins may go outside working hours); status and payment are kept',
  })
  @ApiBody({
    type: RescheduleSessionDto,
    examples: {
      sameLength: { value: { scheduledStart: '2027-01-04T10:00:00Z' } },
      longer: { value: { scheduledStart: '2027-01-04T10:00:00+01:00', durationMinutes: 90 } },
    },
  })
  @ApiOkResponse({ type: SessionView })
  reschedule(
    @AccessedSession() session: SessionRecord,
    @Body() dto: RescheduleSessionDto,
    @CurrentUser() user: AuthUser,
  ): Promise<SessionView> {
    return this.rescheduling.reschedule(session, dto, user);
  }

  @Get(':id/history')
  @SessionAccess(ACCESS.view, 'id')
  @KeyScope('sessions:read')
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOperation({ operationId: 'getSessionHistory', summary: 'Every status change, oldest first' })
  @ApiOkResponse({ type: [StatusChangeView] })
  history(@AccessedSession() session: SessionRecord): Promise<StatusChangeView[]> {
    return this.sessions.history(session);
  }
}
