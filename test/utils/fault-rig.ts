import { Client } from 'pg';
import request from 'supertest';
import type { Socket } from 'socket.io-client';
import type { TestApp } from './test-app.js';
import type { AppProcess } from './app-process.js';
import { connectAs, request as ask } from './socket-client.js';

/**
 * The factories (test/factories) only need `api`: this lets them act through a spawned instance.
 */
export function viaProcess(app: AppProcess): TestApp {
  return { api: request(app.url) } as unknown as TestApp;
}

/** One statement on a connection of its own: readable while the app's pool is cut off. */
export async function queryDb<T = Record<string, unknown>>(
  url: string,
  text: string,
  values: unknown[] = [],
): Promise<T[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text, values)).rows as T[];
  } finally {
    await client.end();
  }
}

/** Who is present in the session's room, by the REST view (`present` of each participant). */
export async function presentUsers(
  app: { url: string },
  auth: string,
  sessionId: string,
): Promise<string[]> {
  const res = await request(app.url)
    .get(`/api/video-calls/session/${sessionId}`)
    .set('Authorization', auth);
  if (res.status !== 200) {
    throw new Error(`presence read failed: ${res.status} ${JSON.stringify(res.body)}`);
  }
  return (res.body.participants as { userId: string; present: boolean }[])
    .filter((p) => p.present)
    .map((p) => p.userId)
    .sort();
}

/** A socket connected to `url` that has joined the session's room (the ack must be ok). */
export async function joinedSocket(url: string, token: string, sessionId: string): Promise<Socket> {
  const socket = await connectAs(url, token);
  const ack = await ask(socket, 'join-room', { sessionId });
  if (!ack.ok) {
    socket.disconnect();
    throw new Error(`join refused: ${JSON.stringify(ack)}`);
  }
  return socket;
}

/**
 * Open stays that belong to an instance no longer alive: ghosts that nobody will close (the sweep
 * closes only the stays of instances it buries).
 */
export async function staysOfStoppedInstances(url: string): Promise<number> {
  const [{ n }] = await queryDb<{ n: number }>(
    url,
    `SELECT count(*)::int AS n FROM room_presence p JOIN instances i ON i.id = p.instance_id
      WHERE p.left_at IS NULL AND i.stopped_at IS NOT NULL`,
  );
  return n;
}
