import { Injectable, OnModuleDestroy } from '@nestjs/common';
import type { Namespace } from 'socket.io';
import { TokenService } from '../auth/token.service.js';
import { DomainError } from '../common/errors/domain-error.js';
import { epochSeconds, type RoomSocket } from './room-socket.js';

/** How often the sockets' token clocks are checked (token expiries are whole seconds anyway). */
const EXPIRY_SWEEP_MS = 1000;

/** Sent this long before a socket's token expires, so the client can renew it. */
const EXPIRY_WARNING_MS = 60_000;

/** Who tells the socket (the gateway, which does all the emitting). */
export interface TokenClockListener {
  /** About EXPIRY_WARNING_MS before the socket's token expires, once per token. */
  tokenExpiring(socket: RoomSocket, expiresAt: Date): void;
  /** The token has expired: the socket is disconnected right after this. */
  tokenExpired(socket: RoomSocket): void;
}

/**
 * The sockets' token clocks: `token-expiring` once about a minute before a socket's token expires,
 * then at the expiry `token-expired` (the reason, since a server-side disconnect carries none) and
 * the disconnect; `renew-token` starts the clock again. Each clock lives in its socket's `data`;
 * one shared timer checks them all (not a timer per socket).
 */
@Injectable()
export class SocketTokenClock implements OnModuleDestroy {
  private sweep?: NodeJS.Timeout;
  private listener?: TokenClockListener;

  constructor(private readonly tokens: TokenService) {}

  /** Starts checking the clocks of the namespace's sockets. */
  start(namespace: Namespace, listener: TokenClockListener): void {
    this.listener = listener;
    this.sweep = setInterval(() => this.sweepExpiries(namespace), EXPIRY_SWEEP_MS);
    this.sweep.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.sweep);
  }

  /** A new socket: warned at once if its token is about to expire. */
  connected(socket: RoomSocket): void {
    this.warnIfExpiring(socket, Date.now());
  }

  /** A fresh access token of the same user keeps the socket past the old one's expiry. */
  async renew(socket: RoomSocket, token: string): Promise<{ expiresAt: string }> {
    const renewed = await this.tokens.verify(token);
    if (renewed.id !== socket.data.user.id) {
      throw new DomainError('UNAUTHENTICATED', 'The token belongs to another user');
    }
    socket.data.user = { id: renewed.id, role: renewed.role };
    socket.data.expiresAt = epochSeconds(renewed.expiresAt);
    socket.data.warned = false;
    this.warnIfExpiring(socket, Date.now());
    return { expiresAt: renewed.expiresAt.toISOString() };
  }

  private sweepExpiries(namespace: Namespace): void {
    const now = Date.now();
    for (const socket of namespace.sockets.values() as Iterable<RoomSocket>) {
      if (socket.data.expiresAt * 1000 <= now) {
        this.listener?.tokenExpired(socket);
        socket.disconnect(true);
      } else {
        this.warnIfExpiring(socket, now);
      }
    }
  }

  /** `token-expiring`, once per token, when less than EXPIRY_WARNING_MS is left. */
  private warnIfExpiring(socket: RoomSocket, now: number): void {
    const expiresAt = socket.data.expiresAt * 1000;
    if (!socket.data.warned && expiresAt - now <= EXPIRY_WARNING_MS) {
      socket.data.warned = true;
      this.listener?.tokenExpiring(socket, new Date(expiresAt));
    }
  }
}
