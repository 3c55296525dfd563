import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module.js';
import { SessionsModule } from '../sessions/sessions.module.js';
import { AttendanceController } from './attendance.controller.js';
import { CallReconciler } from './call-reconciler.service.js';
import { IceServersService } from './ice-servers.service.js';
import { InstanceRegistry } from './instance-registry.service.js';
import { PresenceHeartbeat } from './presence-heartbeat.service.js';
import { PresenceService } from './presence.service.js';
import { RoomEvents } from './room-events.js';
import { SessionAccessGuard } from './session-access.guard.js';
import { VideoCallController } from './video-call.controller.js';
import { VideoCallGateway } from './video-call.gateway.js';
import { SocketRateLimit } from './socket-rate-limit.js';
import { VideoCallService } from './video-call.service.js';

@Module({
  imports: [SessionsModule, AuthModule],
  controllers: [VideoCallController, AttendanceController],
  providers: [
    VideoCallService,
    PresenceService,
    InstanceRegistry,
    RoomEvents,
    CallReconciler,
    PresenceHeartbeat,
    VideoCallGateway,
    SocketRateLimit,
    SessionAccessGuard,
    IceServersService,
  ],
  exports: [PresenceService, CallReconciler, InstanceRegistry],
})
export class VideoCallModule {}
