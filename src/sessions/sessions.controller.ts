import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import type { AuthUser } from '../auth/auth-user.js';
import { CurrentUser } from '../auth/current-user.decorator.js';
import { ApiErrors } from '../common/errors/api-errors.decorator.js';
import { ParseId } from '../common/http/uuid.pipe.js';
import {
  BookSessionDto,
  CancelSessionDto,
  ConfirmPaymentDto,
  ListSessionsQuery,
} from './dto/session.inputs.js';
import { SessionPage, SessionView, StatusChangeView } from './dto/session.views.js';
import { SessionsService } from './sessions.service.js';

@ApiTags('sessions')
@ApiBearerAuth()
@Controller('sessions')
export class SessionsController {
  constructor(private readonly sessions: SessionsService) {}

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
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOperation({
    operationId: 'getSession',
    summary: 'One session (its participants or an admin)',
  })
  @ApiOkResponse({ type: SessionView })
  @ApiErrors('VALIDATION_FAILED', 'UNAUTHENTICATED', 'NOT_PARTICIPANT', 'NOT_FOUND')
  get(@Param('id', ParseId('id')) id: string, @CurrentUser() user: AuthUser): Promise<SessionView> {
    return this.sessions.get(id, user);
  }

  @Post(':id/payment')
  @HttpCode(200)
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOperation({
    operationId: 'confirmPayment',
    summary:
      "Record the payment provider's status (admin); a confirming status moves Pending to Confirmed",
  })
  @ApiOkResponse({ type: SessionView })
  @ApiErrors(
    'VALIDATION_FAILED',
    'UNAUTHENTICATED',
    'FORBIDDEN',
    'NOT_FOUND',
    'PAYLOAD_TOO_LARGE',
    'UNSUPPORTED_MEDIA_TYPE',
  )
  confirmPayment(
    @Param('id', ParseId('id')) id: string,
    @Body() dto: ConfirmPaymentDto,
    @CurrentUser() user: AuthUser,
  ): Promise<SessionView> {
    return this.sessions.confirmPayment(id, dto, user);
  }

  @Post(':id/cancel')
  @HttpCode(200)
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOperation({ operationId: 'cancelSession', summary: 'Cancel a Pending or Confirmed session' })
  @ApiOkResponse({ type: SessionView })
  @ApiErrors(
    'VALIDATION_FAILED',
    'UNAUTHENTICATED',
    'NOT_PARTICIPANT',
    'NOT_FOUND',
    'INVALID_TRANSITION',
    'PAYLOAD_TOO_LARGE',
    'UNSUPPORTED_MEDIA_TYPE',
  )
  cancel(
    @Param('id', ParseId('id')) id: string,
    @Body() dto: CancelSessionDto,
    @CurrentUser() user: AuthUser,
  ): Promise<SessionView> {
    return this.sessions.cancel(id, dto ?? {}, user);
  }

  @Get(':id/history')
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOperation({ operationId: 'getSessionHistory', summary: 'Every status change, oldest first' })
  @ApiOkResponse({ type: [StatusChangeView] })
  @ApiErrors('VALIDATION_FAILED', 'UNAUTHENTICATED', 'NOT_PARTICIPANT', 'NOT_FOUND')
  history(
    @Param('id', ParseId('id')) id: string,
    @CurrentUser() user: AuthUser,
  ): Promise<StatusChangeView[]> {
    return this.sessions.history(id, user);
  }
}
