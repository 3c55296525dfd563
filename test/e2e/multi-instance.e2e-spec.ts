import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Socket } from 'socket.io-client';
import request from 'supertest';
import { confirmedSession, createParty, type Party } from '../factories/sessions.js';
import { spawnApp, type AppProcess } from '../utils/app-process.js';
import { MACHINE_REDIS_URL, OwnRedis, redisAnswers } from '../utils/redis.js';
import {
  connectAs,
  eventually,
  nextEvent,
  record,
  request as ask,
  sleep,
} from '../utils/socket-client.js';
import { startTestApp, type TestApp } from '../utils/test-app.js';
import { createTestDatabase, type TestDatabase } from '../utils/test-database.js';

const HEARTBEAT_S = 1;
const GRACE_S = 2;
const ENV = {
  PRESENCE_HEARTBEAT_SECONDS: String(HEARTBEAT_S),
  EMPTY_ROOM_TIMEOUT_SECONDS: String(GRACE_S),
};

const machineRedis = await redisAnswers(MACHINE_REDIS_URL);
if (!machineRedis) {
  process.stdout.write(`multi-instance tests skipped: no Redis answers at ${MACHINE_REDIS_URL}\n`);
}
const describeWithRedis = machineRedis ? describe : describe.skip;

describeWithRedis('several instances on one database and one Redis', () => {
  let db: TestDatabase;
  let admin: TestApp; // an in-process view on the same database, for reading state
  let a: AppProcess;
  let b: AppProcess;
  const sockets: Socket[] = [];
  const connect = async (url: string, token: string) => {
    const s = await connectAs(url, token);
    sockets.push(s);
    return s;
  };
  const spawnInstance = () =>
    spawnApp({ ...ENV, DATABASE_URL: db.url, REDIS_URL: MACHINE_REDIS_URL });
  const session = async (id: string, party: Party) =>
    (await admin.api.get(`/api/sessions/${id}`).set('Authorization', party.client.auth)).body;

  beforeAll(async () => {
    db = await createTestDatabase();
    // Both start together on the empty database: the migrations must run once and both serve.
    [a, b] = await Promise.all([spawnInstance(), spawnInstance()]);
    admin = await startTestApp({ db, env: ENV });
  }, 150_000);
  afterEach(() => {
    sockets.splice(0).forEach((s) => s.disconnect());
  });
  afterAll(async () => {
    a.kill('SIGKILL');
    b.kill('SIGKILL');
    await admin.close();
  });

  it('both instances that started together on an empty database serve, and each migration ran once', async () => {
    for (const app of [a, b]) {
      await request(app.url).get('/api/health/ready').expect(200);
    }
    const rows: { name: string; n: string }[] = await admin.dataSource.query(
      `SELECT name, count(*) AS n FROM migrations GROUP BY name`,
    );
    expect(rows.length).toBeGreaterThanOrEqual(2);
    expect(rows.every((r) => Number(r.n) === 1)).toBe(true);
  });

  it('runs one call across two instances: one auto-start seen by both, signals cross, REST reaches the other side', async () => {
    const { party, id } = await confirmedSession(admin);
    const client = await connect(a.url, party.client.token);
    const psych = await connect(b.url, party.psychologist.token);
    expect(await ask(client, 'join-room', { sessionId: id })).toMatchObject({
      ok: true,
      status: 'Confirmed',
    });

    const seenOnA = nextEvent(client, 'session-status');
    const joinedSeenOnA = nextEvent(client, 'participant-joined');
    const seenOnB = nextEvent(psych, 'session-status');
    expect(await ask(psych, 'join-room', { sessionId: id })).toMatchObject({
      ok: true,
      status: 'In Progress',
    });
    expect(await joinedSeenOnA).toMatchObject({ userId: party.psychologist.id });
    expect((await seenOnA).status).toBe('In Progress');
    expect((await seenOnB).status).toBe('In Progress');
    const history = (
      await admin.api.get(`/api/sessions/${id}/history`).set('Authorization', party.client.auth)
    ).body;
    expect(history.filter((h: any) => h.to === 'In Progress')).toHaveLength(1);

    const offer = nextEvent(psych, 'signal');
    await ask(client, 'signal', { sessionId: id, type: 'offer', data: { sdp: 'offer from A' } });
    expect(await offer).toEqual({
      sessionId: id,
      from: party.client.id,
      type: 'offer',
      data: { sdp: 'offer from A' },
    });
    const answer = nextEvent(client, 'signal');
    await ask(psych, 'signal', {
      sessionId: id,
      to: party.client.id,
      type: 'answer',
      data: 'answer from B',
    });
    expect(await answer).toMatchObject({ from: party.psychologist.id, data: 'answer from B' });

    // The client's second device, on B: a signal to the others from its first device on A passes
    // it by (B leaves the sender's user room out itself); one addressed to the client reaches it.
    const clientOnB = await connect(b.url, party.client.token);
    expect((await ask(clientOnB, 'join-room', { sessionId: id })).ok).toBe(true);
    const heardOnB = record<{ data: string }>(clientOnB, 'signal');
    const psychHears = nextEvent(
      psych,
      'signal',
      (m: { data: string }) => m.data === 'to the others',
    );
    await ask(client, 'signal', { sessionId: id, type: 'ice-candidate', data: 'to the others' });
    await ask(client, 'signal', {
      sessionId: id,
      to: party.client.id,
      type: 'ice-candidate',
      data: 'to my other device',
    });
    await psychHears;
    // Both went from A to B in the order sent: once the second is here, the first would be too.
    await eventually(() => Promise.resolve(heardOnB.length > 0));
    expect(heardOnB.map((m) => m.data)).toEqual(['to my other device']);

    // A REST call on A reaches a room member on B.
    const other = await confirmedSession(admin, await createParty(admin));
    const waiting = await connect(b.url, other.party.client.token);
    await ask(waiting, 'join-room', { sessionId: other.id });
    const pushed = nextEvent(waiting, 'session-status');
    await request(a.url)
      .post(`/api/video-calls/start/${other.id}`)
      .set('Authorization', other.party.psychologist.auth)
      .expect(200);
    expect(await pushed).toMatchObject({ sessionId: other.id, status: 'In Progress' });
  });

  it('SIGKILL of an instance leaves no ghosts: the call ends as of when the last participant was really seen', async () => {
    const { party, id } = await confirmedSession(admin);
    const client = await connect(a.url, party.client.token);
    const psych = await connect(b.url, party.psychologist.token);
    await ask(client, 'join-room', { sessionId: id });
    await ask(psych, 'join-room', { sessionId: id });

    a.kill('SIGKILL');
    const killedAt = (await a.exited).at;
    await ask(psych, 'leave-room', { sessionId: id });

    const ended = await eventually(
      async () => {
        const s = await session(id, party);
        return s.status === 'Completed' ? s : undefined;
      },
      (3 * HEARTBEAT_S + GRACE_S + 4) * 1000,
      200,
    );
    expect(Math.abs(new Date(ended.videoCallEnded).getTime() - killedAt)).toBeLessThan(3000);
    const open = await admin.dataSource.query(
      `SELECT 1 FROM room_presence WHERE session_id = $1 AND left_at IS NULL`,
      [id],
    );
    expect(open).toHaveLength(0);
    a = await spawnInstance(); // for the tests that follow
  }, 30_000);

  it('SIGTERM of an instance drains it within 10 s and does not end the call: the client rejoins elsewhere', async () => {
    const { party, id } = await confirmedSession(admin);
    const client = await connect(b.url, party.client.token);
    const psych = await connect(a.url, party.psychologist.token);
    await ask(client, 'join-room', { sessionId: id });
    await ask(psych, 'join-room', { sessionId: id });

    const signalledAt = Date.now();
    b.kill('SIGTERM');
    const exit = await b.exited;
    expect(exit.code).toBe(0);
    expect(exit.at - signalledAt).toBeLessThan(10_000);

    // The browser reconnects through the load balancer to a live instance and rejoins.
    const again = await connect(a.url, party.client.token);
    expect(await ask(again, 'join-room', { sessionId: id })).toMatchObject({
      ok: true,
      status: 'In Progress',
    });
    await sleep((GRACE_S + 2) * 1000);
    expect((await session(id, party)).status).toBe('In Progress');
    const rows = await admin.dataSource.query(
      `SELECT left_reason FROM room_presence WHERE session_id = $1 AND left_at IS NOT NULL`,
      [id],
    );
    expect(rows.map((r: any) => r.left_reason)).toContain('shutdown');
    b = await spawnInstance();
  }, 30_000);
});

