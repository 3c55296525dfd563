import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import type { DefaultEventsMap, ExtendedError, Socket } from 'socket.io';
import { connectError, errorAck } from '../common/errors/ws-ack.js';
import { RateLimiter } from '../common/rate-limit/rate-limiter.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';

/** A socket that keeps sending this many messages in a row past its limit is disconnected. */
const FLOOD_FACTOR = 5;

/**
 * The client address of a handshake, as Fastify's `request.ip` has it for REST: the left-most
 * X-Forwarded-For entry when TRUST_PROXY is on (behind a balancer that sets it), otherwise the
 * peer address. Without TRUST_PROXY the header is ignored: a client could pick its bucket.
 */
export function handshakeAddress(socket: Socket, trustProxy: boolean): string {
  const forwarded = socket.handshake.headers['x-forwarded-for'];
  const first = trustProxy && typeof forwarded === 'string' ? forwarded.split(',')[0].trim() : '';
  return first !== '' ? first : socket.handshake.address;
}

/**
 * A socket's message budget (WS_RATE_LIMIT), kept in the socket's own `data`: no map keyed by
 * socket id, no per-socket middleware closure, nothing to forget at disconnect. A token bucket of
 * WS_RATE_LIMIT tokens refilled at WS_RATE_LIMIT a second, held as one number (the time it would
 * be full again) rather than tokens and a refill time: every double field of a socket's `data` is
 * a 16-byte box of its own.
 */
export interface MessageBudget {
  /**
   * Date.now() at which the bucket is full again (0: full); the tokens left at `now` are
   * WS_RATE_LIMIT - max(0, fullAt - now) / (1000 / WS_RATE_LIMIT).
   */
  fullAt: number;
  /** Messages refused in a row: FLOOD_FACTOR times the limit disconnects the socket. */
  refusedInARow: number;
}

/** Rounding of the sums of 1000 / WS_RATE_LIMIT ms: well under a millisecond. */
const EPSILON_MS = 1e-6;

/**
 * The socket rate limits. WS_CONNECT_RATE_LIMIT handshakes a minute per client address (bursts up
 * to the same number): an attempt past it fails with connect_error "RATE_LIMITED". WS_RATE_LIMIT
 * messages a second per socket (bursts up to the same number): extra messages are not processed,
 * they get an acknowledgement with RATE_LIMITED; a socket that goes on flooding (FLOOD_FACTOR
 * times the limit refused in a row) is disconnected. Counters are per instance: N instances
 * behind a balancer admit up to N times the rates.
 */
@Injectable()
export class SocketRateLimit implements OnModuleDestroy {
  private readonly handshakes: RateLimiter;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    this.handshakes = new RateLimiter(config.wsConnectRateLimit, 60_000);
  }

  /** A fresh budget, for the socket's `data` at its handshake. */
  freshBudget(): MessageBudget {
    return { fullAt: 0, refusedInARow: 0 };
  }

  /**
   * Takes a handshake attempt of the socket's address: undefined when it may go on, otherwise the
   * error for the namespace middleware's `next` (the client's connect_error: message
   * RATE_LIMITED, `data` with the code and `retryAfter` in seconds). Counted before the token is
   * checked, so attempts with bad tokens use up the budget too.
   */
  admitHandshake(socket: Socket): ExtendedError | undefined {
    const verdict = this.handshakes.take(handshakeAddress(socket, this.config.trustProxy));
    if (verdict.allowed) {
      return undefined;
    }
    return connectError('RATE_LIMITED', { retryAfter: Math.ceil(verdict.retryAfterMs / 1000) });
  }

  /**
   * Takes one message from the socket's budget. False when refused: the acknowledgement (if any)
   * gets RATE_LIMITED, and a socket that goes on flooding is disconnected.
   */
  admitMessage(
    socket: Socket<DefaultEventsMap, DefaultEventsMap, DefaultEventsMap, MessageBudget>,
    ack: unknown,
  ): boolean {
    const budget = socket.data;
    const capacity = this.config.wsRateLimit;
    const interval = 1000 / capacity;
    const now = Date.now();
    const fullAt = Math.max(budget.fullAt, now);
    // At least one token left: (fullAt - now) / interval tokens are missing out of `capacity`.
    if (fullAt - now <= (capacity - 1) * interval + EPSILON_MS) {
      budget.fullAt = fullAt + interval;
      budget.refusedInARow = 0;
      return true;
    }
    budget.refusedInARow += 1;
    if (typeof ack === 'function') {
      (ack as (reply: unknown) => void)(
        errorAck('RATE_LIMITED', `More than ${capacity} messages a second`),
      );
    }
    if (budget.refusedInARow >= FLOOD_FACTOR * capacity) {
      socket.disconnect(true);
    }
    return false;
  }

  onModuleDestroy(): void {
    this.handshakes.close();
  }
}
