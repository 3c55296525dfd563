import { Controller, Get, Header, HttpCode, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import type { AuthUser } from '../auth/auth-user.js';
import { CurrentUser } from '../auth/current-user.decorator.js';
import { SessionView } from '../sessions/dto/session.views.js';
import { ACCESS } from '../sessions/session-access.js';
import { IceServersView } from './dto/ice-servers.views.js';
import { VideoCallView } from './dto/video-call.views.js';
import { AccessedSession, SessionAccess } from '../sessions/session-access.guard.js';
import type { SessionRecord } from '../sessions/session-record.js';
import { IceServersService } from './ice-servers.service.js';
import { VideoCallService } from './video-call.service.js';

@ApiTags('video-calls')
@ApiBearerAuth()
@ApiParam({ name: 'sessionId', format: 'uuid' })
@Controller('video-calls')
export class VideoCallController {
  constructor(
    private readonly calls: VideoCallService,
    private readonly ice: IceServersService,
  ) {}

  @Post('start/:sessionId')
  @HttpCode(200)
  @SessionAccess(ACCESS.start, 'sessionId', 'TOO_EARLY', 'INVALID_TRANSITION')
  @ApiOperation({
    operationId: 'startVideoCall',
    summary:
      'Start the call (client or psychologist): Confirmed -> In Progress; repeats are no-ops',
  })
  @ApiOkResponse({ type: SessionView })
  start(
    @AccessedSession() session: SessionRecord,
    @CurrentUser() user: AuthUser,
  ): Promise<SessionView> {
    return this.calls.start(session, user);
  }

  @Post('end/:sessionId')
  @HttpCode(200)
  @SessionAccess(ACCESS.end, 'sessionId', 'INVALID_TRANSITION')
  @ApiOperation({
    operationId: 'endVideoCall',
    summary:
      'End the call (participants or an admin): In Progress -> Completed; repeats are no-ops',
  })
  @ApiOkResponse({ type: SessionView })
  end(
    @AccessedSession() session: SessionRecord,
    @CurrentUser() user: AuthUser,
  ): Promise<SessionView> {
    return this.calls.end(session, user);
  }

  @Get('session/:sessionId')
  @SessionAccess(ACCESS.view, 'sessionId')
  @ApiOperation({
    operationId: 'getVideoCall',
    summary: 'The session with who is in the room now and how long the call has run',
  })
  @ApiOkResponse({ type: VideoCallView })
  details(@AccessedSession() session: SessionRecord): Promise<VideoCallView> {
    return this.calls.details(session);
  }

  @Get('ice-servers/:sessionId')
  @SessionAccess(ACCESS.start, 'sessionId', 'TOO_EARLY', 'INVALID_TRANSITION')
  // A credential is the caller's own: no cache along the way may keep or share it.
  @Header('Cache-Control', 'no-store')
  @ApiOperation({
    operationId: 'getIceServers',
    summary:
      "The ICE servers for this session's call, with a short-lived TURN credential of the caller's own",
    description:
      'The checks and their order are those of join-room. Pass `iceServers` to `new RTCPeerConnection({ iceServers })`.',
  })
  @ApiOkResponse({ type: IceServersView })
  iceServers(
    @AccessedSession() session: SessionRecord,
    @CurrentUser() user: AuthUser,
  ): IceServersView {
    return this.ice.forRoom(session, user);
  }
}
