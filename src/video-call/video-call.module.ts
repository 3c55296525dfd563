import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module.js';
import { SessionsModule } from '../sessions/sessions.module.js';
import { AttendanceController } from './attendance.controller.js';
import { AttendanceService } from './attendance.service.js';
import { CallReconciler } from './call-reconciler.service.js';
import { RoomParties } from './room-parties.service.js';
import { IceServersService } from './ice-servers.service.js';
import { InstanceRegistry } from './instance-registry.service.js';
import { PresenceHeartbeat } from './presence-heartbeat.service.js';
import { InstanceStops } from './instance-stops.service.js';
import { LiveEvents } from './live-events.service.js';
import { PresenceDepartures } from './presence-departures.service.js';
import { PresenceJoins } from './presence-joins.service.js';
import { PresenceService } from './presence.service.js';
import { RoomEvents } from './room-events.js';
import { RoomMembership } from './room-membership.service.js';
import { VideoCallController } from './video-call.controller.js';
import { VideoCallGateway } from './video-call.gateway.js';
import { SocketRateLimit } from './socket-rate-limit.js';
import { SocketTokenClock } from './socket-token-clock.service.js';
import { VideoCallService } from './video-call.service.js';

@Module({
  imports: [SessionsModule, AuthModule],
  controllers: [VideoCallController, AttendanceController],
  providers: [
    VideoCallService,
    AttendanceService,
    PresenceService,
    PresenceJoins,
    PresenceDepartures,
    InstanceStops,
    InstanceRegistry,
    RoomEvents,
    LiveEvents,
    CallReconciler,
    PresenceHeartbeat,
    VideoCallGateway,
    SocketRateLimit,
    RoomMembership,
    RoomParties,
    SocketTokenClock,
    IceServersService,
  ],
  exports: [PresenceService, CallReconciler, InstanceRegistry],
})
export class VideoCallModule {}
