import type { BeforeApplicationShutdown, OnApplicationBootstrap } from '@nestjs/common';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { PeriodicTask } from '../common/periodic-task.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { logJobFailure } from '../database/outage-log.js';
import { Sql, type Queryable } from '../database/sql.js';
import { postWebhook } from './webhook-delivery.js';
import { signWebhook } from './webhook-signature.js';
import {
  ANY_DELIVERY_DUE,
  PURGE_EXPIRED_EVENTS,
  RECORD_ATTEMPT,
  SCHEDULE_DELIVERY,
  TAKE_DUE_DELIVERY,
} from './webhooks.sql.js';

const TICK_MS = 500;
const TIMEOUT_MS = 10_000;
/** Deliveries handled per tick before the loop yields (it goes on at once when there are more). */
const BATCH = 50;
/** Deliveries sent at once by one instance, so that one slow endpoint does not hold up the rest. */
const WORKERS = 4;
/** Old events are purged at start-up and then about this often, by every instance. */
const PURGE_EVERY_MS = 3600_000;
/** Events deleted per purge statement (the rest wait for the next purge). */
const PURGE_BATCH = 5000;
/** Retry schedule: 5 s, then x3 each time, capped at 8 h; 11 attempts span about 20.5 hours. */
const FIRST_RETRY_SECONDS = 5;
const MAX_RETRY_SECONDS = 8 * 3600;
export const MAX_ATTEMPTS = 11;

/** Seconds to wait after the `attempt`-th failed attempt (1-based). */
export function retryDelaySeconds(attempt: number): number {
  return Math.min(MAX_RETRY_SECONDS, FIRST_RETRY_SECONDS * 3 ** (attempt - 1));
}

class ShuttingDown extends Error {}

interface DueDelivery {
  id: string;
  attempt_count: number;
  url: string;
  secret: string;
  event_id: string;
  type: string;
  data: Record<string, unknown>;
  created_at: Date;
}

/**
 * Sends the outbox's deliveries, on every instance. A delivery is taken with FOR UPDATE SKIP
 * LOCKED and kept locked while it is sent, so instances never send it together, and a crash
 * (the lock dies with the connection) leaves it pending for the next taker: at least once. A
 * delivery is not taken while an earlier one of the same session to the same endpoint is still
 * pending, so each endpoint sees a session's events in order.
 */
/**
 * Sends the outbox's deliveries, on every instance. A delivery is taken with FOR UPDATE SKIP
 * LOCKED and kept locked while it is sent, so instances never send it together, and a crash
 * (the lock dies with the connection) leaves it pending for the next taker: at least once. A
 * delivery is not taken while an earlier one of the same session to the same endpoint is still
 * pending, so each endpoint sees a session's events in order.
 */
@Injectable()
export class WebhookDispatcher implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(WebhookDispatcher.name);
  private readonly loop = new PeriodicTask('webhook dispatch', () => this.tick(), TICK_MS);
  private nextPurgeAt = 0;
  /** Aborts the send in flight at shutdown; its transaction rolls back and the delivery stays due. */
  private readonly shutdown = new AbortController();

  constructor(
    private readonly sql: Sql,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.loop.start(0);
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.shutdown.abort();
    await this.loop.stop();
  }

  /**
   * Deletes the events older than WEBHOOK_RETENTION_DAYS that have nothing left to send, with
   * their deliveries and attempts, at most `limit` events at a time. Every instance runs it about
   * once an hour; running it together is harmless. Returns how many.
   */
  async purgeExpired(limit = PURGE_BATCH): Promise<number> {
    const rows = await this.sql.rows(PURGE_EXPIRED_EVENTS.name, PURGE_EXPIRED_EVENTS.text, [
      this.config.webhookRetentionDays,
      limit,
    ]);
    return rows.length;
  }

  /** Sends due deliveries until none is left or the batch is done; returns how many it sent. */
  async dispatchDue(limit = BATCH): Promise<number> {
    let handled = 0;
    while (handled < limit && !this.shutdown.signal.aborted) {
      const sent = await this.sql.transaction((tx) => this.dispatchOne(tx));
      if (!sent) {
        break;
      }
      handled++;
    }
    return handled;
  }

  private async dispatchOne(tx: Queryable): Promise<boolean> {
    const rows = await tx.query<DueDelivery[]>(TAKE_DUE_DELIVERY.text);
    const due = rows[0];
    if (!due) {
      return false;
    }
    const body = JSON.stringify({
      id: due.event_id,
      type: due.type,
      timestamp: due.created_at.toISOString(),
      data: due.data,
    });
    const timestamp = Math.floor(Date.now() / 1000);
    const result = await postWebhook(
      due.url,
      {
        'webhook-id': due.event_id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signWebhook(due.secret, due.event_id, timestamp, body),
      },
      body,
      {
        allowPrivate: this.config.webhookAllowPrivate,
        timeoutMs: TIMEOUT_MS,
        signal: this.shutdown.signal,
      },
    );
    if (this.shutdown.signal.aborted) {
      // Not an attempt: another instance (or this one after its restart) sends it again.
      throw new ShuttingDown();
    }
    const delivered = result.status !== null && result.status >= 200 && result.status < 300;
    const attempt = due.attempt_count + 1;
    const error = result.error ?? (delivered ? null : `answered ${result.status ?? 'nothing'}`);
    const state = delivered ? 'delivered' : attempt >= MAX_ATTEMPTS ? 'failed' : 'pending';
    await tx.query(RECORD_ATTEMPT, [due.id, result.status, error]);
    await tx.query(SCHEDULE_DELIVERY, [due.id, attempt, state, retryDelaySeconds(attempt)]);
    if (state === 'failed') {
      this.logger.warn(`webhook delivery ${due.id} given up after ${attempt} attempts: ${error}`);
    }
    return true;
  }

  /** One cheap look (partial index) before the workers start: most ticks find nothing. */
  private async anythingDue(): Promise<boolean> {
    try {
      const rows = await this.sql.rows<{ due: boolean }>(
        ANY_DELIVERY_DUE.name,
        ANY_DELIVERY_DUE.text,
        [],
      );
      return rows[0]?.due === true;
    } catch (error) {
      logJobFailure(this.logger, 'webhook dispatch', error);
      return false;
    }
  }

  /** One pass: the hourly purge, then the due deliveries; at once again while there are more. */
  private async tick(): Promise<number> {
    if (Date.now() >= this.nextPurgeAt) {
      this.nextPurgeAt = Date.now() + PURGE_EVERY_MS;
      await this.purgeExpired().catch((error: unknown) =>
        this.logger.warn(
          `webhook purge failed: ${error instanceof Error ? error.message : String(error)}`,
        ),
      );
    }
    // allSettled: a failing worker must not leave the others running unawaited at shutdown.
    const results = await Promise.allSettled(
      Array.from({ length: (await this.anythingDue()) ? WORKERS : 0 }, () => this.dispatchDue()),
    );
    let more = false;
    for (const result of results) {
      if (result.status === 'fulfilled') {
        more ||= result.value >= BATCH;
      } else if (!(result.reason instanceof ShuttingDown)) {
        logJobFailure(this.logger, 'webhook dispatch', result.reason);
      }
    }
    return more ? 0 : TICK_MS;
  }
}
