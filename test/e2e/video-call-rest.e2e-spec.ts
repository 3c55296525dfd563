import { randomUUID } from 'node:crypto';
import {
  bookSession,
  confirmedSession,
  createParty,
  pay,
  type Party,
} from '../factories/sessions.js';
import { loginAdmin, registerUser, type TestUser } from '../factories/users.js';
import { CallReconciler } from '../../src/video-call/call-reconciler.service.js';
import { retrack } from '../utils/session-tracking.js';
import { startTestApp, type TestApp } from '../utils/test-app.js';
import { expectError } from '../utils/expect-error.js';

interface HistoryRow {
  from: string;
  to: string;
  at: string;
  actorId: string | null;
  actorKeyId: string | null;
  cause: string;
}

interface SessionRow {
  status: string;
  video_call_started: Date | null;
  video_call_ended: Date | null;
  call_duration_minutes: number | null;
}

describe('video calls (REST)', () => {
  let t: TestApp;
  let admin: TestUser;

  beforeAll(async () => {
    t = await startTestApp();
    admin = await loginAdmin(t);
  });
  afterAll(() => t.close());

  const start = (who: TestUser, id: string) =>
    t.api.post(`/api/video-calls/start/${id}`).set('Authorization', who.auth);
  const end = (who: TestUser, id: string) =>
    t.api.post(`/api/video-calls/end/${id}`).set('Authorization', who.auth);
  const details = (who: TestUser, id: string) =>
    t.api.get(`/api/video-calls/session/${id}`).set('Authorization', who.auth);

  async function history(id: string): Promise<HistoryRow[]> {
    const res = await t.api.get(`/api/sessions/${id}/history`).set('Authorization', admin.auth);
    expect(res.status).toBe(200);
    return res.body;
  }

  async function row(id: string): Promise<SessionRow> {
    const [r] = await t.dataSource.query(
      'SELECT status, video_call_started, video_call_ended, call_duration_minutes FROM sessions WHERE id = $1',
      [id],
    );
    return r;
  }

  /** Pretends the running call started `seconds` ago. */
  async function startedSecondsAgo(id: string, seconds: number): Promise<void> {
    await t.dataSource.query(
      `UPDATE sessions SET video_call_started = now() - make_interval(secs => $2) WHERE id = $1`,
      [id, seconds],
    );
    await retrack(t.dataSource, id);
  }

  async function cancelled(party: Party): Promise<string> {
    const { id } = await confirmedSession(t, party);
    expect(
      (
        await t.api
          .post(`/api/sessions/${id}/cancel`)
          .set('Authorization', party.client.auth)
          .send({})
      ).status,
    ).toBe(200);
    return id;
  }

  describe('POST /api/video-calls/start/:sessionId', () => {
    it('moves a Confirmed session to In Progress and sets videoCallStarted', async () => {
      const { party, id } = await confirmedSession(t);
      const before = Date.now();
      const res = await start(party.client, id);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        id,
        status: 'In Progress',
        paymentStatus: 'Paid',
        videoCallEnded: null,
        duration: null,
      });
      const started = Date.parse(res.body.videoCallStarted);
      expect(started).toBeGreaterThanOrEqual(before - 1000);
      expect(started).toBeLessThanOrEqual(Date.now() + 1000);
      expect((await history(id)).slice(1)).toEqual([
        {
          from: 'Confirmed',
          to: 'In Progress',
          at: expect.any(String),
          actorId: party.client.id,
          actorKeyId: null,
          cause: 'start',
          previousStart: null,
          scheduledStart: null,
        },
      ]);
    });

    it('lets the psychologist start too', async () => {
      const { party, id } = await confirmedSession(t);
      const res = await start(party.psychologist, id);
      expect(res.status).toBe(200);
      expect(res.body.status).toBe('In Progress');
      expect((await history(id)).at(-1)).toMatchObject({
        cause: 'start',
        actorId: party.psychologist.id,
      });
    });

    it('is idempotent: a second start answers 200 with the session unchanged and records nothing', async () => {
      const { party, id } = await confirmedSession(t);
      const first = await start(party.client, id);
      expect(first.status).toBe(200);
      const second = await start(party.psychologist, id);
      expect(second.status).toBe(200);
      expect(second.body).toEqual(first.body);
      const third = await start(party.client, id);
      expect(third.body.videoCallStarted).toBe(first.body.videoCallStarted);
      expect((await history(id)).filter((r) => r.to === 'In Progress')).toHaveLength(1);
    });

    it('refuses an admin with 403 FORBIDDEN', async () => {
      const { id } = await confirmedSession(t);
      expectError(await start(admin, id), 403, 'FORBIDDEN');
      expect((await row(id)).status).toBe('Confirmed');
    });

    it('refuses a stranger with 403 NOT_PARTICIPANT', async () => {
      const { id } = await confirmedSession(t);
      for (const role of ['client', 'psychologist'] as const) {
        expectError(await start(await registerUser(t, role), id), 403, 'NOT_PARTICIPANT');
      }
      expect((await row(id)).status).toBe('Confirmed');
    });

    it.each(['Pending', 'Failed', 'Refunded'])(
      'refuses with 403 PAYMENT_NOT_CONFIRMED when payment is %s',
      async (status) => {
        const party = await createParty(t);
        const session = await bookSession(t, party);
        if (status !== 'Pending') {
          await pay(t, party, session.id, status);
        }
        expectError(await start(party.client, session.id), 403, 'PAYMENT_NOT_CONFIRMED');
        expectError(await start(party.psychologist, session.id), 403, 'PAYMENT_NOT_CONFIRMED');
        expect((await row(session.id)).video_call_started).toBeNull();
      },
    );

    it('refuses a Cancelled session with 409 INVALID_TRANSITION', async () => {
      const party = await createParty(t);
      const id = await cancelled(party);
      expectError(await start(party.client, id), 409, 'INVALID_TRANSITION');
      expect(await row(id)).toMatchObject({ status: 'Cancelled', video_call_started: null });
    });

    it('refuses a Completed session with 409 INVALID_TRANSITION', async () => {
      const { party, id } = await confirmedSession(t);
      await start(party.client, id);
      expect((await end(party.client, id)).status).toBe(200);
      const before = await row(id);
      expectError(await start(party.client, id), 409, 'INVALID_TRANSITION');
      expect(await row(id)).toEqual(before);
    });

    it('answers 404 for an unknown session, 400 for a malformed id, 401 without a token', async () => {
      const party = await createParty(t);
      expectError(await start(party.client, randomUUID()), 404, 'NOT_FOUND');
      expectError(await start(party.client, 'abc'), 400, 'VALIDATION_FAILED');
      expectError(
        await t.api.post(`/api/video-calls/start/${randomUUID()}`),
        401,
        'UNAUTHENTICATED',
      );
    });
  });

  describe('POST /api/video-calls/end/:sessionId', () => {
    it('moves In Progress to Completed with videoCallEnded and the duration', async () => {
      const { party, id } = await confirmedSession(t);
      const started = await start(party.client, id);
      const res = await end(party.psychologist, id);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        id,
        status: 'Completed',
        videoCallStarted: started.body.videoCallStarted,
        duration: 0,
      });
      expect(Date.parse(res.body.videoCallEnded)).toBeGreaterThanOrEqual(
        Date.parse(res.body.videoCallStarted),
      );
      expect((await history(id)).at(-1)).toEqual({
        from: 'In Progress',
        to: 'Completed',
        at: expect.any(String),
        actorId: party.psychologist.id,
        actorKeyId: null,
        cause: 'end',
        previousStart: null,
        scheduledStart: null,
      });
    });

    it('lets an admin end a stuck call', async () => {
      const { party, id } = await confirmedSession(t);
      await start(party.client, id);
      const res = await end(admin, id);
      expect(res.status).toBe(200);
      expect(res.body.status).toBe('Completed');
      expect((await history(id)).at(-1)).toMatchObject({ cause: 'end', actorId: admin.id });
    });

    it('refuses a stranger with 403 NOT_PARTICIPANT', async () => {
      const { party, id } = await confirmedSession(t);
      await start(party.client, id);
      expectError(await end(await registerUser(t, 'psychologist'), id), 403, 'NOT_PARTICIPANT');
      expect((await row(id)).status).toBe('In Progress');
    });

    it.each([
      [90, 2],
      [89, 1],
      [29, 0],
      [150, 3],
      [3600, 60],
      [5 * 3600, 300],
    ])('rounds a call of %i s to %i whole minutes', async (seconds, minutes) => {
      const { party, id } = await confirmedSession(t);
      await start(party.client, id);
      await startedSecondsAgo(id, seconds);
      const res = await end(party.client, id);
      expect(res.status).toBe(200);
      expect(res.body.duration).toBe(minutes);
      const length =
        (Date.parse(res.body.videoCallEnded) - Date.parse(res.body.videoCallStarted)) / 1000;
      expect(length).toBeGreaterThanOrEqual(seconds);
      expect(length).toBeLessThan(seconds + 5);
      expect((await row(id)).call_duration_minutes).toBe(minutes);
    });

    it('is idempotent: a repeated end answers 200 with the session unchanged', async () => {
      const { party, id } = await confirmedSession(t);
      await start(party.client, id);
      await startedSecondsAgo(id, 120);
      const first = await end(party.client, id);
      expect(first.status).toBe(200);
      await new Promise((r) => setTimeout(r, 20));
      for (const who of [party.psychologist, party.client, admin]) {
        const again = await end(who, id);
        expect(again.status).toBe(200);
        expect(again.body).toEqual(first.body);
      }
      expect((await history(id)).filter((r) => r.to === 'Completed')).toHaveLength(1);
    });

    it('refuses a call that never started with 409 INVALID_TRANSITION', async () => {
      const { party, id } = await confirmedSession(t);
      expectError(await end(party.client, id), 409, 'INVALID_TRANSITION');
      expectError(await end(admin, id), 409, 'INVALID_TRANSITION');

      const pending = await bookSession(t, party, {
        scheduledStart: new Date(Date.now() + 86_400_000).toISOString(),
      });
      expectError(await end(party.psychologist, pending.id), 409, 'INVALID_TRANSITION');

      const cancelledId = await cancelled(await createParty(t));
      expectError(await end(admin, cancelledId), 409, 'INVALID_TRANSITION');
      expect(await row(id)).toMatchObject({ status: 'Confirmed', video_call_ended: null });
    });

    it('answers 404 for an unknown session and 400 for a malformed id', async () => {
      expectError(await end(admin, randomUUID()), 404, 'NOT_FOUND');
      expectError(await end(admin, '1'), 400, 'VALIDATION_FAILED');
    });
  });

  describe('GET /api/video-calls/session/:sessionId', () => {
    it('lists both participants, absent, and counts the call seconds through its life', async () => {
      const { party, id } = await confirmedSession(t);
      const participants = [
        {
          userId: party.client.id,
          role: 'client',
          name: party.client.name,
          present: false,
          joinedAt: null,
        },
        {
          userId: party.psychologist.id,
          role: 'psychologist',
          name: party.psychologist.name,
          present: false,
          joinedAt: null,
        },
      ];

      const before = await details(party.client, id);
      expect(before.status).toBe(200);
      expect(before.body).toMatchObject({ id, status: 'Confirmed', callSeconds: 0, participants });
      expect(before.body.participants).toEqual(participants);

      await start(party.psychologist, id);
      await startedSecondsAgo(id, 42);
      const running = await details(party.psychologist, id);
      expect(running.body.status).toBe('In Progress');
      expect(running.body.callSeconds).toBeGreaterThanOrEqual(42);
      expect(running.body.callSeconds).toBeLessThan(50);
      expect(running.body.participants).toEqual(participants);

      await end(party.client, id);
      const ended = await details(admin, id);
      expect(ended.status).toBe(200);
      const total = ended.body.callSeconds;
      expect(total).toBeGreaterThanOrEqual(42);
      expect(total).toBe(
        Math.floor(
          (Date.parse(ended.body.videoCallEnded) - Date.parse(ended.body.videoCallStarted)) / 1000,
        ),
      );
      await new Promise((r) => setTimeout(r, 1100));
      expect((await details(party.client, id)).body.callSeconds).toBe(total);
    });

    it('carries the session fields as well', async () => {
      const { party, id, session } = await confirmedSession(t);
      const res = await details(party.client, id);
      const { participants, callSeconds, ...rest } = res.body;
      expect(participants).toHaveLength(2);
      expect(callSeconds).toBe(0);
      expect(rest).toEqual(session);
    });

    it('refuses a stranger; 404 for an unknown session; 400 for a malformed id', async () => {
      const { id } = await confirmedSession(t);
      expectError(await details(await registerUser(t, 'client'), id), 403, 'NOT_PARTICIPANT');
      expectError(await details(admin, randomUUID()), 404, 'NOT_FOUND');
      expectError(await details(admin, 'x'), 400, 'VALIDATION_FAILED');
      expectError(await t.api.get(`/api/video-calls/session/${id}`), 401, 'UNAUTHENTICATED');
    });
  });

  it("repairs an auto-end deadline row that no longer matches its call's room", async () => {
    const reconciler = t.app.get(CallReconciler);
    const deadline = async (id: string) =>
      (
        await t.dataSource.query(
          `SELECT since FROM session_deadlines WHERE session_id = $1 AND kind = 'auto-end'`,
          [id],
        )
      )[0] as { since: Date } | undefined;
    // Left behind by a join and a leave racing: a running call whose room is not empty.
    const occupied = await confirmedSession(t);
    expect((await start(occupied.party.client, occupied.id)).status).toBe(200);
    await t.dataSource.query(
      `INSERT INTO session_deadlines (session_id, kind, since) VALUES ($1, 'auto-end', now() - interval '1 hour')`,
      [occupied.id],
    );
    // Older than the room's real emptied time, which is within the grace period.
    const emptied = await confirmedSession(t);
    expect((await start(emptied.party.client, emptied.id)).status).toBe(200);
    await t.dataSource.query(
      `UPDATE sessions SET room_emptied_at = now() - interval '2 seconds' WHERE id = $1`,
      [emptied.id],
    );
    const [{ at }] = await t.dataSource.query(
      `SELECT room_emptied_at AS at FROM sessions WHERE id = $1`,
      [emptied.id],
    );
    await t.dataSource.query(
      `INSERT INTO session_deadlines (session_id, kind, since) VALUES ($1, 'auto-end', now() - interval '1 hour')`,
      [emptied.id],
    );

    expect(await reconciler.endAbandonedCalls()).toBe(0);
    expect(await deadline(occupied.id)).toBeUndefined();
    expect((await deadline(emptied.id))?.since).toEqual(at);
    const statuses = await t.dataSource.query(
      `SELECT status FROM sessions WHERE id = ANY($1::uuid[])`,
      [[occupied.id, emptied.id]],
    );
    expect(statuses).toEqual([{ status: 'In Progress' }, { status: 'In Progress' }]);
  });
});
