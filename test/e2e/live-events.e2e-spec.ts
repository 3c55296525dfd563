import type { Socket } from 'socket.io-client';
import request from 'supertest';
import { bookSession, createParty, pay, type Party } from '../factories/sessions.js';
import { loginAdmin, registerUser, type TestUser } from '../factories/users.js';
import { spawnApp, type AppProcess } from '../utils/app-process.js';
import { MACHINE_REDIS_URL, redisAnswers } from '../utils/redis.js';
import { connectAs, eventually, request as ask, sleep } from '../utils/socket-client.js';
import { retrack } from '../utils/session-tracking.js';
import { startTestApp, type TestApp } from '../utils/test-app.js';
import { createTestDatabase, type TestDatabase } from '../utils/test-database.js';

const ENV = { PRESENCE_HEARTBEAT_SECONDS: '1', EMPTY_ROOM_TIMEOUT_SECONDS: '1' };

/** The server-to-client events about sessions (PRODUCT.md sections 5 and 12). */
const LIVE_EVENTS = [
  'session-status',
  'session-updated',
  'participant-joined',
  'participant-left',
] as const;

interface Payload {
  sessionId: string;
  [field: string]: unknown;
}

interface Heard extends Payload {
  event: string;
}

/** Records every live event the socket hears from now on into `into` (tagged `who`, if given). */
function listen(socket: Socket, into: Heard[] = [], who?: string): Heard[] {
  for (const event of LIVE_EVENTS) {
    socket.on(event, (payload: Payload) => into.push({ event, ...payload, ...(who && { who }) }));
  }
  return into;
}

/** Long enough for a copy sent twice (or to the wrong socket) to have arrived too. */
const SETTLE_MS = 300;

/**
 * Live events per user: every socket of a session's client and psychologist, in the room or
 * connected only (a dashboard), hears the session's status changes whatever caused them, its
 * changes without a status change, and the other participant's arrivals and departures; each
 * copy once per socket; strangers and admins hear none of it.
 */
