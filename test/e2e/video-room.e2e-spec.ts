import { jest } from '@jest/globals';
import jwt from 'jsonwebtoken';
import pg from 'pg';
import type { Socket } from 'socket.io-client';
import { confirmedSession, pay, bookSession, type Party } from '../factories/sessions.js';
import { registerUser } from '../factories/users.js';
import {
  connectAs,
  connectRoom,
  connected,
  eventually,
  nextEvent,
  record,
  request,
  sleep,
} from '../utils/socket-client.js';
import { Sql } from '../../src/database/sql.js';
import { startTestApp, TEST_JWT_SECRET, type TestApp } from '../utils/test-app.js';
import { waitForLockWaiters } from '../utils/test-database.js';

const GRACE_SECONDS = 2;

describe('video room (WebSocket)', () => {
  let t: TestApp;
  const sockets: Socket[] = [];
  const open = async (token: string) => {
    const s = await connectAs(t.url, token);
    sockets.push(s);
    return s;
  };

  beforeAll(async () => {
    t = await startTestApp({
      env: { EMPTY_ROOM_TIMEOUT_SECONDS: String(GRACE_SECONDS), PRESENCE_HEARTBEAT_SECONDS: '1' },
    });
  });
  afterEach(() => {
    sockets.splice(0).forEach((s) => s.disconnect());
  });
  afterAll(() => t.close());

  const history = async (id: string, party: Party) =>
    (await t.api.get(`/api/sessions/${id}/history`).set('Authorization', party.client.auth))
      .body as any[];
  const getSession = async (id: string, party: Party) =>
    (await t.api.get(`/api/sessions/${id}`).set('Authorization', party.client.auth)).body;

  describe('handshake', () => {
    it('refuses a missing token', async () => {
      await expect(connected(connectRoom(t.url, undefined))).rejects.toThrow('UNAUTHENTICATED');
    });

    it('refuses a bad token', async () => {
      await expect(connected(connectRoom(t.url, 'not-a-jwt'))).rejects.toThrow('UNAUTHENTICATED');
    });

    it('refuses an expired token', async () => {
      const user = await registerUser(t, 'client');
      const expired = jwt.sign({ role: 'client' }, TEST_JWT_SECRET, {
        subject: user.id,
        algorithm: 'HS256',
        issuer: t.config.jwt.issuer,
        audience: t.config.jwt.audience,
        expiresIn: -10,
      });
      await expect(connected(connectRoom(t.url, expired))).rejects.toThrow('UNAUTHENTICATED');
    });

    it('disconnects a socket when its token expires', async () => {
      const user = await registerUser(t, 'client');
      const shortLived = jwt.sign({ role: 'client' }, TEST_JWT_SECRET, {
        subject: user.id,
        algorithm: 'HS256',
        issuer: t.config.jwt.issuer,
        audience: t.config.jwt.audience,
        expiresIn: 2,
      });
      const socket = await open(shortLived);
      const told = nextEvent(socket, 'token-expired', () => true, 5000);
      const reason = await nextEvent<string>(socket, 'disconnect', () => true, 5000);
      expect(reason).toBe('io server disconnect');
      // The client is told why before the server hangs up.
      expect(await told).toEqual({ code: 'UNAUTHENTICATED', message: expect.any(String) });
    });
  });

  it('runs a whole call: join, auto-start, signaling, leave, auto-end at the last leave', async () => {
    const { party, id } = await confirmedSession(t);
    const client = await open(party.client.token);
    const psych = await open(party.psychologist.token);

    const first = await request(client, 'join-room', { sessionId: id });
    expect(first).toEqual({
      ok: true,
      sessionId: id,
      status: 'Confirmed',
      participants: [{ userId: party.client.id, role: 'client' }],
      // Neither STUN_URLS nor TURN_URLS is set here.
      iceServers: [],
    });

    const clientSeesJoin = nextEvent(client, 'participant-joined');
    const clientSeesStart = nextEvent(client, 'session-status');
    const psychSeesStart = nextEvent(psych, 'session-status');
    const second = await request(psych, 'join-room', { sessionId: id });
    expect(second.ok).toBe(true);
    expect(second.status).toBe('In Progress');
    expect(second.participants).toHaveLength(2);
    expect(await clientSeesJoin).toEqual({
      sessionId: id,
      userId: party.psychologist.id,
      role: 'psychologist',
    });
    for (const status of [await clientSeesStart, await psychSeesStart]) {
      expect(status).toMatchObject({
        sessionId: id,
        status: 'In Progress',
        videoCallEnded: null,
        duration: null,
      });
      expect(typeof status.videoCallStarted).toBe('string');
    }
    const rows = await history(id, party);
    expect(rows.filter((r) => r.to === 'In Progress')).toEqual([
      expect.objectContaining({ from: 'Confirmed', cause: 'auto-start', actorId: null }),
    ]);

    // Presence over REST.
    const call = await t.api
      .get(`/api/video-calls/session/${id}`)
      .set('Authorization', party.client.auth);
    expect(call.body.participants.map((p: any) => [p.role, p.present])).toEqual([
      ['client', true],
      ['psychologist', true],
    ]);
    expect(call.body.participants[0].joinedAt).toEqual(expect.any(String));

    // Signaling relay with the server-set `from`.
    const offerArrives = nextEvent(psych, 'signal');
    expect(
      await request(client, 'signal', { sessionId: id, type: 'offer', data: { sdp: 'v=0 offer' } }),
    ).toEqual({ ok: true });
    expect(await offerArrives).toEqual({
      sessionId: id,
      from: party.client.id,
      type: 'offer',
      data: { sdp: 'v=0 offer' },
    });
    const answerArrives = nextEvent(client, 'signal');
    await request(psych, 'signal', {
      sessionId: id,
      to: party.client.id,
      type: 'answer',
      data: { sdp: 'v=0 answer' },
    });
    expect(await answerArrives).toMatchObject({ from: party.psychologist.id, type: 'answer' });

    // Both leave: the room is empty; after the grace period the call is completed as of the last leave.
    const psychSeesLeave = nextEvent(psych, 'participant-left');
    expect(await request(client, 'leave-room', { sessionId: id })).toEqual({ ok: true });
    expect(await psychSeesLeave).toEqual({ sessionId: id, userId: party.client.id });
    await request(psych, 'leave-room', { sessionId: id });
    const lastLeave = Date.now();
    // Nobody is in the room to hear it: watch the session instead.
    const done = await eventually(
      async () => {
        const s = await getSession(id, party);
        return s.status === 'Completed' ? s : undefined;
      },
      (GRACE_SECONDS + 4) * 1000,
    );
    expect(Math.abs(new Date(done.videoCallEnded).getTime() - lastLeave)).toBeLessThan(1000);
    expect((await history(id, party)).at(-1)).toMatchObject({
      from: 'In Progress',
      to: 'Completed',
      cause: 'auto-end',
      actorId: null,
    });
  });

  it('keeps the call when a participant drops and rejoins within the grace period', async () => {
    const { party, id } = await confirmedSession(t);
    const client = await open(party.client.token);
    const psych = await open(party.psychologist.token);
    await request(client, 'join-room', { sessionId: id });
    await request(psych, 'join-room', { sessionId: id });

    client.disconnect();
    psych.disconnect();
    await sleep(GRACE_SECONDS * 500);
    const again = await open(party.client.token);
    const rejoin = await request(again, 'join-room', { sessionId: id });
    expect(rejoin).toMatchObject({ ok: true, status: 'In Progress' });
    await sleep(GRACE_SECONDS * 1000 + 1500);
    expect((await getSession(id, party)).status).toBe('In Progress');
  });

  it('counts several sockets of one user once', async () => {
    const { party, id } = await confirmedSession(t);
    const psych = await open(party.psychologist.token);
    await request(psych, 'join-room', { sessionId: id });
    const events = [...[record(psych, 'participant-joined')], record(psych, 'participant-left')];

    const phone = await open(party.client.token);
    const laptop = await open(party.client.token);
    await request(phone, 'join-room', { sessionId: id });
    const second = await request(laptop, 'join-room', { sessionId: id });
    expect(second.participants).toHaveLength(2);
    await request(laptop, 'leave-room', { sessionId: id });
    await sleep(300);
    const call = await t.api
      .get(`/api/video-calls/session/${id}`)
      .set('Authorization', party.client.auth);
    expect(call.body.participants.find((p: any) => p.role === 'client').present).toBe(true);
    expect(events[0]).toHaveLength(1); // joined once
    expect(events[1]).toHaveLength(0); // never left: the phone is still there
    const history1 = await history(id, party);
    expect(history1.filter((r) => r.to === 'In Progress')).toHaveLength(1);
  });

  it('routes signals: to the other participant, or only to `to` (a participant of the session), never back to the sender', async () => {
    const { party, id } = await confirmedSession(t);
    const stranger = await registerUser(t, 'client');
    const laptop = await open(party.client.token);
    const phone = await open(party.client.token);
    const psych = await open(party.psychologist.token);
    // A fourth socket of the client's, on the dashboard outside the room: no signal reaches it.
    const outside = await open(party.client.token);
    for (const s of [laptop, phone, psych]) {
      expect(await request(s, 'join-room', { sessionId: id })).toMatchObject({ ok: true });
    }
    const heard = new Map(
      [laptop, phone, psych, outside].map((s) => [s, record<any>(s, 'signal')]),
    );
    const send = async (to: string | undefined, data: string) =>
      expect(
        await request(laptop, 'signal', { sessionId: id, to, type: 'ice-candidate', data }),
      ).toEqual({ ok: true });

    await send(undefined, 'to the other participant');
    await send(party.client.id, "to the client's other device");
    await send(party.psychologist.id, 'to the psychologist');
    await send(stranger.id, 'to a stranger');
    await send(undefined, 'last');
    await send(party.client.id, 'last');
    // One sender, one server: relays arrive in the order sent, so once the psychologist and the
    // phone have their last one, everything that was coming to anyone has come.
    const dataOf = (s: Socket) => heard.get(s)!.map((m) => m.data);
    await eventually(() =>
      Promise.resolve(dataOf(psych).at(-1) === 'last' && dataOf(phone).at(-1) === 'last'),
    );
    expect(dataOf(psych)).toEqual(['to the other participant', 'to the psychologist', 'last']);
    expect(dataOf(phone)).toEqual(["to the client's other device", 'last']);
    expect(dataOf(laptop)).toEqual([]);
    expect(dataOf(outside)).toEqual([]);
    expect(heard.get(psych)![0]).toEqual({
      sessionId: id,
      from: party.client.id,
      type: 'ice-candidate',
      data: 'to the other participant',
    });
  });

  it('starts the call exactly once when both join at the same instant, 20 times over', async () => {
    for (let i = 0; i < 20; i++) {
      const { party, id } = await confirmedSession(t);
      const [client, psych] = await Promise.all([
        open(party.client.token),
        open(party.psychologist.token),
      ]);
      const acks = await Promise.all([
        request(client, 'join-room', { sessionId: id }),
        request(psych, 'join-room', { sessionId: id }),
      ]);
      expect(acks.every((a) => a.ok)).toBe(true);
      const started = (await history(id, party)).filter((r) => r.to === 'In Progress');
      expect(started).toHaveLength(1);
      expect((await getSession(id, party)).status).toBe('In Progress');
      client.disconnect();
      psych.disconnect();
    }
  });

  it('pushes REST status changes to the room and closes the room when the session ends', async () => {
    const { party, id } = await confirmedSession(t);
    const client = await open(party.client.token);
    await request(client, 'join-room', { sessionId: id });
    const started = nextEvent(client, 'session-status');
    await t.api
      .post(`/api/video-calls/start/${id}`)
      .set('Authorization', party.psychologist.auth)
      .expect(200);
    expect(await started).toMatchObject({ sessionId: id, status: 'In Progress' });
    const ended = nextEvent(client, 'session-status', (s) => s.status === 'Completed');
    await t.api
      .post(`/api/video-calls/end/${id}`)
      .set('Authorization', party.admin.auth)
      .expect(200);
    expect(await ended).toMatchObject({ status: 'Completed', duration: 0 });
    await eventually(async () => {
      const call = await t.api
        .get(`/api/video-calls/session/${id}`)
        .set('Authorization', party.client.auth);
      return call.body.participants.every((p: any) => !p.present);
    });
    expect(
      await request(client, 'signal', { sessionId: id, type: 'offer', data: 'x' }),
    ).toMatchObject({
      ok: false,
      error: { code: 'NOT_IN_ROOM' },
    });
  });

  it('pushes a cancel to the room', async () => {
    const { party, id } = await confirmedSession(t);
    const client = await open(party.client.token);
    await request(client, 'join-room', { sessionId: id });
    const cancelled = nextEvent(client, 'session-status');
    await t.api
      .post(`/api/sessions/${id}/cancel`)
      .set('Authorization', party.psychologist.auth)
      .send({})
      .expect(200);
    expect(await cancelled).toMatchObject({ status: 'Cancelled' });
  });

  describe('refusals', () => {
    it('refuses strangers, unpaid and finished sessions, and admins', async () => {
      const { party, id } = await confirmedSession(t);
      const stranger = await open((await registerUser(t, 'client')).token);
      expect(await request(stranger, 'join-room', { sessionId: id })).toMatchObject({
        ok: false,
        error: { code: 'NOT_PARTICIPANT' },
      });
      const admin = await open(party.admin.token);
      expect(await request(admin, 'join-room', { sessionId: id })).toMatchObject({
        ok: false,
        error: { code: 'FORBIDDEN' },
      });

      // Later the same day: the same party cannot hold two overlapping bookings.
      const unpaid = await bookSession(t, party, {
        scheduledStart: new Date(Date.now() + 2 * 3600_000).toISOString(),
      });
      const client = await open(party.client.token);
      expect(await request(client, 'join-room', { sessionId: unpaid.id })).toMatchObject({
        ok: false,
        error: { code: 'PAYMENT_NOT_CONFIRMED' },
      });
      await pay(t, party, unpaid.id, 'Failed');
      expect((await request(client, 'join-room', { sessionId: unpaid.id })).error.code).toBe(
        'PAYMENT_NOT_CONFIRMED',
      );

      await t.api
        .post(`/api/video-calls/start/${id}`)
        .set('Authorization', party.client.auth)
        .expect(200);
      await t.api
        .post(`/api/video-calls/end/${id}`)
        .set('Authorization', party.client.auth)
        .expect(200);
      expect(await request(client, 'join-room', { sessionId: id })).toMatchObject({
        ok: false,
        error: { code: 'INVALID_TRANSITION' },
      });
      expect(
        await request(client, 'join-room', { sessionId: '00000000-0000-4000-8000-000000000000' }),
      ).toMatchObject({
        ok: false,
        error: { code: 'NOT_FOUND' },
      });
    });

    it('refuses signals before joining, oversized and unknown signals, and malformed payloads', async () => {
      const { party, id } = await confirmedSession(t);
      const client = await open(party.client.token);
      expect(
        await request(client, 'signal', { sessionId: id, type: 'offer', data: 'sdp' }),
      ).toMatchObject({
        ok: false,
        error: { code: 'NOT_IN_ROOM' },
      });
      await request(client, 'join-room', { sessionId: id });
      expect(
        await request(client, 'signal', {
          sessionId: id,
          type: 'offer',
          data: 'x'.repeat(70 * 1024),
        }),
      ).toMatchObject({
        ok: false,
        error: { code: 'PAYLOAD_TOO_LARGE' },
      });
      expect(
        await request(client, 'signal', { sessionId: id, type: 'hello', data: 'x' }),
      ).toMatchObject({
        ok: false,
        error: { code: 'VALIDATION_FAILED' },
      });
      for (const bad of [
        null,
        'text',
        42,
        [],
        { sessionId: 'nope' },
        { sessionId: id, extra: 1 },
      ]) {
        expect(await request(client, 'join-room', bad)).toMatchObject({
          ok: false,
          error: { code: 'VALIDATION_FAILED' },
        });
      }
      expect(await request(client, 'signal', { sessionId: id, type: 'offer' })).toMatchObject({
        ok: false,
        error: { code: 'VALIDATION_FAILED' },
      });
      // Still connected and working after all that.
      expect(await request(client, 'leave-room', { sessionId: id })).toEqual({ ok: true });
    });
  });
  describe('a room that is live on this instance', () => {
    /** How each join went to PostgreSQL: two round trips (verdict before the commit) or one. */
    function watchJoins(): Array<'two round trips' | 'one round trip'> {
      const seen: Array<'two round trips' | 'one round trip'> = [];
      const sql = t.app.get(Sql);
      const original = sql.underSessionLock.bind(sql);
      jest
        .spyOn(sql, 'underSessionLock')
        .mockImplementation((sessionId, statement, args, beforeCommit) => {
          if (statement.includes('INSERT INTO room_presence')) {
            seen.push(beforeCommit ? 'two round trips' : 'one round trip');
          }
          return original(sessionId, statement, args, beforeCommit);
        });
      return seen;
    }
    afterEach(() => jest.restoreAllMocks());

    it('lets a participant into it in one round trip; the first join, and any after the room is gone, take two', async () => {
      const { party, id } = await confirmedSession(t);
      const client = await open(party.client.token);
      const clientAgain = await open(party.client.token);
      const psych = await open(party.psychologist.token);
      const joins = watchJoins();

      expect((await request(client, 'join-room', { sessionId: id })).ok).toBe(true);
      const bothHearStart = [client, psych].map((s) => nextEvent(s, 'session-status'));
      expect(await request(psych, 'join-room', { sessionId: id })).toMatchObject({
        ok: true,
        status: 'In Progress',
      });
      expect((await Promise.all(bothHearStart)).map((e) => e.status)).toEqual([
        'In Progress',
        'In Progress',
      ]);
      expect(await request(clientAgain, 'join-room', { sessionId: id })).toMatchObject({
        ok: true,
      });
      // The same socket again: it is in the room already.
      expect((await request(psych, 'join-room', { sessionId: id })).ok).toBe(true);
      expect(joins).toEqual([
        'two round trips',
        'one round trip',
        'one round trip',
        'one round trip',
      ]);

      for (const s of [client, clientAgain, psych]) {
        await request(s, 'leave-room', { sessionId: id });
      }
      // The room is gone here, and what was known of its session with it.
      expect((await request(psych, 'join-room', { sessionId: id })).ok).toBe(true);
      expect(joins.slice(4)).toEqual(['two round trips']);
    });

    it('knows nothing of a session whose only joiner went away while its join waited', async () => {
      const { party, id } = await confirmedSession(t);
      const gone = await open(party.client.token);
      const joins = watchJoins();
      const holder = new pg.Client({ connectionString: t.db.url });
      await holder.connect();
      try {
        await holder.query('BEGIN');
        await holder.query('SELECT FROM sessions WHERE id = $1 FOR UPDATE', [id]);
        gone.emit('join-room', { sessionId: id });
        await waitForLockWaiters(t.db.url, 1);
        gone.disconnect();
        await sleep(200); // the server has seen the disconnect
        await holder.query('COMMIT');
        // The join commits after its socket is gone (Socket.io no longer lets it into a room) and
        // closes the stay it wrote.
        await eventually(async () => {
          const { rows } = await holder.query(
            'SELECT left_at FROM room_presence WHERE session_id = $1',
            [id],
          );
          return rows.length === 1 && rows[0].left_at !== null;
        });
      } finally {
        await holder.end();
      }
      // No room came of it, so its parties are not known: the next join takes two round trips.
      const psych = await open(party.psychologist.token);
      expect((await request(psych, 'join-room', { sessionId: id })).ok).toBe(true);
      expect(joins).toEqual(['two round trips', 'two round trips']);
    });

    it('takes a refused participant back out: nothing heard after the refusal, no signal sent before the verdict', async () => {
      const { party, id } = await confirmedSession(t);
      const client = await open(party.client.token);
      const psych = await open(party.psychologist.token);
      await request(client, 'join-room', { sessionId: id });
      await request(psych, 'join-room', { sessionId: id });
      await request(psych, 'leave-room', { sessionId: id });
      // The running call is not interrupted, but nobody may join it any more.
      await pay(t, party, id, 'Failed');

      const holder = new pg.Client({ connectionString: t.db.url });
      await holder.connect();
      try {
        await holder.query('BEGIN');
        await holder.query('SELECT FROM sessions WHERE id = $1 FOR UPDATE', [id]);
        const joining = request(psych, 'join-room', { sessionId: id });
        await waitForLockWaiters(t.db.url, 1); // in the room, its join waiting for the row lock
        expect(
          await request(psych, 'signal', { sessionId: id, type: 'offer', data: 'sdp' }),
        ).toMatchObject({ ok: false, error: { code: 'NOT_IN_ROOM' } });
        await holder.query('COMMIT');
        expect(await joining).toMatchObject({
          ok: false,
          error: { code: 'PAYMENT_NOT_CONFIRMED' },
        });
      } finally {
        await holder.end();
      }

      const heard = record(psych, 'signal');
      expect(
        await request(client, 'signal', { sessionId: id, type: 'offer', data: 'sdp' }),
      ).toEqual({ ok: true });
      expect(
        await request(psych, 'signal', { sessionId: id, type: 'answer', data: 'sdp' }),
      ).toMatchObject({ ok: false, error: { code: 'NOT_IN_ROOM' } });
      await sleep(300);
      expect(heard).toEqual([]);
      const call = await t.api
        .get(`/api/video-calls/session/${id}`)
        .set('Authorization', party.client.auth);
      expect(call.body.participants.map((p: any) => [p.role, p.present])).toEqual([
        ['client', true],
        ['psychologist', false],
      ]);
    });
  });
});
