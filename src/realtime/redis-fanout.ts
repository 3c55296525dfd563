import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { createShardedAdapter } from '@socket.io/redis-adapter';
import { createClient, type RedisClientType } from 'redis';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';

export type FanoutStatus = 'disabled' | 'up' | 'down';

/**
 * Socket.io fan-out between instances over Redis sharded pub/sub (Redis 7+), when REDIS_URL is set.
 * Redis carries room events only - presence and status live in PostgreSQL - so an outage never
 * stops an instance: it logs, shows in readiness details, and the clients reconnect by themselves
 * (subscriptions are restored and what was published meanwhile is sent once Redis is back).
 */
@Injectable()
export class RedisFanout implements OnApplicationShutdown {
  private readonly logger = new Logger(RedisFanout.name);
  private readonly pub?: RedisClientType;
  private readonly sub?: RedisClientType;
  private lastError = '';

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    if (!config.redisUrl) {
      return;
    }
    this.pub = createClient({
      url: config.redisUrl,
      socket: {
        reconnectStrategy: (retries) => Math.min(100 * 2 ** retries, 2000),
        connectTimeout: 2000,
      },
    });
    this.sub = this.pub.duplicate();
    for (const client of [this.pub, this.sub]) {
      this.settleFanoutCommands(client);
    }
    for (const [name, client] of [
      ['publisher', this.pub],
      ['subscriber', this.sub],
    ] as const) {
      client.on('error', (error: Error) => {
        if (error.message !== this.lastError) {
          this.lastError = error.message;
          this.logger.warn(
            `Redis ${name}: ${error.message}; room events do not cross instances until it is back`,
          );
        }
      });
      client.on('ready', () => {
        this.lastError = '';
        this.logger.log(`Redis ${name} connected`);
      });
      client.connect().catch(() => undefined); // retried by reconnectStrategy; errors are logged above
    }
  }

  /**
   * The adapter sends these without handling their failure: a command in flight when Redis goes
   * away is rejected ("Socket closed unexpectedly"), and an unhandled rejection would end the
   * process. A lost fan-out message is what a Redis outage means anyway (presence and status are
   * PostgreSQL's, and every instance repairs what its sockets missed at its next beat); the
   * subscriptions are restored by the client when it reconnects.
   */
  private settleFanoutCommands(client: RedisClientType): void {
    for (const name of ['sSubscribe', 'sUnsubscribe', 'sPublish'] as const) {
      const command = (client[name] as (...args: unknown[]) => Promise<unknown>).bind(client);
      (client as unknown as Record<string, unknown>)[name] = (...args: unknown[]) =>
        command(...args).catch((error: Error) => {
          if (error.message !== this.lastError) {
            this.lastError = error.message;
            this.logger.warn(`Redis ${name} failed: ${error.message}`);
          }
          return undefined;
        });
    }
  }

  /** The Socket.io adapter factory, or undefined for the in-memory adapter of a single instance. */
  adapter(): ReturnType<typeof createShardedAdapter> | undefined {
    return this.pub && this.sub
      ? createShardedAdapter(this.pub, this.sub, { subscriptionMode: 'dynamic' })
      : undefined;
  }

  status(): FanoutStatus {
    if (!this.pub || !this.sub) {
      return 'disabled';
    }
    return this.pub.isReady && this.sub.isReady ? 'up' : 'down';
  }

  async onApplicationShutdown(): Promise<void> {
    for (const client of [this.pub, this.sub]) {
      if (client?.isOpen) {
        await client.close().catch(() => undefined);
      }
    }
  }
}
