import { io, type Socket } from 'socket.io-client';

/** A real socket.io client on the room namespace, WebSocket transport, as a browser would use it. */
export function connectRoom(
  baseUrl: string,
  token: string | undefined,
  options: { origin?: string } = {},
): Socket {
  return io(`${baseUrl}/video-calls`, {
    auth: token === undefined ? {} : { token },
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    extraHeaders: options.origin ? { origin: options.origin } : undefined,
  });
}

/** Resolves once connected; rejects with the connect_error message. */
export function connected(socket: Socket, timeoutMs = 5000): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('connect timeout')), timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once('connect_error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** The handshake's outcome: `connected`, or the connect_error's message and data. */
export async function handshakeOutcome(
  socket: Socket,
): Promise<{ message: string; data?: unknown }> {
  try {
    await connected(socket);
    return { message: 'connected' };
  } catch (error) {
    const { message, data } = error as Error & { data?: unknown };
    return { message, data };
  }
}

export async function connectAs(baseUrl: string, token: string): Promise<Socket> {
  return connected(connectRoom(baseUrl, token));
}

/** Emits with an acknowledgement and returns it. */
export function request<T = any>(
  socket: Socket,
  event: string,
  payload: unknown,
  timeoutMs = 5000,
): Promise<T> {
  return socket.timeout(timeoutMs).emitWithAck(event, payload) as Promise<T>;
}

/** The next `event` (matching `filter`) within the time limit. */
export function nextEvent<T = any>(
  socket: Socket,
  event: string,
  filter: (payload: T) => boolean = () => true,
  timeoutMs = 5000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.off(event, handler);
      reject(new Error(`no ${event} within ${timeoutMs} ms`));
    }, timeoutMs);
    const handler = (payload: T) => {
      if (filter(payload)) {
        clearTimeout(timer);
        socket.off(event, handler);
        resolve(payload);
      }
    };
    socket.on(event, handler);
  });
}

/** Collects every `event` the socket receives from now on. */
export function record<T = any>(socket: Socket, event: string): T[] {
  const seen: T[] = [];
  socket.on(event, (payload: T) => seen.push(payload));
  return seen;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns a truthy value or the time runs out. */
export async function eventually<T>(
  check: () => Promise<T | undefined | null | false>,
  timeoutMs = 10_000,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`condition not met within ${timeoutMs} ms`);
    }
    await sleep(everyMs);
  }
}
