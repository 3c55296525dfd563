import { Module } from '@nestjs/common';
import { SessionsModule } from '../sessions/sessions.module';
import { PresenceService } from './presence.service';
import { SessionAccessGuard } from './session-access.guard';
import { VideoCallController } from './video-call.controller';
import { VideoCallService } from './video-call.service';

@Module({
  imports: [SessionsModule],
  controllers: [VideoCallController],
  providers: [VideoCallService, PresenceService, SessionAccessGuard],
})
export class VideoCallModule {}
