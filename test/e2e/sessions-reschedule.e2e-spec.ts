import type { Subscription } from 'rxjs';
import { SessionEvents, type SessionUpdated } from '../../src/sessions/session-events.js';
import { bookSession, createParty, pay, type Party } from '../factories/sessions.js';
import { loginAdmin, registerUser, type TestUser } from '../factories/users.js';
import { expectError } from '../utils/expect-error.js';
import { simultaneousRequests } from '../utils/simultaneous-requests.js';
import { eventually } from '../utils/socket-client.js';
import { retrack } from '../utils/session-tracking.js';
import { startTestApp, type TestApp } from '../utils/test-app.js';
import { startWebhookReceiver, type WebhookReceiver } from '../utils/webhook-receiver.js';

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/**
 * POST /api/sessions/:id/reschedule (PRODUCT.md section 11): who may, from which status and
 * until when, the bounds, working hours and collisions of a booking, the payment kept, the
 * history entry and the webhook event; and a reschedule racing a booking for the same slot.
 */
describe('POST /api/sessions/:id/reschedule', () => {
  let t: TestApp;
  let admin: TestUser;
  let party: Party;
  let updates: SessionUpdated[];
  let subscription: Subscription;

  /** Far-apart future slots (whole hours, 3 h apart), so the tests' sessions never collide. */
  let slotNo = 0;
  const base = Math.ceil((Date.now() + 2 * DAY) / (60 * MINUTE)) * 60 * MINUTE;
  const nextSlot = () => new Date(base + slotNo++ * 3 * 60 * MINUTE).toISOString();
  const plus = (iso: string, minutes: number) =>
    new Date(Date.parse(iso) + minutes * MINUTE).toISOString();

  beforeAll(async () => {
    t = await startTestApp({ env: { WEBHOOK_ALLOW_PRIVATE: 'true' } });
    admin = await loginAdmin(t);
    party = await createParty(t);
    updates = [];
    subscription = t.app.get(SessionEvents).updated$.subscribe((u) => updates.push(u));
  });
  afterAll(async () => {
    subscription.unsubscribe();
    await t.close();
  });

  const reschedule = (who: TestUser | undefined, id: string, body: object) => {
    const req = t.api.post(`/api/sessions/${id}/reschedule`);
    if (who) {
      req.set('Authorization', who.auth);
    }
    return req.send(body);
  };
  const rowOf = async (id: string) =>
    (
      await t.dataSource.query(
        `SELECT status, payment_status, scheduled_start, scheduled_end, duration_minutes
           FROM sessions WHERE id = $1`,
        [id],
      )
    )[0];
  const history = async (id: string, who: TestUser = admin) => {
    const res = await t.api.get(`/api/sessions/${id}/history`).set('Authorization', who.auth);
    expect(res.status).toBe(200);
    return res.body;
  };

  describe('who may', () => {
    it.each(['client', 'psychologist', 'admin'] as const)(
      'the session’s %s moves it: 200 with the session, the new start kept in the row',
      async (role) => {
        const session = await bookSession(t, party, { scheduledStart: nextSlot() });
        const to = nextSlot();
        const res = await reschedule(party[role], session.id, { scheduledStart: to });
        expect(res.status).toBe(200);
        expect(res.body).toMatchObject({
          id: session.id,
          scheduledStart: to,
          durationMinutes: 50,
          status: 'Pending',
          paymentStatus: 'Pending',
          client: { id: party.client.id, name: party.client.name },
          psychologist: { id: party.psychologist.id, name: party.psychologist.name },
        });
        const row = await rowOf(session.id);
        expect(row.scheduled_start.toISOString()).toBe(to);
        expect(row.scheduled_end.toISOString()).toBe(plus(to, 50));
        expect(updates).toContainEqual({
          sessionId: session.id,
          clientId: party.client.id,
          psychologistId: party.psychologist.id,
          scheduledStart: new Date(to),
          durationMinutes: 50,
          paymentStatus: 'Pending',
        });
      },
    );

    it('a stranger (client or psychologist) gets 403 NOT_PARTICIPANT and nothing changes', async () => {
      const session = await bookSession(t, party, { scheduledStart: nextSlot() });
      const before = await rowOf(session.id);
      for (const role of ['client', 'psychologist'] as const) {
        const stranger = await registerUser(t, role);
        expectError(
          await reschedule(stranger, session.id, { scheduledStart: nextSlot() }),
          403,
          'NOT_PARTICIPANT',
        );
      }
      expect(await rowOf(session.id)).toEqual(before);
      expect(await history(session.id)).toEqual([]);
    });

    it('needs a token (401), a UUID (400) and an existing session (404)', async () => {
      const body = { scheduledStart: nextSlot() };
      expectError(
        await reschedule(undefined, '00000000-0000-4000-8000-000000000000', body),
        401,
        'UNAUTHENTICATED',
      );
      expectError(await reschedule(party.client, 'nope', body), 400, 'VALIDATION_FAILED');
      expectError(
        await reschedule(party.client, '00000000-0000-4000-8000-000000000000', body),
        404,
        'NOT_FOUND',
      );
    });
  });

  describe('from which status, until when', () => {
    it('from Confirmed: the status and the payment are kept, durationMinutes may change', async () => {
      const session = await bookSession(t, party, { scheduledStart: nextSlot() });
      await pay(t, party, session.id, 'Verified');
      const to = nextSlot();
      const res = await reschedule(party.client, session.id, {
        scheduledStart: to,
        durationMinutes: 90,
      });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        scheduledStart: to,
        durationMinutes: 90,
        status: 'Confirmed',
        paymentStatus: 'Verified',
      });
      const row = await rowOf(session.id);
      expect(row).toMatchObject({
        status: 'Confirmed',
        payment_status: 'Verified',
        duration_minutes: 90,
      });
      expect(row.scheduled_end.toISOString()).toBe(plus(to, 90));
    });

    /** A session of a party of its own, moved to `status` (terminal ones directly in SQL). */
    async function sessionIn(status: string): Promise<{ id: string; p: Party }> {
      const p = await createParty(t);
      const now = ['In Progress', 'Completed'].includes(status);
      const session = await bookSession(t, p, now ? {} : { scheduledStart: nextSlot() });
      if (status === 'Cancelled') {
        const res = await t.api
          .post(`/api/sessions/${session.id}/cancel`)
          .set('Authorization', p.client.auth)
          .send({});
        expect(res.status).toBe(200);
      } else if (status === 'No Show') {
        // Far ahead, so that only the status refuses it (a real No Show is in the past).
        await pay(t, p, session.id);
        await t.dataSource.query(
          `UPDATE sessions SET status = 'No Show', no_show_client = true, no_show_psychologist = true WHERE id = $1`,
          [session.id],
        );
        await retrack(t.dataSource, session.id);
      } else if (now) {
        await pay(t, p, session.id);
        for (const action of status === 'Completed' ? ['start', 'end'] : ['start']) {
          const res = await t.api
            .post(`/api/video-calls/${action}/${session.id}`)
            .set('Authorization', p.client.auth);
          expect(res.status).toBe(200);
        }
      }
      return { id: session.id, p };
    }

    it.each(['In Progress', 'Completed', 'Cancelled', 'No Show'])(
      'not from %s: 409 INVALID_TRANSITION, nothing changes',
      async (status) => {
        const { id, p } = await sessionIn(status);
        const before = await rowOf(id);
        const changes = (await history(id)).length;
        expectError(
          await reschedule(p.client, id, { scheduledStart: nextSlot() }),
          409,
          'INVALID_TRANSITION',
        );
        expect(await rowOf(id)).toEqual(before);
        expect(await history(id)).toHaveLength(changes);
      },
    );

    it('not once the room is open (JOIN_EARLY_MINUTES before the start): 409 INVALID_TRANSITION', async () => {
      const p = await createParty(t);
      for (const offset of [10 * MINUTE, 0, -4 * MINUTE]) {
        const session = await bookSession(t, p, {
          scheduledStart: new Date(Date.now() + offset).toISOString(),
          durationMinutes: 15,
        });
        await pay(t, p, session.id);
        expectError(
          await reschedule(p.client, session.id, { scheduledStart: nextSlot() }),
          409,
          'INVALID_TRANSITION',
        );
        // Done with it: out of the way of the next one.
        await t.api
          .post(`/api/sessions/${session.id}/cancel`)
          .set('Authorization', admin.auth)
          .send({});
      }
      // Just before the room opens it still moves.
      const early = await bookSession(t, p, {
        scheduledStart: new Date(Date.now() + 20 * MINUTE).toISOString(),
      });
      const res = await reschedule(p.client, early.id, { scheduledStart: nextSlot() });
      expect(res.status).toBe(200);
    });
  });

  describe('the rules of a booking', () => {
    it('the bounds: 400 VALIDATION_FAILED for a start over 5 minutes past or over a year ahead, or a bad body', async () => {
      const session = await bookSession(t, party, { scheduledStart: nextSlot() });
      const before = await rowOf(session.id);
      const yearAhead = new Date();
      yearAhead.setUTCFullYear(yearAhead.getUTCFullYear() + 1);
      for (const body of [
        { scheduledStart: new Date(Date.now() - 6 * MINUTE).toISOString() },
        { scheduledStart: new Date(yearAhead.getTime() + 2 * 3600_000).toISOString() },
        { scheduledStart: nextSlot().slice(0, -1) },
        { scheduledStart: nextSlot(), durationMinutes: 14 },
        { scheduledStart: nextSlot(), durationMinutes: 181 },
        { scheduledStart: nextSlot(), status: 'Confirmed' },
        { durationMinutes: 50 },
        {},
      ]) {
        expectError(await reschedule(party.client, session.id, body), 400, 'VALIDATION_FAILED');
      }
      // A malformed body comes before existence and membership.
      const stranger = await registerUser(t, 'client');
      expectError(
        await reschedule(stranger, '00000000-0000-4000-8000-000000000000', {
          scheduledStart: 'soon',
        }),
        400,
        'VALIDATION_FAILED',
      );
      expect(await rowOf(session.id)).toEqual(before);
    });

    it('into a taken slot: 409 SLOT_TAKEN (the psychologist’s or the client’s), a cancelled one is free', async () => {
      const taken = nextSlot();
      await bookSession(t, party, { scheduledStart: taken });
      const session = await bookSession(t, party, { scheduledStart: nextSlot() });
      const before = await rowOf(session.id);
      expectError(
        await reschedule(party.client, session.id, { scheduledStart: plus(taken, 30) }),
        409,
        'SLOT_TAKEN',
      );
      // Another client's session of the same psychologist.
      const other = { ...party, client: await registerUser(t, 'client') };
      const theirs = nextSlot();
      await bookSession(t, other, { scheduledStart: theirs });
      expectError(
        await reschedule(party.psychologist, session.id, { scheduledStart: theirs }),
        409,
        'SLOT_TAKEN',
      );
      // The client's session with another psychologist.
      const elsewhere = { ...party, psychologist: await registerUser(t, 'psychologist') };
      const clientBusy = nextSlot();
      await bookSession(t, elsewhere, { scheduledStart: clientBusy });
      expectError(
        await reschedule(admin, session.id, { scheduledStart: plus(clientBusy, -20) }),
        409,
        'SLOT_TAKEN',
      );
      expect(await rowOf(session.id)).toEqual(before);
      expect(await history(session.id)).toEqual([]);

      const freed = nextSlot();
      const cancelled = await bookSession(t, party, { scheduledStart: freed });
      await t.api
        .post(`/api/sessions/${cancelled.id}/cancel`)
        .set('Authorization', party.client.auth)
        .send({});
      const res = await reschedule(party.client, session.id, { scheduledStart: freed });
      expect(res.status).toBe(200);
    });

    it('to a time overlapping its own old slot: 200 (it is the same booking)', async () => {
      const from = nextSlot();
      const session = await bookSession(t, party, { scheduledStart: from });
      for (const to of [plus(from, 20), plus(from, -10)]) {
        const res = await reschedule(party.client, session.id, {
          scheduledStart: to,
          durationMinutes: 60,
        });
        expect(res.status).toBe(200);
        expect(res.body.scheduledStart).toBe(to);
      }
    });

    describe('working hours', () => {
      // 09:00-17:00 every day in UTC for this psychologist.
      let hp: Party;
      const dayAt = (n: number, hhmm: string) =>
        `${new Date(Date.now() + n * DAY).toISOString().slice(0, 10)}T${hhmm}:00.000Z`;

      beforeAll(async () => {
        hp = await createParty(t);
        const weekly = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].map((day) => ({
          day,
          start: '09:00',
          end: '17:00',
        }));
        await t.dataSource.query(
          `INSERT INTO psychologist_availability (psychologist_id, weekly, overrides)
           VALUES ($1, $2::jsonb, '[]'::jsonb)`,
          [hp.psychologist.id, JSON.stringify(weekly)],
        );
      });

      it('outside them: 409 OUTSIDE_WORKING_HOURS for the client and the psychologist', async () => {
        const session = await bookSession(t, hp, { scheduledStart: dayAt(3, '10:00') });
        const before = await rowOf(session.id);
        for (const who of [hp.client, hp.psychologist]) {
          for (const body of [
            { scheduledStart: dayAt(4, '18:00') },
            { scheduledStart: dayAt(4, '16:30') },
            { scheduledStart: dayAt(4, '15:00'), durationMinutes: 180 },
          ]) {
            expectError(await reschedule(who, session.id, body), 409, 'OUTSIDE_WORKING_HOURS');
          }
        }
        expect(await rowOf(session.id)).toEqual(before);
        // Inside them, up to the end of the day's hours.
        const res = await reschedule(hp.client, session.id, { scheduledStart: dayAt(4, '16:10') });
        expect(res.status).toBe(200);
      });

      it('an admin may move a session outside them', async () => {
        const session = await bookSession(t, hp, { scheduledStart: dayAt(5, '10:00') });
        const res = await reschedule(admin, session.id, { scheduledStart: dayAt(5, '21:00') });
        expect(res.status).toBe(200);
        expect(res.body.scheduledStart).toBe(dayAt(5, '21:00'));
      });

      it('the status (409 INVALID_TRANSITION) is checked before the hours', async () => {
        const session = await bookSession(t, hp, { scheduledStart: dayAt(6, '10:00') });
        await t.api
          .post(`/api/sessions/${session.id}/cancel`)
          .set('Authorization', hp.client.auth)
          .send({});
        expectError(
          await reschedule(hp.client, session.id, { scheduledStart: dayAt(6, '20:00') }),
          409,
          'INVALID_TRANSITION',
        );
      });
    });
  });

  describe('what it leaves behind', () => {
    let receiver: WebhookReceiver;
    beforeAll(async () => {
      receiver = await startWebhookReceiver();
    });
    afterAll(async () => {
      await t.dataSource.query(`DELETE FROM webhook_endpoints`);
      await receiver.close();
    });

    it('a history entry (from = to, both starts, the actor) and a session.rescheduled webhook', async () => {
      const hook = await t.api
        .post('/api/webhooks')
        .set('Authorization', admin.auth)
        .send({ url: receiver.url, events: ['session.rescheduled'] });
      expect(hook.status).toBe(201);

      const from = nextSlot();
      const session = await bookSession(t, party, { scheduledStart: from });
      await pay(t, party, session.id);
      const to = nextSlot();
      const res = await reschedule(party.psychologist, session.id, {
        scheduledStart: to,
        durationMinutes: 45,
      });
      expect(res.status).toBe(200);

      const entries = await history(session.id, party.client);
      expect(entries).toEqual([
        {
          from: 'Pending',
          to: 'Confirmed',
          cause: 'payment',
          actorId: admin.id,
          actorKeyId: null,
          at: expect.stringMatching(ISO_UTC),
          previousStart: null,
          scheduledStart: null,
        },
        {
          from: 'Confirmed',
          to: 'Confirmed',
          cause: 'reschedule',
          actorId: party.psychologist.id,
          actorKeyId: null,
          at: expect.stringMatching(ISO_UTC),
          previousStart: from,
          scheduledStart: to,
        },
      ]);

      const delivered = await eventually(
        () =>
          Promise.resolve(receiver.accepted().find((r) => r.json.data.sessionId === session.id)),
        15_000,
      );
      expect(delivered.json).toEqual({
        id: expect.any(String),
        type: 'session.rescheduled',
        timestamp: expect.any(String),
        data: {
          sessionId: session.id,
          previousStart: from,
          scheduledStart: to,
          durationMinutes: 45,
          actorId: party.psychologist.id,
          at: entries[1].at,
        },
      });
    });
  });

  it('racing a booking for the same free slot: exactly one wins, every round, and nothing overlaps', async () => {
    const rounds = 10;
    const other = await registerUser(t, 'client');
    for (let round = 0; round < rounds; round++) {
      const session = await bookSession(t, party, { scheduledStart: nextSlot() });
      const target = nextSlot();
      const [moved, booked] = await simultaneousRequests(t.url, [
        {
          method: 'POST',
          path: `/api/sessions/${session.id}/reschedule`,
          headers: { Authorization: party.client.auth },
          body: { scheduledStart: plus(target, round % 2 === 0 ? 0 : 20) },
        },
        {
          method: 'POST',
          path: '/api/sessions',
          headers: { Authorization: other.auth },
          body: { psychologistId: party.psychologist.id, scheduledStart: target },
        },
      ]);
      const outcomes = [moved, booked].map((r) =>
        r.status < 300 ? 'ok' : `${r.status} ${String(r.body.code)}`,
      );
      expect(outcomes.sort()).toEqual(['409 SLOT_TAKEN', 'ok']);
    }
    const overlaps = await t.dataSource.query(
      `SELECT a.id FROM sessions a JOIN sessions b
          ON a.id < b.id AND a.psychologist_id = b.psychologist_id
         AND tstzrange(a.scheduled_start, a.scheduled_end) && tstzrange(b.scheduled_start, b.scheduled_end)
       WHERE a.status IN ('Pending', 'Confirmed', 'In Progress')
         AND b.status IN ('Pending', 'Confirmed', 'In Progress')`,
    );
    expect(overlaps).toEqual([]);
  }, 60_000);
});
