import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { SessionEvents } from './session-events.js';
import { SessionLifecycleService } from './session-lifecycle.service.js';
import { SessionRescheduleService } from './session-reschedule.service.js';
import { Session } from './session.entity.js';
import { SessionsController } from './sessions.controller.js';
import { SessionsService } from './sessions.service.js';

@Module({
  imports: [TypeOrmModule.forFeature([Session])],
  controllers: [SessionsController],
  providers: [SessionsService, SessionLifecycleService, SessionRescheduleService, SessionEvents],
  exports: [SessionsService, SessionLifecycleService, SessionEvents],
})
export class SessionsModule {}
