import { Body, Controller, Get, Param, Patch, Put, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import type { AuthUser } from '../auth/auth-user.js';
import { CurrentUser } from '../auth/current-user.decorator.js';
import { ApiErrors } from '../common/errors/api-errors.decorator.js';
import { ParseId } from '../common/http/uuid.pipe.js';
import { RoleOnly } from '../sessions/session-access.guard.js';
import {
  PsychologistListQuery,
  SetAvailabilityDto,
  SlotsQuery,
  UpdateProfileDto,
} from './dto/psychologist.inputs.js';
import {
  AvailabilityView,
  PsychologistPage,
  PsychologistView,
  SlotsView,
} from './dto/psychologist.views.js';
import { PsychologistsService } from './psychologists.service.js';

const PSYCHOLOGISTS_ONLY = 'Only a psychologist can change their own profile and working hours';

@ApiTags('psychologists')
@ApiBearerAuth()
@Controller('psychologists')
export class PsychologistsController {
  constructor(private readonly psychologists: PsychologistsService) {}

  @Get()
  @ApiOperation({
    operationId: 'listPsychologists',
    summary: 'The psychologist directory by name, with an optional name search',
  })
  @ApiOkResponse({ type: PsychologistPage })
  @ApiErrors('VALIDATION_FAILED', 'UNAUTHENTICATED')
  list(@Query() query: PsychologistListQuery): Promise<PsychologistPage> {
    return this.psychologists.list(query);
  }

  @Patch('me')
  @RoleOnly('psychologist', PSYCHOLOGISTS_ONLY)
  @ApiOperation({
    operationId: 'updateMyProfile',
    summary: "Edit the caller's own profile: name, bio, time zone (psychologist)",
  })
  @ApiOkResponse({ type: PsychologistView })
  @ApiErrors(
    'VALIDATION_FAILED',
    'UNAUTHENTICATED',
    'FORBIDDEN',
    'PAYLOAD_TOO_LARGE',
    'UNSUPPORTED_MEDIA_TYPE',
  )
  updateProfile(
    @Body() dto: UpdateProfileDto,
    @CurrentUser() user: AuthUser,
  ): Promise<PsychologistView> {
    return this.psychologists.updateProfile(dto, user);
  }

  @Put('me/availability')
  @RoleOnly('psychologist', PSYCHOLOGISTS_ONLY)
  @ApiOperation({
    operationId: 'setMyAvailability',
    summary:
      "Replace the caller's working hours: weekly intervals and date overrides, wall-clock in an IANA zone (psychologist)",
  })
  @ApiOkResponse({ type: AvailabilityView })
  @ApiErrors(
    'VALIDATION_FAILED',
    'UNAUTHENTICATED',
    'FORBIDDEN',
    'PAYLOAD_TOO_LARGE',
    'UNSUPPORTED_MEDIA_TYPE',
  )
  setAvailability(
    @Body() dto: SetAvailabilityDto,
    @CurrentUser() user: AuthUser,
  ): Promise<AvailabilityView> {
    return this.psychologists.setAvailability(dto, user);
  }

  @Get(':id/availability')
  @ApiParam({ name: 'id', format: 'uuid', description: "A psychologist's id" })
  @ApiOperation({
    operationId: 'getAvailability',
    summary: "A psychologist's working hours (configured: false = bookable at any time)",
  })
  @ApiOkResponse({ type: AvailabilityView })
  @ApiErrors('VALIDATION_FAILED', 'UNAUTHENTICATED', 'NOT_FOUND')
  availability(@Param('id', ParseId('id')) id: string): Promise<AvailabilityView> {
    return this.psychologists.availability(id);
  }

  @Get(':id/slots')
  @ApiParam({ name: 'id', format: 'uuid', description: "A psychologist's id" })
  @ApiOperation({
    operationId: 'listFreeSlots',
    summary:
      'Free start times in [from, to) (at most 31 days) for a session of durationMinutes: inside working hours, clear of live bookings, past the minimum notice',
  })
  @ApiOkResponse({ type: SlotsView })
  @ApiErrors('VALIDATION_FAILED', 'UNAUTHENTICATED', 'NOT_FOUND')
  slots(@Param('id', ParseId('id')) id: string, @Query() query: SlotsQuery): Promise<SlotsView> {
    return this.psychologists.slots(id, query);
  }
}
