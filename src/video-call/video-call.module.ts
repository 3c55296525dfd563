import { Module } from '@nestjs/common';
import { SessionsModule } from '../sessions/sessions.module.js';
import { PresenceService } from './presence.service.js';
import { SessionAccessGuard } from './session-access.guard.js';
import { VideoCallController } from './video-call.controller.js';
import { VideoCallService } from './video-call.service.js';

@Module({
  imports: [SessionsModule],
  controllers: [VideoCallController],
  providers: [VideoCallService, PresenceService, SessionAccessGuard],
})
export class VideoCallModule {}
