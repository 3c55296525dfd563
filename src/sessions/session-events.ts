import { Injectable } from '@nestjs/common';
import { Subject, type Observable } from 'rxjs';
import type { PaymentStatus, SessionStatus, TransitionCause } from './session-transitions.js';

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

/** A committed change of a session that left its status as it was (payment, reschedule). */
export interface SessionUpdated {
  sessionId: string;
  clientId: string;
  psychologistId: string;
  scheduledStart: Date;
  durationMinutes: number;
  paymentStatus: PaymentStatus;
}

/** The update a committed change of `session` announces (its status unchanged). */
export function sessionUpdatedOf(session: {
  id: string;
  clientId: string;
  psychologistId: string;
  scheduledStart: Date;
  durationMinutes: number;
  paymentStatus: PaymentStatus;
}): SessionUpdated {
  return {
    sessionId: session.id,
    clientId: session.clientId,
    psychologistId: session.psychologistId,
    scheduledStart: session.scheduledStart,
    durationMinutes: session.durationMinutes,
    paymentStatus: session.paymentStatus,
  };
}

/**
 * In-process stream of committed status changes. Whatever caused a change (REST, the gateway,
 * the reconciler), subscribers such as the WebSocket gateway hear it here, after the commit.
 */
@Injectable()
export class SessionEvents {
  private readonly statusChanges = new Subject<SessionStatusChanged>();

  private readonly updates = new Subject<SessionUpdated>();

  readonly statusChanged$: Observable<SessionStatusChanged> = this.statusChanges.asObservable();

  readonly updated$: Observable<SessionUpdated> = this.updates.asObservable();

  emitStatusChanged(event: SessionStatusChanged): void {
    this.statusChanges.next(event);
  }

  emitUpdated(event: SessionUpdated): void {
    this.updates.next(event);
  }
}
