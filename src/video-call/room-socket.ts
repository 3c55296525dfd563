import type { DefaultEventsMap, Socket } from 'socket.io';
import type { AuthUser } from '../auth/auth-user.js';
import type { MessageBudget } from './socket-rate-limit.js';

/**
 * What a socket of the room namespace carries in its own `data`: its user, its token clock, its
 * message budget and its room commands. It lives and dies with the socket, so nothing keyed by
 * socket id has to be forgotten at disconnect.
 */
export interface SocketState extends MessageBudget {
  user: AuthUser;
  /**
   * When the socket's token expires, in seconds since the epoch (its `exp`): a small integer, held
   * in the object itself, where milliseconds would take a 16-byte box per socket.
   */
  expiresAt: number;
  /** Whether `token-expiring` was sent for the current token. */
  warned: boolean;
  /** The socket's join/leave in progress: room commands of one socket apply in the order sent. */
  roomCommands?: Promise<void>;
  /** A session whose room the socket entered ahead of its join's verdict: no signals into it yet. */
  entering?: string;
  /** A session whose room the socket is leaving by its own `leave-room` (not a disconnect). */
  leaving?: string;
}

export type RoomSocket = Socket<DefaultEventsMap, DefaultEventsMap, DefaultEventsMap, SocketState>;

/**
 * A time in seconds since the epoch, as a small integer (Smi) when it is a whole number up to
 * 2^31 - 1 (every token `exp` until 2038): V8 keeps such a field in the object, where a double,
 * even an integral one from a division, gets a 16-byte box per socket.
 */
export function epochSeconds(time: Date): number {
  const seconds = time.getTime() / 1000;
  return Number.isInteger(seconds) && seconds >= 0 && seconds <= 0x7fffffff ? seconds | 0 : seconds;
}

/**
 * A new socket's state. Every field in one literal (no spread, nothing added later): the object
 * keeps them all in-object, with no separate property array.
 */
export function newSocketState(
  user: AuthUser,
  expiresAt: Date,
  budget: MessageBudget,
): SocketState {
  return {
    user,
    expiresAt: epochSeconds(expiresAt),
    warned: false,
    fullAt: budget.fullAt,
    refusedInARow: 0,
    roomCommands: undefined,
    entering: undefined,
    leaving: undefined,
  };
}
