import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
} from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { SessionLifecycleService } from '../sessions/session-lifecycle.service.js';
import { warnDatabaseUnavailable } from '../database/outage-log.js';
import { isDatabaseUnavailable } from '../database/postgres-errors.js';

/** How often deadlines are looked for: an auto-end is due at most this long after its grace period. */
const TICK_MS = 500;

/**
 * The session's row with id `param`, locked, as `locked` (SKIP LOCKED: a row another instance
 * holds is theirs), for a re-check written over it. The re-check's conditions are not on the scan
 * of sessions itself: a status there would let the planner read a partial index by status whole
 * instead of the key (see the PartialIndexesByKey migration).
 */
function lockedById(param: string): string {
  return `WITH locked AS (SELECT * FROM sessions WHERE id = ${param} FOR UPDATE SKIP LOCKED)`;
}

/**
 * Keeps the deadlines that no in-memory timer may own: every instance runs this loop, against the
 * database, so whatever instance is alive (or the same one after a restart) finds them. Every
 * tick: complete calls whose room has been empty for the grace period (auto-end), calls
 *   longer than the cap (max-duration), and mark sessions nobody started in time (no-show).
 */
@Injectable()
export class CallReconciler implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(CallReconciler.name);
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly lifecycle: SessionLifecycleService,
    private readonly metrics: MetricsService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.tick();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** Completes every call whose room has stayed empty for the grace period; returns how many. */
  async endAbandonedCalls(): Promise<number> {
    const due: { id: string }[] = await this.db.query(
      `SELECT id FROM sessions
        WHERE status = 'In Progress' AND room_emptied_at IS NOT NULL
          AND room_emptied_at <= now() - make_interval(secs => $1)`,
      [this.config.emptyRoomTimeoutSeconds],
    );
    let ended = 0;
    for (const { id } of due) {
      const change = await this.db.transaction(async (m) => {
        // Re-checked under the row lock: a participant may have rejoined, another instance may
        // be ending it right now (SKIP LOCKED: then it is theirs).
        const rows: { room_emptied_at: Date }[] = await m.query(
          `${lockedById('$1')}
           SELECT room_emptied_at FROM locked
            WHERE status = 'In Progress' AND room_emptied_at <= now() - make_interval(secs => $2)`,
          [id, this.config.emptyRoomTimeoutSeconds],
        );
        const emptiedAt = rows[0]?.room_emptied_at;
        return emptiedAt
          ? this.lifecycle.applyWithin(m, {
              sessionId: id,
              cause: 'auto-end',
              actorId: null,
              endedAt: emptiedAt,
            })
          : null;
      });
      if (change) {
        ended++;
        this.lifecycle.publish(change);
      }
    }
    return ended;
  }

  /** Completes every call running longer than `MAX_CALL_MINUTES` (cause `max-duration`). */
  async endOverlongCalls(): Promise<number> {
    return this.applyDue(
      'max-duration',
      `status = 'In Progress' AND video_call_started <= now() - make_interval(mins => $1)`,
      this.config.maxCallMinutes,
    );
  }

  /**
   * Marks `No Show` every Confirmed session whose call has not started `NO_SHOW_AFTER_MINUTES`
   * after its scheduled start; the lifecycle records from the presence rows who never came.
   */
  async markNoShows(): Promise<number> {
    return this.applyDue(
      'no-show',
      `status = 'Confirmed' AND scheduled_start <= now() - make_interval(mins => $1)`,
      this.config.noShowAfterMinutes,
    );
  }

  /**
   * Applies a system transition to every session matching `due` (with `$1` = minutes). Each one is
   * re-checked under its row lock (SKIP LOCKED: a session another instance is handling is theirs),
   * and the transition itself is conditional, so instances running this together apply it once.
   */
  private async applyDue(
    cause: 'max-duration' | 'no-show',
    due: string,
    minutes: number,
  ): Promise<number> {
    const rows: { id: string }[] = await this.db.query(
      `SELECT id FROM sessions WHERE ${due} ORDER BY id LIMIT 500`,
      [minutes],
    );
    let applied = 0;
    for (const { id } of rows) {
      const change = await this.db.transaction(async (m) => {
        const locked: { id: string }[] = await m.query(
          `${lockedById('$2')} SELECT id FROM locked WHERE ${due}`,
          [minutes, id],
        );
        return locked[0]
          ? this.lifecycle.applyWithin(m, { sessionId: id, cause, actorId: null })
          : null;
      });
      if (change) {
        applied++;
        this.lifecycle.publish(change);
      }
    }
    return applied;
  }

  private async tick(): Promise<void> {
    const run = this.runOnce();
    this.running = run;
    await run;
    if (!this.stopped) {
      this.timer = setTimeout(() => void this.tick(), TICK_MS);
    }
  }

  private async runOnce(): Promise<void> {
    const startedAt = performance.now();
    try {
      await this.endAbandonedCalls();
      await this.endOverlongCalls();
      await this.markNoShows();
      this.metrics.reconcilerRun('ok', (performance.now() - startedAt) / 1000);
    } catch (error) {
      this.metrics.reconcilerRun('error', (performance.now() - startedAt) / 1000);
      // The database may be briefly unreachable; the next tick tries again.
      if (isDatabaseUnavailable(error)) {
        warnDatabaseUnavailable('call reconciler', error);
      } else {
        this.logger.error(
          `reconciliation failed: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
    }
  }
}