describe('live events per user', () => {
  let t: TestApp;
  let admin: TestUser;
  const sockets: Socket[] = [];
  /** Every live event the sockets of users outside the sessions under test heard. */
  const strangersHeard: Heard[] = [];

  const open = async (who: TestUser, url = t.url) => {
    const socket = await connectAs(url, who.token);
    sockets.push(socket);
    return socket;
  };

  /** A connected socket of `who` that joins no room, and what it hears. */
  const dashboard = async (who: TestUser, url?: string) => listen(await open(who, url));

  /** One line per event: the status, the payment status, or who arrived or left. */
  const lines = (heard: Heard[], party: Party) =>
    heard.map((h) => {
      const whom = (id: unknown) => (id === party.client.id ? 'client' : 'psychologist');
      switch (h.event) {
        case 'session-status':
          return `status ${String(h.status)}`;
        case 'session-updated':
          return `updated ${String(h.paymentStatus)}`;
        default:
          return `${h.event.slice('participant-'.length)} ${whom(h.userId)}`;
      }
    });

  /** Waits until each ear heard `count` events, then a moment more for any extra copy. */
  const settle = async (count: number, ...ears: Heard[][]) => {
    await eventually(() => Promise.resolve(ears.every((heard) => heard.length >= count)));
    await sleep(SETTLE_MS);
  };

  const session = (who: TestUser, id: string) =>
    t.api.get(`/api/sessions/${id}`).set('Authorization', who.auth);
  const videoCall = (action: 'start' | 'end', id: string, who: TestUser) =>
    t.api.post(`/api/video-calls/${action}/${id}`).set('Authorization', who.auth);
  const joinRoom = async (who: TestUser, id: string) => {
    const socket = await open(who);
    const heard = listen(socket);
    expect(await ask(socket, 'join-room', { sessionId: id })).toMatchObject({ ok: true });
    return { socket, heard };
  };

  beforeAll(async () => {
    t = await startTestApp({ env: ENV });
    admin = await loginAdmin(t);
    // Connected for the whole spec, in no room: a client and a psychologist of other sessions,
    // and an admin (who pays for every session below).
    const [client, psychologist] = await Promise.all([
      registerUser(t, 'client'),
      registerUser(t, 'psychologist'),
    ]);
    for (const [who, user] of [
      ['stranger client', client],
      ['stranger psychologist', psychologist],
      ['admin', admin],
    ] as const) {
      listen(await open(user), strangersHeard, who);
    }
  });
  afterEach(() => {
    sockets.splice(3).forEach((s) => s.disconnect());
  });
  afterAll(async () => {
    sockets.forEach((s) => s.disconnect());
    await t.close();
  });

  /** Nothing of the test's sessions reached a stranger's or an admin's socket. */
  const expectStrangersHeardNothing = async () => {
    await sleep(SETTLE_MS);
    expect(strangersHeard.splice(0)).toEqual([]);
  };

  it('a dashboard hears the payment, a payment status without a status change, and the cancel, once per socket', async () => {
    const party = await createParty(t);
    const booked = await bookSession(t, party);
    const client = [await dashboard(party.client), await dashboard(party.client)];
    const psychologist = await dashboard(party.psychologist);

    await pay(t, party, booked.id, 'Failed'); // Pending stays Pending
    await pay(t, party, booked.id, 'Paid'); // Pending -> Confirmed
    await pay(t, party, booked.id, 'Paid'); // nothing changes: nothing is sent
    const cancelled = await t.api
      .post(`/api/sessions/${booked.id}/cancel`)
      .set('Authorization', party.client.auth)
      .send({ reason: 'conflict' });
    expect(cancelled.status).toBe(200);

    await settle(3, ...client, psychologist);
    for (const heard of [...client, psychologist]) {
      expect(lines(heard, party)).toEqual([
        'updated Failed',
        'status Confirmed',
        'status Cancelled',
      ]);
      expect(heard[0]).toEqual({
        event: 'session-updated',
        sessionId: booked.id,
        scheduledStart: booked.scheduledStart,
        durationMinutes: booked.durationMinutes,
        paymentStatus: 'Failed',
      });
      expect(heard[1]).toEqual({
        event: 'session-status',
        sessionId: booked.id,
        status: 'Confirmed',
        videoCallStarted: null,
        videoCallEnded: null,
        duration: null,
      });
    }
    await expectStrangersHeardNothing();
  });

  it('a reschedule reaches both dashboards as session-updated with the new time, once per socket', async () => {
    const party = await createParty(t);
    const inADay = (hours: number) => new Date(Date.now() + hours * 3_600_000).toISOString();
    const booked = await bookSession(t, party, { scheduledStart: inADay(24) });
    const client = [await dashboard(party.client), await dashboard(party.client)];
    const psychologist = await dashboard(party.psychologist);

    const moved = await t.api
      .post(`/api/sessions/${booked.id}/reschedule`)
      .set('Authorization', party.psychologist.auth)
      .send({ scheduledStart: inADay(26), durationMinutes: 30 });
    expect(moved.status).toBe(200);

    await settle(1, ...client, psychologist);
    for (const heard of [...client, psychologist]) {
      expect(heard).toEqual([
        {
          event: 'session-updated',
          sessionId: booked.id,
          scheduledStart: moved.body.scheduledStart,
          durationMinutes: 30,
          paymentStatus: 'Pending',
        },
      ]);
    }
    await expectStrangersHeardNothing();
  });

  it('REST start and end reach dashboards and the room, once to a socket in both', async () => {
    const party = await createParty(t);
    const { id } = await bookSession(t, party);
    await pay(t, party, id);
    const psychologist = await dashboard(party.psychologist);
    const clientDashboard = await dashboard(party.client);
    const inRoom = await joinRoom(party.client, id);

    expect((await videoCall('start', id, party.psychologist)).status).toBe(200);
    expect((await videoCall('end', id, party.psychologist)).status).toBe(200);

    await settle(2, clientDashboard, inRoom.heard);
    await settle(3, psychologist);
    for (const heard of [clientDashboard, inRoom.heard]) {
      expect(lines(heard, party)).toEqual(['status In Progress', 'status Completed']);
    }
    // The end closes the room with its stays: its status says so, no departure follows.
    expect(lines(psychologist, party)).toEqual([
      'joined client',
      'status In Progress',
      'status Completed',
    ]);
    const ended = (await session(party.client, id)).body;
    expect(clientDashboard[1]).toEqual({
      event: 'session-status',
      sessionId: id,
      status: 'Completed',
      videoCallStarted: ended.videoCallStarted,
      videoCallEnded: ended.videoCallEnded,
      duration: ended.duration,
    });
    await expectStrangersHeardNothing();
  });

  it('the auto-start, arrivals and departures, and the auto-end heard by those who left the room', async () => {
    const party = await createParty(t);
    const { id } = await bookSession(t, party);
    await pay(t, party, id);
    const clientDashboard = await dashboard(party.client);
    const psychologistDashboard = await dashboard(party.psychologist);

    // "Your client is waiting": heard by the psychologist before they join.
    const client = await joinRoom(party.client, id);
    await settle(1, psychologistDashboard);
    expect(lines(psychologistDashboard, party)).toEqual(['joined client']);
    expect(clientDashboard).toEqual([]);

    const psychologist = await joinRoom(party.psychologist, id);
    expect(await ask(client.socket, 'leave-room', { sessionId: id })).toEqual({ ok: true });
    expect(await ask(psychologist.socket, 'leave-room', { sessionId: id })).toEqual({ ok: true });

    // Both left: the call ends once the room has been empty for the grace period (1 s).
    await settle(4, clientDashboard, client.heard, psychologistDashboard);
    await settle(3, psychologist.heard);
    for (const heard of [clientDashboard, client.heard]) {
      expect(lines(heard, party)).toEqual([
        'joined psychologist',
        'status In Progress',
        'left psychologist',
        'status Completed',
      ]);
    }
    expect(lines(psychologistDashboard, party)).toEqual([
      'joined client',
      'status In Progress',
      'left client',
      'status Completed',
    ]);
    // Connected after the client arrived: it hears from then on.
    expect(lines(psychologist.heard, party)).toEqual([
      'status In Progress',
      'left client',
      'status Completed',
    ]);
    const ended = (await session(party.client, id)).body;
    expect(ended.status).toBe('Completed');
    await expectStrangersHeardNothing();
  });

  it('no-show and the call length cap reach dashboards', async () => {
    const noShow = await createParty(t);
    const capped = await createParty(t);
    const absent = await bookSession(t, noShow);
    await pay(t, noShow, absent.id);
    const long = await bookSession(t, capped);
    await pay(t, capped, long.id);
    expect((await videoCall('start', long.id, capped.client)).status).toBe(200);
    const ears = [
      await dashboard(noShow.client),
      await dashboard(noShow.psychologist),
      await dashboard(capped.client),
      await dashboard(capped.psychologist),
    ];

    await t.dataSource.query(
      `UPDATE sessions SET scheduled_start = scheduled_start - interval '16 minutes',
                           scheduled_end = scheduled_end - interval '16 minutes'
        WHERE id = $1`,
      [absent.id],
    );
    await retrack(t.dataSource, absent.id);
    await t.dataSource.query(
      `UPDATE sessions SET video_call_started = now() - interval '241 minutes' WHERE id = $1`,
      [long.id],
    );
    await retrack(t.dataSource, long.id);

    await settle(1, ...ears);
    expect(ears.map((heard) => heard.map((h) => [h.sessionId, h.status]))).toEqual([
      [[absent.id, 'No Show']],
      [[absent.id, 'No Show']],
      [[long.id, 'Completed']],
      [[long.id, 'Completed']],
    ]);
    const history = await t.api
      .get(`/api/sessions/${long.id}/history`)
      .set('Authorization', capped.client.auth);
    expect(history.body.at(-1)).toMatchObject({ to: 'Completed', cause: 'max-duration' });
    await expectStrangersHeardNothing();
  });
});

