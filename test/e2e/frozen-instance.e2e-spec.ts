import type { Socket } from 'socket.io-client';
import { confirmedSession } from '../factories/sessions.js';
import { spawnApp, type AppProcess } from '../utils/app-process.js';
import {
  joinedSocket,
  presentUsers,
  queryDb,
  staysOfStoppedInstances,
  viaProcess,
} from '../utils/fault-rig.js';
import { MACHINE_REDIS_URL, redisAnswers } from '../utils/redis.js';
import { eventually, nextEvent, request as ask, sleep } from '../utils/socket-client.js';
import { TcpProxy } from '../utils/tcp-proxy.js';
import { createTestDatabase, type TestDatabase } from '../utils/test-database.js';

const HEARTBEAT_S = 1;
const GRACE_S = 3;
const ENV = {
  PRESENCE_HEARTBEAT_SECONDS: String(HEARTBEAT_S),
  EMPTY_ROOM_TIMEOUT_SECONDS: String(GRACE_S),
};

const machineRedis = await redisAnswers(MACHINE_REDIS_URL);

/**
 * An instance frozen past its death (SIGSTOP: a long GC pause, a stopped VM, a throttled
 * container) and resumed (SIGCONT). The others rightly bury it; when it resumes it must learn that
 * at its next beat and re-announce its sockets, never keep them in rooms presence has forgotten.
 */
describe('an instance frozen past its death', () => {
  let db: TestDatabase;
  let a: AppProcess;
  let b: AppProcess;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    const env = {
      ...ENV,
      DATABASE_URL: db.url,
      ...(machineRedis ? { REDIS_URL: MACHINE_REDIS_URL } : {}),
    };
    [a, b] = await Promise.all([spawnApp(env), spawnApp(env)]);
  }, 120_000);
  afterAll(async () => {
    sockets.forEach((s) => s.disconnect());
    a?.kill('SIGCONT');
    a?.kill('SIGKILL');
    b?.kill('SIGKILL');
    await db?.drop();
  });

  it('learns at its next beat that it was declared dead and re-announces its sockets: the call goes on', async () => {
    const { party, id } = await confirmedSession(viaProcess(b));
    const client = await joinedSocket(a.url, party.client.token, id);
    const psych = await joinedSocket(b.url, party.psychologist.token, id);
    sockets.push(client, psych);
    const both = [party.client.id, party.psychologist.id].sort();
    expect(await presentUsers(b, party.client.auth, id)).toEqual(both);

    const left = nextEvent(psych, 'participant-left', undefined, 10_000);
    left.catch(() => undefined); // awaited below
    a.kill('SIGSTOP');
    // B buries A after three missed beats (and at most a fourth): the client is gone from presence.
    await eventually(
      async () =>
        (await presentUsers(b, party.psychologist.auth, id)).join() === party.psychologist.id,
      (4 * HEARTBEAT_S + 2) * 1000,
      200,
    );
    expect(await left).toMatchObject({ sessionId: id, userId: party.client.id });
    const buried = await queryDb(db.url, `SELECT id FROM instances WHERE stopped_at IS NOT NULL`);
    expect(buried).toHaveLength(1);
    await sleep(6000 - (4 * HEARTBEAT_S + 1) * 1000);

    const rejoined = machineRedis
      ? nextEvent(psych, 'participant-joined', undefined, 10_000)
      : undefined;
    rejoined?.catch(() => undefined); // awaited below
    a.kill('SIGCONT');
    // Within two beats of resuming, A has re-announced the client's socket.
    await eventually(
      async () => (await presentUsers(b, party.psychologist.auth, id)).join() === both.join(),
      (2 * HEARTBEAT_S + 2) * 1000,
      200,
    );
    if (rejoined) {
      expect(await rejoined).toMatchObject({ sessionId: id, userId: party.client.id });
    }
    expect(await staysOfStoppedInstances(db.url)).toBe(0);

    // The psychologist steps out past the grace period: the client is still in the room, so the
    // call goes on, and the client's socket still relays.
    expect(await ask(psych, 'leave-room', { sessionId: id })).toEqual({ ok: true });
    await sleep((GRACE_S + 2) * 1000);
    const [row] = await queryDb<{ status: string }>(
      db.url,
      `SELECT status FROM sessions WHERE id = $1`,
      [id],
    );
    expect(row.status).toBe('In Progress');
    expect(await presentUsers(b, party.psychologist.auth, id)).toEqual([party.client.id]);
    expect(
      await ask(client, 'signal', { sessionId: id, type: 'offer', data: { sdp: 'v=0' } }),
    ).toEqual({ ok: true });
  }, 60_000);
});

