import type { Socket } from 'socket.io-client';
import type {
  PaymentStatus,
  SessionStatus,
  TransitionCause,
} from '../../src/sessions/session-transitions.js';
import type { TestApp } from './test-app.js';

/** The empty-room grace period the app under test runs with (EMPTY_ROOM_TIMEOUT_SECONDS). */
export const GRACE_SECONDS = 1;
/** Auto-end is due within 2 s after the grace period (PRODUCT.md section 5), plus slack for a busy machine. */
export const AUTO_END_WITHIN_MS = (GRACE_SECONDS + 2) * 1000 + 2000;
/** How long the server may take to close the presence of sockets that went away. */
export const PRESENCE_CLOSED_WITHIN_MS = 3000;
export const ACK_TIMEOUT_MS = 5000;

export type ParticipantCommand =
  | { do: 'start' }
  | { do: 'end' }
  | { do: 'cancel' }
  | { do: 'join'; awaitAck: boolean }
  | { do: 'leave'; awaitAck: boolean }
  | { do: 'disconnect' }
  | { do: 'pause'; ms: number };

export type AdminCommand =
  | { do: 'payment'; paymentStatus: PaymentStatus }
  | { do: 'end' }
  | { do: 'cancel' }
  | { do: 'pause'; ms: number };

export type Command = ParticipantCommand | AdminCommand;

export interface HistoryRow {
  from_status: SessionStatus;
  to_status: SessionStatus;
  cause: TransitionCause;
  actor_id: string | null;
  actor_key_id: string | null;
  previous_start: Date | null;
  scheduled_start: Date | null;
  at: Date;
}

export interface PresenceRow {
  socket_id: string;
  user_id: string;
  role: string;
  joined_at: Date;
  left_at: Date | null;
  left_reason: string | null;
}

export interface SessionRow {
  status: SessionStatus;
  video_call_started: Date | null;
  video_call_ended: Date | null;
  call_duration_minutes: number | null;
  room_emptied_at: Date | null;
}

/** One socket of an actor, with what its acknowledged commands say its presence should be. */
export interface TrackedSocket {
  socket: Socket;
  id: string;
  actor: string;
  /** We disconnected it. */
  gone: boolean;
  /** After its last acknowledged join / leave. */
  inRoom: boolean;
  inFlight: number;
  /** Room commands sent and answered on this socket, to check they are answered in order. */
  sent: number;
  answered: number;
  /** `session-status` events received, in order. */
  statuses: string[];
}

/** What one run did and saw: the log goes into the failure report. */
export class Run {
  readonly log: string[] = [];
  readonly violations: string[] = [];
  readonly sockets: TrackedSocket[] = [];
  readonly pendingAcks: Promise<void>[] = [];
  /** Ids of the users whose request of that kind got a 200. */
  readonly succeeded = { start: new Set<string>(), end: new Set<string>(), cancel: [] as string[] };
  private readonly t0 = Date.now();

  note(line: string): void {
    this.log.push(`+${String(Date.now() - this.t0).padStart(5)}ms ${line}`);
  }

  violation(line: string): void {
    this.violations.push(line);
    this.note(`VIOLATION ${line}`);
  }

  check(ok: boolean, line: string): void {
    if (!ok) {
      this.violation(line);
    }
  }
}

export const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

export const sessionRow = async (t: TestApp, id: string): Promise<SessionRow> =>
  (
    await t.dataSource.query(
      `SELECT status, video_call_started, video_call_ended, call_duration_minutes, room_emptied_at
         FROM sessions WHERE id = $1`,
      [id],
    )
  )[0];
