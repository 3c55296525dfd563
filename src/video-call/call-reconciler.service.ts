import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  OnApplicationBootstrap,
} from '@nestjs/common';
import { PeriodicTask } from '../common/periodic-task.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { Sql, type Queryable } from '../database/sql.js';
import { MetricsService } from '../metrics/metrics.service.js';
import type { SessionStatusChanged } from '../sessions/session-events.js';
import { SessionLifecycleService } from '../sessions/session-lifecycle.service.js';
import { CALL_DEADLINES, type CallDeadline } from '../sessions/session-policies.js';
import {
  ABANDONED_CALLS,
  REPAIR_AUTO_END_DEADLINE,
  dueSessions,
  LOCKED_IF_ABANDONED,
  lockedIfDue,
} from './call-deadlines.sql.js';

/** How often deadlines are looked for: an auto-end is due at most this long after its grace period. */
const TICK_MS = 500;

/**
 * Keeps the deadlines that no in-memory timer may own: every instance runs this loop, against the
 * database, so whatever instance is alive (or the same one after a restart) finds them. Every
 * tick: complete calls whose room has been empty for the grace period (auto-end), then apply
 * CALL_DEADLINES (the length cap, no-show).
 */
@Injectable()
export class CallReconciler implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly loop = new PeriodicTask('reconciliation', () => this.tick(), TICK_MS);

  constructor(
    private readonly sql: Sql,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly lifecycle: SessionLifecycleService,
    private readonly metrics: MetricsService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.loop.runNow();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.loop.stop();
  }

  /** Completes every call whose room has stayed empty for the grace period; returns how many. */
  async endAbandonedCalls(): Promise<number> {
    const grace = this.config.emptyRoomTimeoutSeconds;
    const due = await this.sql.rows<{ id: string }>(ABANDONED_CALLS.name, ABANDONED_CALLS.text, [
      grace,
    ]);
    return this.applyEach(due, async (tx, id) => {
      const rows = await tx.query<{ room_emptied_at: Date }[]>(LOCKED_IF_ABANDONED, [id, grace]);
      const emptiedAt = rows[0]?.room_emptied_at;
      if (!emptiedAt) {
        await tx.query(REPAIR_AUTO_END_DEADLINE, [id]);
        return null;
      }
      return this.lifecycle.applyWithin(tx, {
        sessionId: id,
        cause: 'auto-end',
        actorId: null,
        endedAt: emptiedAt,
      });
    });
  }

  /** Completes every call running longer than `MAX_CALL_MINUTES` (cause `max-duration`). */
  endOverlongCalls(): Promise<number> {
    return this.applyDue(deadlineOf('max-duration'));
  }

  /**
   * Marks `No Show` every Confirmed session whose call has not started `NO_SHOW_AFTER_MINUTES`
   * after its scheduled start; the lifecycle records from the presence rows who never came.
   */
  markNoShows(): Promise<number> {
    return this.applyDue(deadlineOf('no-show'));
  }

  /**
   * Applies a deadline's transition to every session past it. Each one is re-checked under its
   * row lock, and the transition itself is conditional, so instances running this together apply
   * it once.
   */
  private async applyDue(deadline: CallDeadline): Promise<number> {
    const minutes = this.config[deadline.minutes];
    const due = dueSessions(deadline);
    const recheck = lockedIfDue(deadline);
    const rows = await this.sql.rows<{ id: string }>(due.name, due.text, [minutes]);
    return this.applyEach(rows, async (tx, id) => {
      const locked = await tx.query<{ id: string }[]>(recheck, [minutes, id]);
      return locked[0]
        ? this.lifecycle.applyWithin(tx, { sessionId: id, cause: deadline.cause, actorId: null })
        : null;
    });
  }

  /** `apply` for each session in a transaction of its own; its change is published after the commit. */
  private async applyEach(
    sessions: readonly { id: string }[],
    apply: (tx: Queryable, id: string) => Promise<SessionStatusChanged | null>,
  ): Promise<number> {
    let applied = 0;
    for (const { id } of sessions) {
      const change = await this.sql.transaction((tx) => apply(tx, id));
      if (change) {
        applied++;
        this.lifecycle.publish(change);
      }
    }
    return applied;
  }

  private async tick(): Promise<number> {
    const startedAt = performance.now();
    try {
      await this.endAbandonedCalls();
      for (const deadline of CALL_DEADLINES) {
        await this.applyDue(deadline);
      }
      this.metrics.reconcilerRun('ok', (performance.now() - startedAt) / 1000);
    } catch (error) {
      // The database may be briefly unreachable; the next tick tries again.
      this.metrics.reconcilerRun('error', (performance.now() - startedAt) / 1000);
      throw error;
    }
    return TICK_MS;
  }
}

function deadlineOf(cause: CallDeadline['cause']): CallDeadline {
  return CALL_DEADLINES.find((d) => d.cause === cause)!;
}
