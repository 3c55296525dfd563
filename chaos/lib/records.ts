/**
 * What a chaos run records, and all the checker reads. Times are milliseconds since the epoch on
 * this machine's clock: every process (clients, instances, PostgreSQL) runs on the one machine, so
 * a client's timeline and the server's timestamps can be compared directly.
 */

import type { Counters } from './participant.js';

export type FaultKind = 'kill' | 'freeze' | 'postgres' | 'redis' | 'deploy';
export const FAULT_KINDS: readonly FaultKind[] = ['kill', 'freeze', 'postgres', 'redis', 'deploy'];

export interface FaultRecord {
  kind: FaultKind;
  /** Instance index (0-2) for kill, freeze and deploy. */
  target?: number;
  /** When the fault was applied (signal sent, server stopped). */
  start: number;
  /** When it was undone: SIGCONT sent, server answering again, instance listening again. */
  end: number;
  /** e.g. "SIGTERM exit code 0 after 1.2 s". */
  note?: string;
}

/** One process life of an instance: from spawn to exit. */
export interface InstanceLife {
  index: number;
  port: number;
  spawnAt: number;
  /** When it printed "listening on" (undefined: it never did). */
  upAt?: number;
  exitAt?: number;
  exit?: string;
  /** The process id, to match the `instances` rows it registered (`process` = `host:pid`). */
  pid?: number;
  /** Rows of the `instances` table this life registered, new incarnations after a burial included. */
  instanceIds: string[];
}

export type TimelineEvent =
  | { t: number; type: 'connected'; socket: string }
  | { t: number; type: 'connect-failed'; reason: string }
  | { t: number; type: 'join-sent'; socket: string }
  | { t: number; type: 'join-ok'; socket: string; sentAt: number; status: string }
  | { t: number; type: 'join-failed'; socket: string; code: string }
  | { t: number; type: 'leave-sent'; socket: string }
  | { t: number; type: 'leave-ack'; socket: string; code: string }
  | { t: number; type: 'close'; socket: string }
  | { t: number; type: 'disconnect'; socket: string; reason: string }
  | { t: number; type: 'status'; socket: string; status: string; videoCallEnded: string | null }
  /** The client learnt the call is over (status heard or read over REST): it is out of the room. */
  | { t: number; type: 'ended'; socket?: string; how: string }
  | { t: number; type: 'renewed'; socket: string; ok: boolean }
  | { t: number; type: 'token-expired'; socket: string };

export interface ParticipantRecord {
  userId: string;
  role: 'client' | 'psychologist';
  timeline: TimelineEvent[];
}

export interface HistoryRow {
  from: string;
  to: string;
  at: string;
  cause: string;
}

export interface CallRecord {
  sessionId: string;
  createdAt: number;
  participants: ParticipantRecord[];
  /** Read after the run. */
  status?: string;
  videoCallEnded?: string | null;
  history?: HistoryRow[];
  /** When the drain made both participants leave for good (the calm end of the run). */
  drainedAt?: number;
}

export interface RestRecord {
  t: number;
  /** How long the request took. */
  ms: number;
  method: string;
  route: string;
  status: number;
  /** The error body's `code`, or "timeout" / "network" when no answer came. */
  code?: string;
  /** 5xx bodies that are not JSON come from nginx, not from the service. */
  fromNginx?: boolean;
}

export interface PresenceRow {
  sessionId: string;
  socketId: string;
  userId: string;
  instanceId: string;
  joinedAt: number;
  leftAt: number | null;
  leftReason: string | null;
}

export interface PresenceSnapshot {
  at: number;
  openStays: PresenceRow[];
  /** Sockets that are in a room by their client's timeline at `at`. */
  inRoom: Array<{ sessionId: string; socketId: string; userId: string }>;
}

export interface RunRecord {
  startedAt: number;
  /** When the fault phase ended (faults over, every process back). */
  faultsEndedAt: number;
  /** When sessions and presence were read for the check. */
  collectedAt: number;
  graceMs: number;
  heartbeatMs: number;
  faults: FaultRecord[];
  lives: InstanceLife[];
  calls: CallRecord[];
  rest: RestRecord[];
  /** Every `room_presence` row at the end: which instance held which socket. */
  presence: PresenceRow[];
  /** `instances` rows (id, started_at): to tell which process held a socket. */
  instanceRows: Array<{ id: string; startedAt: number }>;
  snapshot?: PresenceSnapshot;
  meta?: RunMeta;
}

export interface RunMeta {
  seed: number;
  mode: string;
  counters: Counters;
  setupFailures: number;
  targetCalls: number;
  jwtExpiresIn: number;
  unexpectedExits: number;
}
