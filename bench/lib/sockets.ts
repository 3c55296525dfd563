import { io, type Socket } from 'socket.io-client';

/** Runs `fn` over `items` with at most `limit` at a time. */
export async function mapLimit<T, R>(
  items: T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** One browser tab: its own WebSocket connection (forceNew), JWT in the handshake. */
export function connect(url: string, token: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = io(`${url}/video-calls`, {
      auth: { token },
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      timeout: 60_000,
    });
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (error) => {
      socket.close();
      reject(error);
    });
  });
}

export async function expectOk(socket: Socket, event: string, body: unknown): Promise<void> {
  const ack = (await socket.timeout(60_000).emitWithAck(event, body)) as {
    ok: boolean;
    error?: { code: string };
  };
  if (!ack.ok) {
    throw new Error(`${event} failed: ${ack.error?.code ?? JSON.stringify(ack)}`);
  }
}

export async function disconnectAll(sockets: Socket[]): Promise<void> {
  for (const s of sockets) {
    s.disconnect();
  }
  // Let the servers see the closes and run their disconnect handlers.
  await new Promise((r) => setTimeout(r, 1000));
}
