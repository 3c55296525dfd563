import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { Subscription } from 'rxjs';
import type { Namespace } from 'socket.io';
import { SessionEvents, type SessionStatusChanged } from '../sessions/session-events.js';
import { sessionOfRoom } from '../video-call/room-names.js';

/** The HTTP metrics' labels: one request is counted and timed under the same ones. */
const HTTP_LABELS = ['method', 'route', 'status_code'] as const;
/** Seconds; calls are booked for 15 to 180 minutes and capped at MAX_CALL_MINUTES. */
const CALL_DURATION_BUCKETS = [
  60, 300, 600, 1200, 1800, 2700, 3600, 4500, 5400, 7200, 10800, 14400,
];

/**
 * The service's Prometheus metrics, in a registry of its own per application (tests run several
 * applications in one process). Other parts report through the narrow methods below; status
 * transitions and call durations are read from SessionEvents, whatever caused them.
 */
@Injectable()
export class MetricsService implements OnModuleDestroy {
  readonly registry = new Registry();
  private readonly subscription: Subscription;
  private namespace?: Namespace;

  private readonly httpRequests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered, by method, route pattern and status code',
    labelNames: HTTP_LABELS,
    registers: [this.registry],
  });

  private readonly httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency (until the response is sent), by method, route pattern and status code',
    labelNames: HTTP_LABELS,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  private readonly transitions = new Counter({
    name: 'session_status_transitions_total',
    help: 'Committed session status changes, by from, to and cause',
    labelNames: ['from', 'to', 'cause'] as const,
    registers: [this.registry],
  });

  private readonly callDurations = new Histogram({
    name: 'video_call_duration_seconds',
    help: 'Length of completed calls (videoCallStarted to videoCallEnded), by the cause that ended them',
    labelNames: ['cause'] as const,
    buckets: CALL_DURATION_BUCKETS,
    registers: [this.registry],
  });

  private readonly reconcilerRuns = new Histogram({
    name: 'call_reconciler_run_duration_seconds',
    help: 'Runs of the reconciler loop (auto-end, call length cap, no-show), by outcome; _count = runs',
    labelNames: ['outcome'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  private readonly presenceRepairs = new Counter({
    name: 'presence_repairs_total',
    help:
      'Presence kept true after a fault, by kind: fenced (this instance learnt it was declared dead), ' +
      'buried (a dead instance swept), closed (a stay whose socket was gone), restored (a socket ' +
      'in a room whose stay was missing), evicted (a socket taken out of a room that is over), ' +
      'extended (a stay cut short by a burial while its socket was still in the room)',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  private readonly turnCredentials = new Counter({
    name: 'turn_credentials_issued_total',
    help: 'TURN credentials handed out, by where: rest (GET ice-servers) or join-room (its acknowledgement)',
    labelNames: ['via'] as const,
    registers: [this.registry],
  });

  constructor(sessionEvents: SessionEvents) {
    collectDefaultMetrics({ register: this.registry });
    const namespaceOf = () => this.namespace;
    new Gauge({
      name: 'video_call_open_sockets',
      help: 'Sockets connected to the /video-calls namespace on this instance',
      registers: [this.registry],
      collect() {
        this.set(namespaceOf()?.sockets.size ?? 0);
      },
    });
    new Gauge({
      name: 'video_call_active_rooms',
      help: 'Session rooms with at least one socket on this instance',
      registers: [this.registry],
      collect() {
        this.set(countSessionRooms(namespaceOf()));
      },
    });
    this.subscription = sessionEvents.statusChanged$.subscribe((change) =>
      this.onStatusChanged(change),
    );
  }

  onModuleDestroy(): void {
    this.subscription.unsubscribe();
  }

  /** The gateway hands over its namespace once; sockets and rooms are counted at scrape time. */
  observeNamespace(namespace: Namespace): void {
    this.namespace = namespace;
  }

  httpRequestDone(method: string, route: string, statusCode: number, seconds: number): void {
    const labels = { method, route, status_code: String(statusCode) };
    this.httpRequests.inc(labels);
    this.httpDuration.observe(labels, seconds);
  }

  presenceRepair(kind: 'fenced' | 'buried' | 'closed' | 'restored' | 'evicted' | 'extended'): void {
    this.presenceRepairs.inc({ kind });
  }

  turnCredentialIssued(via: 'rest' | 'join-room'): void {
    this.turnCredentials.inc({ via });
  }

  reconcilerRun(outcome: 'ok' | 'error', seconds: number): void {
    this.reconcilerRuns.observe({ outcome }, seconds);
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  private onStatusChanged(change: SessionStatusChanged): void {
    this.transitions.inc({ from: change.from, to: change.to, cause: change.cause });
    if (change.to === 'Completed' && change.videoCallStarted && change.videoCallEnded) {
      const seconds = (change.videoCallEnded.getTime() - change.videoCallStarted.getTime()) / 1000;
      this.callDurations.observe({ cause: change.cause }, Math.max(0, seconds));
    }
  }
}

/** Session rooms only: Socket.io also keeps a room per socket id, and each socket's user room. */
function countSessionRooms(namespace: Namespace | undefined): number {
  let count = 0;
  for (const room of namespace?.adapter.rooms.keys() ?? []) {
    if (sessionOfRoom(room)) {
      count++;
    }
  }
  return count;
}
