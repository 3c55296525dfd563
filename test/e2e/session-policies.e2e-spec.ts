import type { Socket } from 'socket.io-client';
import {
  bookSession,
  confirmedSession,
  createParty,
  pay,
  type Party,
  type SessionJson,
} from '../factories/sessions.js';
import { registerUser, type TestUser } from '../factories/users.js';
import { expectError } from '../utils/expect-error.js';
import { connectAs, eventually, nextEvent, request, sleep } from '../utils/socket-client.js';
import { retrack } from '../utils/session-tracking.js';
import { startTestApp, type TestApp } from '../utils/test-app.js';

const MINUTE_MS = 60_000;

/**
 * Section 6 policies through the real app: the join window (JOIN_EARLY_MINUTES, default 15), the
 * call length cap (MAX_CALL_MINUTES, default 240) and no-show (NO_SHOW_AFTER_MINUTES, default 15),
 * and attendance. Deadlines are reached by moving the session's timestamps back with SQL.
 */
describe('session policies', () => {
  let t: TestApp;
  const sockets: Socket[] = [];
  const open = async (user: TestUser) => {
    const s = await connectAs(t.url, user.token);
    sockets.push(s);
    return s;
  };

  beforeAll(async () => {
    t = await startTestApp({ env: { PRESENCE_HEARTBEAT_SECONDS: '1' } });
  });
  afterEach(() => {
    sockets.splice(0).forEach((s) => s.disconnect());
  });
  afterAll(() => t.close());

  const start = (who: TestUser, id: string) =>
    t.api.post(`/api/video-calls/start/${id}`).set('Authorization', who.auth);
  const getSession = async (who: TestUser, id: string): Promise<SessionJson> => {
    const res = await t.api.get(`/api/sessions/${id}`).set('Authorization', who.auth);
    expect(res.status).toBe(200);
    return res.body;
  };
  const history = async (who: TestUser, id: string) => {
    const res = await t.api.get(`/api/sessions/${id}/history`).set('Authorization', who.auth);
    expect(res.status).toBe(200);
    return res.body as { from: string; to: string; cause: string; actorId: string | null }[];
  };
  const attendance = (who: TestUser, id: string) =>
    t.api.get(`/api/sessions/${id}/attendance`).set('Authorization', who.auth);

  /** Moves the scheduled start (and the stored end, kept for the overlap constraint) by `minutes`. */
  async function shiftSchedule(id: string, minutes: number): Promise<void> {
    await t.dataSource.query(
      `UPDATE sessions SET scheduled_start = scheduled_start + make_interval(mins => $2),
                           scheduled_end = scheduled_end + make_interval(mins => $2)
        WHERE id = $1`,
      [id, minutes],
    );
    await retrack(t.dataSource, id);
  }

  /** A paid session of a fresh party starting `minutesAhead` from now. */
  async function paidSessionIn(minutesAhead: number) {
    const party = await createParty(t);
    const booked = await bookSession(t, party, {
      scheduledStart: new Date(Date.now() + minutesAhead * MINUTE_MS).toISOString(),
    });
    await pay(t, party, booked.id);
    return { party, id: booked.id, scheduledStart: new Date(booked.scheduledStart) };
  }

  describe('join window', () => {
    it('refuses a REST start before the room opens, with the opening moment', async () => {
      const { party, id, scheduledStart } = await paidSessionIn(30);
      const res = await start(party.client, id);
      expectError(res, 409, 'TOO_EARLY');
      expect(res.body.opensAt).toBe(
        new Date(scheduledStart.getTime() - 15 * MINUTE_MS).toISOString(),
      );
      expect((await getSession(party.client, id)).status).toBe('Confirmed');
      expect(await history(party.client, id)).toHaveLength(1);
    });

    it('refuses join-room before the room opens, with the opening moment, and records nothing', async () => {
      const { party, id, scheduledStart } = await paidSessionIn(30);
      const client = await open(party.client);
      const ack = await request(client, 'join-room', { sessionId: id });
      expect(ack).toEqual({
        ok: false,
        error: {
          code: 'TOO_EARLY',
          message: expect.any(String),
          opensAt: new Date(scheduledStart.getTime() - 15 * MINUTE_MS).toISOString(),
        },
      });
      const [{ n }] = await t.dataSource.query(
        `SELECT count(*)::int AS n FROM room_presence WHERE session_id = $1`,
        [id],
      );
      expect(n).toBe(0);
    });

    it('checks payment before the window and the window before the status', async () => {
      const party = await createParty(t);
      const unpaid = await bookSession(t, party, {
        scheduledStart: new Date(Date.now() + 30 * MINUTE_MS).toISOString(),
      });
      expectError(await start(party.client, unpaid.id), 403, 'PAYMENT_NOT_CONFIRMED');
      await pay(t, party, unpaid.id);
      const cancelled = await t.api
        .post(`/api/sessions/${unpaid.id}/cancel`)
        .set('Authorization', party.client.auth)
        .send({});
      expect(cancelled.status).toBe(200);
      expectError(await start(party.client, unpaid.id), 409, 'TOO_EARLY');
    });

    it('lets the call start and the room be joined from the opening moment on', async () => {
      const { party, id } = await paidSessionIn(30);
      // Now is exactly the opening moment (scheduled start 15 minutes from the database's now).
      await t.dataSource.query(
        `UPDATE sessions SET scheduled_start = now() + interval '15 minutes',
                scheduled_end = now() + interval '15 minutes' + duration_minutes * interval '1 minute'
          WHERE id = $1`,
        [id],
      );
      await retrack(t.dataSource, id);
      const client = await open(party.client);
      const ack = await request(client, 'join-room', { sessionId: id });
      expect(ack).toMatchObject({ ok: true, status: 'Confirmed' });
      const res = await start(party.psychologist, id);
      expect(res.status).toBe(200);
      expect(res.body.status).toBe('In Progress');
    });

    it('leaves sessions booked to start now open (JOIN_EARLY_MINUTES=0 too)', async () => {
      const early = await startTestApp({ env: { JOIN_EARLY_MINUTES: '0' } });
      try {
        const { party, id } = await confirmedSession(early);
        const res = await early.api
          .post(`/api/video-calls/start/${id}`)
          .set('Authorization', party.client.auth);
        expect(res.status).toBe(200);
        const later = await bookSession(early, party, {
          scheduledStart: new Date(Date.now() + 2 * 60 * MINUTE_MS).toISOString(),
        });
        await pay(early, party, later.id);
        const refused = await early.api
          .post(`/api/video-calls/start/${later.id}`)
          .set('Authorization', party.client.auth);
        expectError(refused, 409, 'TOO_EARLY');
        expect(refused.body.opensAt).toBe(later.scheduledStart);
      } finally {
        await early.close();
      }
    });
  });

  describe('call length cap', () => {
    it('completes a call running longer than MAX_CALL_MINUTES with cause max-duration', async () => {
      const long = await confirmedSession(t);
      const short = await confirmedSession(t);
      for (const s of [long, short]) {
        expect((await start(s.party.client, s.id)).status).toBe(200);
      }
      const client = await open(long.party.client);
      expect(await request(client, 'join-room', { sessionId: long.id })).toMatchObject({
        ok: true,
      });
      const heard = nextEvent(client, 'session-status', (e) => e.status === 'Completed', 10_000);
      await t.dataSource.query(
        `UPDATE sessions SET video_call_started = now() - interval '241 minutes' WHERE id = $1`,
        [long.id],
      );
      await retrack(t.dataSource, long.id);
      await t.dataSource.query(
        `UPDATE sessions SET video_call_started = now() - interval '239 minutes' WHERE id = $1`,
        [short.id],
      );
      await retrack(t.dataSource, short.id);
      const ended = await heard;
      expect(ended).toMatchObject({ sessionId: long.id, status: 'Completed', duration: 241 });
      const session = await getSession(long.party.client, long.id);
      expect(session.status).toBe('Completed');
      expect(session.duration).toBe(241);
      expect((await history(long.party.client, long.id)).at(-1)).toMatchObject({
        from: 'In Progress',
        to: 'Completed',
        cause: 'max-duration',
        actorId: null,
      });
      // The call under the cap was seen by the same pass and goes on.
      await sleep(1500);
      expect((await getSession(short.party.client, short.id)).status).toBe('In Progress');
      // The room was closed: the member's presence ended with the call.
      const [{ open: stillOpen }] = await t.dataSource.query(
        `SELECT count(*)::int AS open FROM room_presence WHERE session_id = $1 AND left_at IS NULL`,
        [long.id],
      );
      expect(stillOpen).toBe(0);
    });
  });

  describe('no-show', () => {
    const noShowOf = async (party: Party, id: string) =>
      eventually(async () => {
        const s = await getSession(party.client, id);
        return s.status === 'No Show' ? s : undefined;
      });

    it('marks who never came, from the presence record', async () => {
      const nobody = await confirmedSession(t);
      const clientOnly = await confirmedSession(t);
      const psychOnly = await confirmedSession(t);
      const started = await confirmedSession(t);

      // The client came and left again; the psychologist is still waiting in the room.
      const c = await open(clientOnly.party.client);
      expect(await request(c, 'join-room', { sessionId: clientOnly.id })).toMatchObject({
        ok: true,
      });
      expect(await request(c, 'leave-room', { sessionId: clientOnly.id })).toEqual({ ok: true });
      const p = await open(psychOnly.party.psychologist);
      expect(await request(p, 'join-room', { sessionId: psychOnly.id })).toMatchObject({
        ok: true,
      });
      const psychHears = nextEvent(p, 'session-status', (e) => e.status === 'No Show', 10_000);
      expect((await start(started.party.client, started.id)).status).toBe(200);

      expect((await getSession(nobody.party.client, nobody.id)).noShow).toBeNull();
      for (const s of [nobody, clientOnly, psychOnly, started]) {
        await shiftSchedule(s.id, -16);
      }

      expect((await noShowOf(nobody.party, nobody.id)).noShow).toEqual({
        client: true,
        psychologist: true,
      });
      expect((await noShowOf(clientOnly.party, clientOnly.id)).noShow).toEqual({
        client: false,
        psychologist: true,
      });
      expect((await noShowOf(psychOnly.party, psychOnly.id)).noShow).toEqual({
        client: true,
        psychologist: false,
      });
      expect(await psychHears).toMatchObject({ sessionId: psychOnly.id, status: 'No Show' });
      expect((await history(nobody.party.client, nobody.id)).at(-1)).toEqual(
        expect.objectContaining({
          from: 'Confirmed',
          to: 'No Show',
          cause: 'no-show',
          actorId: null,
        }),
      );

      // A call that started is never marked, however late it is.
      await sleep(1500);
      const running = await getSession(started.party.client, started.id);
      expect(running.status).toBe('In Progress');
      expect(running.noShow).toBeNull();
    });

    it('leaves a session alone until NO_SHOW_AFTER_MINUTES have passed', async () => {
      const waiting = await confirmedSession(t);
      const late = await confirmedSession(t);
      await shiftSchedule(waiting.id, -14);
      await shiftSchedule(late.id, -16);
      await noShowOf(late.party, late.id);
      await sleep(1500);
      expect((await getSession(waiting.party.client, waiting.id)).status).toBe('Confirmed');
      // The room is still open for the late arrival.
      const c = await open(waiting.party.client);
      expect(await request(c, 'join-room', { sessionId: waiting.id })).toMatchObject({ ok: true });
    });
  });

  describe('attendance', () => {
    it('counts two devices once and a drop and rejoin as a second stay', async () => {
      const { party, id } = await confirmedSession(t);
      const phone = await open(party.client);
      const laptop = await open(party.client);
      expect(await request(phone, 'join-room', { sessionId: id })).toMatchObject({ ok: true });
      expect(await request(laptop, 'join-room', { sessionId: id })).toMatchObject({ ok: true });
      expect(await request(phone, 'leave-room', { sessionId: id })).toEqual({ ok: true });
      laptop.disconnect();
      await eventually(async () => {
        const [{ n }] = await t.dataSource.query(
          `SELECT count(*)::int AS n FROM room_presence WHERE session_id = $1 AND left_at IS NULL`,
          [id],
        );
        return n === 0;
      });
      await sleep(50);
      const again = await open(party.client);
      expect(await request(again, 'join-room', { sessionId: id })).toMatchObject({ ok: true });

      const live = await attendance(party.psychologist, id);
      expect(live.status).toBe(200);
      expect(live.body).toEqual([
        {
          userId: party.client.id,
          role: 'client',
          firstJoinedAt: expect.any(String),
          lastLeftAt: null,
          secondsPresent: expect.any(Number),
          stays: 2,
        },
        {
          userId: party.psychologist.id,
          role: 'psychologist',
          firstJoinedAt: null,
          lastLeftAt: null,
          secondsPresent: 0,
          stays: 0,
        },
      ]);
      expect(await request(again, 'leave-room', { sessionId: id })).toEqual({ ok: true });

      // Exact seconds: the three stays placed at known moments (phone 0-60 s, laptop 30-120 s,
      // the rejoin 300-400 s) -> 120 + 100 seconds in two stays.
      const rows: { id: string }[] = await t.dataSource.query(
        `SELECT id FROM room_presence WHERE session_id = $1 ORDER BY joined_at, id`,
        [id],
      );
      expect(rows).toHaveLength(3);
      const base = Date.parse('2026-03-01T10:00:00.000Z');
      const place = [
        [0, 60],
        [30, 120],
        [300, 400],
      ];
      for (const [i, [from, to]] of place.entries()) {
        await t.dataSource.query(
          `UPDATE room_presence SET joined_at = $2, left_at = $3 WHERE id = $1`,
          [rows[i].id, new Date(base + from * 1000), new Date(base + to * 1000)],
        );
      }
      const res = await attendance(party.client, id);
      expect(res.status).toBe(200);
      expect(res.body[0]).toEqual({
        userId: party.client.id,
        role: 'client',
        firstJoinedAt: '2026-03-01T10:00:00.000Z',
        lastLeftAt: '2026-03-01T10:06:40.000Z',
        secondsPresent: 220,
        stays: 2,
      });
    });

    it('is for participants and admins only', async () => {
      const { party, id } = await confirmedSession(t);
      const stranger = await registerUser(t, 'client');
      expect((await attendance(party.admin, id)).status).toBe(200);
      expectError(await attendance(stranger, id), 403, 'NOT_PARTICIPANT');
      expectError(
        await attendance(party.client, '00000000-0000-4000-8000-000000000000'),
        404,
        'NOT_FOUND',
      );
      expectError(await attendance(party.client, 'not-a-uuid'), 400, 'VALIDATION_FAILED');
      expectError(await t.api.get(`/api/sessions/${id}/attendance`), 401, 'UNAUTHENTICATED');
    });
  });
});