describe('a socket that leaves while its instance is frozen past its death', () => {
  let db: TestDatabase;
  let a: AppProcess;
  let b: AppProcess;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    [a, b] = await Promise.all([
      spawnApp({ ...ENV, DATABASE_URL: db.url }),
      spawnApp({ ...ENV, DATABASE_URL: db.url }),
    ]);
  }, 120_000);
  afterAll(async () => {
    sockets.forEach((s) => s.disconnect());
    a?.kill('SIGCONT');
    a?.kill('SIGKILL');
    b?.kill('SIGKILL');
    await db?.drop();
  });

  it('was in the room until it left, not until the burial: the grace period counts from its leave', async () => {
    const { party, id } = await confirmedSession(viaProcess(b));
    const client = await joinedSocket(a.url, party.client.token, id);
    const psych = await joinedSocket(b.url, party.psychologist.token, id);
    sockets.push(client, psych);

    a.kill('SIGSTOP');
    await eventually(
      async () =>
        (await presentUsers(b, party.psychologist.auth, id)).join() === party.psychologist.id,
      (4 * HEARTBEAT_S + 2) * 1000,
      200,
    );
    // The psychologist leaves: presence now thinks the room empty. The client leaves too, but
    // its instance hears it only when it runs again.
    expect(await ask(psych, 'leave-room', { sessionId: id })).toEqual({ ok: true });
    const clientLeft = client.timeout(20_000).emitWithAck('leave-room', { sessionId: id });
    await sleep(1500);
    const resumedAt = Date.now();
    a.kill('SIGCONT');
    expect(await clientLeft).toEqual({ ok: true });

    // Auto-ended, as of the client's leave (when its instance ran again), not of the psychologist's.
    const ended = await eventually(
      async () => {
        const [row] = await queryDb<{ status: string; video_call_ended: Date }>(
          db.url,
          `SELECT status, video_call_ended FROM sessions WHERE id = $1`,
          [id],
        );
        return row.status === 'Completed' ? row : undefined;
      },
      (2 * HEARTBEAT_S + GRACE_S + 4) * 1000,
      200,
    );
    expect(ended.video_call_ended.getTime()).toBeGreaterThanOrEqual(resumedAt - 200);
    expect(ended.video_call_ended.getTime() - resumedAt).toBeLessThan(1000);
    const stays = await queryDb<{ left_reason: string }>(
      db.url,
      `SELECT left_reason FROM room_presence WHERE session_id = $1 AND user_id = $2 ORDER BY joined_at`,
      [id, party.client.id],
    );
    expect(stays.map((s) => s.left_reason)).toEqual(['instance-lost', 'leave']);
    expect(await staysOfStoppedInstances(db.url)).toBe(0);
  }, 60_000);
});

/**
 * The same for an instance cut off from the database by a network partition (its packets to
 * PostgreSQL dropped, not refused) while its sockets stay connected: the others bury it; when the
 * path heals it learns that at its next beat and announces its sockets again.
 */
describe('an instance cut off from the database past its death', () => {
  let db: TestDatabase;
  let path: TcpProxy;
  let a: AppProcess;
  let b: AppProcess;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    const target = new URL(db.url);
    path = await TcpProxy.start({ host: target.hostname, port: Number(target.port || 5432) });
    [a, b] = await Promise.all([
      spawnApp({ ...ENV, DATABASE_URL: TcpProxy.rewrite(db.url, path) }),
      spawnApp({ ...ENV, DATABASE_URL: db.url }),
    ]);
  }, 120_000);
  afterAll(async () => {
    sockets.forEach((s) => s.disconnect());
    a?.kill('SIGKILL');
    b?.kill('SIGKILL');
    await path?.close();
    await db?.drop();
  });

  it('learns at its next beat once the path heals, and announces its sockets again', async () => {
    const { party, id } = await confirmedSession(viaProcess(b));
    const client = await joinedSocket(a.url, party.client.token, id);
    const psych = await joinedSocket(b.url, party.psychologist.token, id);
    sockets.push(client, psych);
    const both = [party.client.id, party.psychologist.id].sort();

    path.blackhole();
    await eventually(
      async () =>
        (await presentUsers(b, party.psychologist.auth, id)).join() === party.psychologist.id,
      (4 * HEARTBEAT_S + 3) * 1000,
      200,
    );
    await sleep(2000);
    path.restore();

    await eventually(
      async () => (await presentUsers(b, party.psychologist.auth, id)).join() === both.join(),
      15_000,
      200,
    );
    expect(await staysOfStoppedInstances(db.url)).toBe(0);
    expect(await ask(psych, 'leave-room', { sessionId: id })).toEqual({ ok: true });
    await sleep((GRACE_S + 2) * 1000);
    const [row] = await queryDb<{ status: string }>(
      db.url,
      `SELECT status FROM sessions WHERE id = $1`,
      [id],
    );
    expect(row.status).toBe('In Progress');
    expect(await presentUsers(b, party.psychologist.auth, id)).toEqual([party.client.id]);
  }, 60_000);
});