describe('cross-instance truth', () => {
  it('takes no decision from calls that wait on other instances (fetchSockets, serverSideEmit)', () => {
    const src = fileURLToPath(new URL('../../src', import.meta.url));
    const files = readdirSync(src, { recursive: true, encoding: 'utf8' }).filter((f) =>
      f.endsWith('.ts'),
    );
    expect(files.length).toBeGreaterThan(20);
    for (const file of files) {
      expect([file, readFileSync(join(src, file), 'utf8')]).not.toEqual([
        file,
        expect.stringMatching(/fetchSockets|serverSideEmit|allSockets/),
      ]);
    }
  });
});

describe('a Redis outage', () => {
  let redis: OwnRedis | undefined;
  let db: TestDatabase;
  let admin: TestApp;
  let a: AppProcess;
  let b: AppProcess;
  const sockets: Socket[] = [];
  const haveRedisServer = machineRedis; // redis-server is installed where the machine's Redis runs

  beforeAll(async () => {
    if (!haveRedisServer) {
      return;
    }
    redis = await OwnRedis.start();
    db = await createTestDatabase();
    admin = await startTestApp({ db, env: ENV });
    [a, b] = await Promise.all([
      spawnApp({ ...ENV, DATABASE_URL: db.url, REDIS_URL: redis.url }),
      spawnApp({ ...ENV, DATABASE_URL: db.url, REDIS_URL: redis.url }),
    ]);
  }, 150_000);
  afterAll(async () => {
    sockets.forEach((s) => s.disconnect());
    a?.kill('SIGKILL');
    b?.kill('SIGKILL');
    await redis?.stop();
    await admin?.close();
  });

  (haveRedisServer ? it : it.skip)(
    'keeps REST working while Redis is down, and room events cross instances again once it is back',
    async () => {
      await redis!.stop();
      await eventually(async () => {
        const res = await request(a.url).get('/api/health/ready');
        return res.status === 200 && res.body.details.redis.status === 'down';
      });
      const party = await createParty(admin);
      const booked = await request(a.url)
        .post('/api/sessions')
        .set('Authorization', party.client.auth)
        .send({ psychologistId: party.psychologist.id, scheduledStart: new Date().toISOString() });
      expect(booked.status).toBe(201);

      await redis!.start();
      for (const app of [a, b]) {
        await eventually(
          async () =>
            (await request(app.url).get('/api/health/ready')).body.details.redis.status === 'up',
        );
      }
      const { party: p2, id } = await confirmedSession(admin);
      const client = await connectAs(a.url, p2.client.token);
      const psych = await connectAs(b.url, p2.psychologist.token);
      sockets.push(client, psych);
      await ask(client, 'join-room', { sessionId: id });
      const joined = nextEvent(client, 'participant-joined');
      await ask(psych, 'join-room', { sessionId: id });
      expect(await joined).toMatchObject({ userId: p2.psychologist.id });
    },
    30_000,
  );

  (haveRedisServer ? it : it.skip)(
    'tells a socket whose call ended on another instance while Redis was down, within two beats, and takes it out of the room',
    async () => {
      const { party, id } = await confirmedSession(admin);
      const client = await connectAs(a.url, party.client.token);
      const psych = await connectAs(b.url, party.psychologist.token);
      sockets.push(client, psych);
      await ask(client, 'join-room', { sessionId: id });
      expect(await ask(psych, 'join-room', { sessionId: id })).toMatchObject({
        status: 'In Progress',
      });
      await redis!.stop();
      try {
        // The end's session-status cannot cross to A; A's next comparison of its sockets with
        // presence finds the client's stay closed by the end, and tells the socket.
        // The auto-start's session-status may still be on its way to A (it crossed while Redis
        // was up): waited past, so that only the end's news counts.
        const told = nextEvent(
          client,
          'session-status',
          (e: { status: string }) => e.status !== 'In Progress',
          (2 * HEARTBEAT_S + 3) * 1000,
        );
        told.catch(() => undefined); // awaited below; not unhandled if the request fails first
        await request(b.url)
          .post(`/api/video-calls/end/${id}`)
          .set('Authorization', party.psychologist.auth)
          .expect(200);
        expect(await told).toMatchObject({ sessionId: id, status: 'Completed' });
        expect(
          await ask(client, 'signal', { sessionId: id, type: 'offer', data: { sdp: 'v=0' } }),
        ).toMatchObject({ ok: false, error: { code: 'NOT_IN_ROOM' } });
      } finally {
        await redis!.start();
      }
    },
    30_000,
  );
});