const machineRedis = await redisAnswers(MACHINE_REDIS_URL);
if (!machineRedis) {
  process.stdout.write(`live events across instances skipped: no Redis at ${MACHINE_REDIS_URL}\n`);
}
const describeWithRedis = machineRedis ? describe : describe.skip;

describeWithRedis('live events per user across two instances with Redis', () => {
  let db: TestDatabase;
  let reader: TestApp; // in-process, on the same database: for setting up sessions
  let a: AppProcess;
  let b: AppProcess;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    const env = { ...ENV, DATABASE_URL: db.url, REDIS_URL: MACHINE_REDIS_URL };
    [a, b] = await Promise.all([spawnApp(env), spawnApp(env)]);
    reader = await startTestApp({ db, env: ENV });
  }, 150_000);
  afterAll(async () => {
    sockets.forEach((s) => s.disconnect());
    a.kill('SIGKILL');
    b.kill('SIGKILL');
    await reader.close();
  });

  const listenOn = async (url: string, who: TestUser) => {
    const socket = await connectAs(url, who.token);
    sockets.push(socket);
    return { socket, heard: listen(socket) };
  };

  it('a dashboard on B hears what happens on A, once per socket; a stranger and an admin on B hear nothing', async () => {
    const party = await createParty(reader);
    const { id } = await bookSession(reader, party);
    await pay(reader, party, id);
    const stranger = await listenOn(b.url, await registerUser(reader, 'client'));
    const adminOnB = await listenOn(b.url, party.admin);
    const psychologistOnB = await listenOn(b.url, party.psychologist);
    const clientOnB = await listenOn(b.url, party.client);
    // The client arrives on A (the psychologist on B hears it through Redis), then also on B:
    // that socket is in the room and in its user's room at once.
    const clientInRoomOnA = await listenOn(a.url, party.client);
    expect(await ask(clientInRoomOnA.socket, 'join-room', { sessionId: id })).toMatchObject({
      ok: true,
    });
    const clientInRoomOnB = await listenOn(b.url, party.client);
    expect(await ask(clientInRoomOnB.socket, 'join-room', { sessionId: id })).toMatchObject({
      ok: true,
    });

    const onA = (path: string, who: TestUser) =>
      request(a.url).post(path).set('Authorization', who.auth).send({});
    expect((await onA(`/api/video-calls/start/${id}`, party.psychologist)).status).toBe(200);
    expect(
      (
        await request(a.url)
          .post(`/api/sessions/${id}/payment`)
          .set('Authorization', party.admin.auth)
          .send({ paymentStatus: 'Verified' })
      ).status,
    ).toBe(200);
    expect((await onA(`/api/video-calls/end/${id}`, party.client)).status).toBe(200);

    const clientEars = [clientOnB.heard, clientInRoomOnB.heard, clientInRoomOnA.heard];
    await eventually(() =>
      Promise.resolve(
        [...clientEars, psychologistOnB.heard].every((heard) =>
          heard.some((h) => h.status === 'Completed'),
        ),
      ),
    );
    await sleep(SETTLE_MS);
    const summary = (heard: Heard[]) =>
      heard.map((h) => `${h.event} ${String(h.status ?? h.paymentStatus ?? h.userId)}`);
    for (const heard of clientEars) {
      expect(summary(heard)).toEqual([
        'session-status In Progress',
        'session-updated Verified',
        'session-status Completed',
      ]);
    }
    expect(summary(psychologistOnB.heard)).toEqual([
      `participant-joined ${party.client.id}`,
      'session-status In Progress',
      'session-updated Verified',
      'session-status Completed',
    ]);
    expect(stranger.heard).toEqual([]);
    expect(adminOnB.heard).toEqual([]);
  });
});
