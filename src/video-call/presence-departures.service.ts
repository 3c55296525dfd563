import { Inject, Injectable, Logger } from '@nestjs/common';
import { DomainError } from '../common/errors/domain-error.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { isDatabaseUnavailable } from '../database/postgres-errors.js';
import { Sql } from '../database/sql.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { InstanceRegistry } from './instance-registry.service.js';
import {
  lateStayStatement,
  leaveStatement,
  OPEN_STAYS_OF_INSTANCE,
  type LeaveReason,
} from './presence-stays.sql.js';
import { RoomEvents } from './room-events.js';

/** A socket that left a room, remembered until its stay is known to be closed. */
interface Departure {
  sessionId: string;
  socketId: string;
  reason: LeaveReason;
  /** performance.now() when it left: a monotonic clock, so a late write keeps the real moment. */
  at: number;
  /** The write in flight, if any. */
  write?: Promise<boolean>;
}

/** A stay's key: `sessionId socketId`. */
export const stayKey = (sessionId: string, socketId: string) => `${sessionId} ${socketId}`;

/** A database that cannot be reached is UNAVAILABLE to the caller; anything else is rethrown. */
export function unavailable(error: unknown, message: string): unknown {
  return isDatabaseUnavailable(error) ? new DomainError('UNAVAILABLE', message) : error;
}

/**
 * The sockets of this instance leaving rooms. Each instance is the authority on its own sockets: a
 * socket that leaves is remembered here (with the moment it went) until its stay is written, so a
 * leave while the database is down is written, with its real time, once it is back. After a
 * burial of this instance, the stays of sockets that left meanwhile are extended to their leave.
 */
@Injectable()
export class PresenceDepartures {
  private readonly logger = new Logger(PresenceDepartures.name);
  private readonly departures = new Map<string, Departure>();
  /** Set once the graceful shutdown has closed this instance's stays. */
  private closed = false;
  /**
   * Departures that found their stay closed already, since the last beat that proved this
   * instance alive: if the next beat says it was buried, the burial closed those stays too early.
   */
  private closedBeforeDeparture: Departure[] = [];
  /** Set for a few beats after a beat found this instance buried (see `buried`). */
  private burial?: { since: number; until: number };

  constructor(
    private readonly sql: Sql,
    private readonly instance: InstanceRegistry,
    private readonly roomEvents: RoomEvents,
    private readonly metrics: MetricsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** See PresenceService.depart. */
  depart(sessionId: string, socketId: string, reason: LeaveReason): Promise<boolean> {
    if (this.closed) {
      // The shutdown closed every stay of this instance: the sockets now going leave nothing open.
      return Promise.resolve(false);
    }
    const departure: Departure = { sessionId, socketId, reason, at: performance.now() };
    this.departures.set(stayKey(sessionId, socketId), departure);
    return this.writeDeparture(departure);
  }

  departure(sessionId: string, socketId: string): Promise<boolean> | undefined {
    return this.departures.get(stayKey(sessionId, socketId))?.write;
  }

  /** See PresenceService.closeStale. */
  closeStale(sessionId: string, socketId: string): Promise<boolean> {
    const remembered = this.departures.get(stayKey(sessionId, socketId));
    return remembered
      ? this.writeDeparture(remembered)
      : this.depart(sessionId, socketId, 'disconnect');
  }

  /** A leave of this socket not yet written (the database was down) is written now. */
  async flush(sessionId: string, socketId: string): Promise<void> {
    const pending = this.departures.get(stayKey(sessionId, socketId));
    if (pending) {
      await (pending.write ?? this.writeDeparture(pending));
    }
  }

  /** The shutdown closed this instance's stays: later departures have nothing to write. */
  markClosed(): void {
    this.closed = true;
  }

  /** See PresenceService.forgetWritten. */
  forgetWritten(openStays: ReadonlySet<string>, readSince: number): void {
    for (const [key, departure] of this.departures) {
      if (departure.at < readSince && !departure.write && !openStays.has(key)) {
        this.departures.delete(key);
      }
    }
  }

  /** This incarnation's open stays, as `stayKey`s. */
  async openStays(): Promise<Set<string>> {
    const rows = await this.sql.rows<{ sessionId: string; socketId: string }>(
      OPEN_STAYS_OF_INSTANCE.name,
      OPEN_STAYS_OF_INSTANCE.text,
      [this.instance.id],
    );
    return new Set(rows.map((r) => stayKey(r.sessionId, r.socketId)));
  }

  aliveAt(sentAt: number): void {
    this.closedBeforeDeparture = this.closedBeforeDeparture.filter((d) => d.at >= sentAt);
    if (this.burial && sentAt > this.burial.until) {
      this.burial = undefined;
    }
  }

  /** See PresenceService.buried. */
  buried(since: number): void {
    this.burial = {
      since,
      until: performance.now() + 3 * this.config.presenceHeartbeatSeconds * 1000,
    };
    const late = this.closedBeforeDeparture.filter((d) => d.at >= since);
    this.closedBeforeDeparture = [];
    for (const departure of late) {
      void this.extendStay(departure);
    }
  }

  private async extendStay({ sessionId, socketId, reason, at }: Departure): Promise<void> {
    const { text, values } = lateStayStatement({
      sessionId,
      socketId,
      instanceId: this.instance.id,
      reason,
      secondsAgo: Math.max(0, performance.now() - at) / 1000,
    });
    try {
      if ((await this.sql.underSessionLock<number>(sessionId, text, values)) > 0) {
        this.metrics.presenceRepair('extended');
      }
    } catch (error) {
      this.logger.warn(`stay of socket ${socketId} not extended past its burial: ${String(error)}`);
    }
  }

  /**
   * Writes a departure (one at a time per departure); forgets it once written, keeps it when the
   * write failed. Resolves whether a stay was closed.
   */
  private writeDeparture(departure: Departure): Promise<boolean> {
    if (departure.write) {
      return departure.write;
    }
    const key = stayKey(departure.sessionId, departure.socketId);
    const write = this.leave(departure).then(
      (closed) => {
        if (this.departures.get(key) === departure) {
          this.departures.delete(key);
        }
        if (closed) {
          // Nothing to extend.
        } else if (this.burial && departure.at >= this.burial.since) {
          void this.extendStay(departure);
        } else {
          this.closedBeforeDeparture.push(departure);
        }
        return closed;
      },
      (error: unknown) => {
        departure.write = undefined;
        throw unavailable(
          error,
          'The database cannot be reached: the leave is recorded, with its time, once it is back',
        );
      },
    );
    departure.write = write;
    return write;
  }

  /** Ends a socket's stay as of its departure; see `leaveStatement`. */
  private async leave({ sessionId, socketId, reason, at }: Departure): Promise<boolean> {
    const { text, values } = leaveStatement({
      sessionId,
      socketId,
      reason,
      secondsAgo: Math.max(0, performance.now() - at) / 1000,
    });
    const left = await this.sql.underSessionLock<{
      userId: string;
      otherUserId: string;
      stillPresent: boolean;
    } | null>(sessionId, text, values);
    if (!left) {
      return false;
    }
    if (!left.stillPresent) {
      const { userId, otherUserId } = left;
      this.roomEvents.emit({ type: 'participant-left', sessionId, userId, otherUserId });
    }
    return true;
  }
}
