import { Injectable } from '@nestjs/common';
import { Subject, type Observable } from 'rxjs';
import type { SessionStatus, TransitionCause } from './session-transitions.js';

export interface SessionStatusChanged {
  sessionId: string;
  clientId: string;
  psychologistId: string;
  from: SessionStatus;
  to: SessionStatus;
  cause: TransitionCause;
  actorId: string | null;
  at: Date;
  videoCallStarted: Date | null;
  videoCallEnded: Date | null;
  duration: number | null;
}

/**
 * In-process stream of committed status changes. Whatever caused a change (REST, the gateway,
 * the reconciler), subscribers such as the WebSocket gateway hear it here, after the commit.
 */
@Injectable()
export class SessionEvents {
  private readonly statusChanges = new Subject<SessionStatusChanged>();

  readonly statusChanged$: Observable<SessionStatusChanged> = this.statusChanges.asObservable();

  emitStatusChanged(event: SessionStatusChanged): void {
    this.statusChanges.next(event);
  }
}
