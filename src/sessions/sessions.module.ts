import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { SessionEvents } from './session-events';
import { SessionLifecycleService } from './session-lifecycle.service';
import { SessionStatusChange } from './session-status-change.entity';
import { Session } from './session.entity';
import { SessionsController } from './sessions.controller';
import { SessionsService } from './sessions.service';

@Module({
  imports: [TypeOrmModule.forFeature([Session, SessionStatusChange])],
  controllers: [SessionsController],
  providers: [SessionsService, SessionLifecycleService, SessionEvents],
  exports: [SessionsService, SessionLifecycleService, SessionEvents],
})
export class SessionsModule {}
