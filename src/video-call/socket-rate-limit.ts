import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import type { Socket } from 'socket.io';
import { RateLimiter } from '../common/rate-limit/rate-limiter.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';

/** A socket that keeps sending this many messages in a row past its limit is disconnected. */
const FLOOD_FACTOR = 5;

/**
 * WS_RATE_LIMIT messages a second per socket (bursts up to the same number). Extra messages are
 * not processed: they get an acknowledgement with RATE_LIMITED; a socket that goes on flooding
 * (FLOOD_FACTOR times the limit refused in a row) is disconnected.
 */
@Injectable()
export class SocketRateLimit implements OnModuleDestroy {
  private readonly limiter: RateLimiter;
  private readonly refusedInARow = new Map<string, number>();

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    this.limiter = new RateLimiter(config.wsRateLimit, 1000);
  }

  attach(socket: Socket): void {
    socket.use((packet, next) => {
      const verdict = this.limiter.take(socket.id);
      if (verdict.allowed) {
        this.refusedInARow.delete(socket.id);
        return next();
      }
      const refused = (this.refusedInARow.get(socket.id) ?? 0) + 1;
      this.refusedInARow.set(socket.id, refused);
      const ack: unknown = packet[packet.length - 1];
      if (typeof ack === 'function') {
        (ack as (reply: unknown) => void)({
          ok: false,
          error: {
            code: 'RATE_LIMITED',
            message: `More than ${this.config.wsRateLimit} messages a second`,
          },
        });
      }
      if (refused >= FLOOD_FACTOR * this.config.wsRateLimit) {
        socket.disconnect(true);
      }
    });
  }

  detach(socket: Socket): void {
    this.limiter.forget(socket.id);
    this.refusedInARow.delete(socket.id);
  }

  onModuleDestroy(): void {
    this.limiter.close();
  }
}
