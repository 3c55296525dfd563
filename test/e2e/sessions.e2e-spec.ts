import { randomUUID } from 'node:crypto';
import {
  bookSession,
  confirmedSession,
  createParty,
  pay,
  type Party,
  type SessionJson,
} from '../factories/sessions.js';
import { loginAdmin, registerUser, type TestUser } from '../factories/users.js';
import { startTestApp, type TestApp } from '../utils/test-app.js';
import { expectError } from '../utils/expect-error.js';

const SESSION_FIELDS = [
  'id',
  'clientId',
  'psychologistId',
  'client',
  'psychologist',
  'scheduledStart',
  'durationMinutes',
  'status',
  'paymentStatus',
  'videoCallStarted',
  'videoCallEnded',
  'duration',
  'noShow',
  'createdAt',
  'updatedAt',
].sort();

interface HistoryRow {
  from: string;
  to: string;
  at: string;
  actorId: string | null;
  cause: string;
}

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

function at(offsetMs: number): string {
  return new Date(Date.now() + offsetMs).toISOString();
}

describe('sessions (REST)', () => {
  let t: TestApp;
  let admin: TestUser;

  beforeAll(async () => {
    t = await startTestApp();
    admin = await loginAdmin(t);
  });
  afterAll(() => t.close());

  async function history(sessionId: string, who: TestUser = admin): Promise<HistoryRow[]> {
    const res = await t.api
      .get(`/api/sessions/${sessionId}/history`)
      .set('Authorization', who.auth);
    expect(res.status).toBe(200);
    return res.body;
  }

  async function statusOf(sessionId: string): Promise<string> {
    const [row] = await t.dataSource.query('SELECT status FROM sessions WHERE id = $1', [
      sessionId,
    ]);
    return row.status;
  }

  describe('POST /api/sessions (booking)', () => {
    let party: Party;
    beforeAll(async () => {
      party = await createParty(t);
    });

    function book(who: TestUser, body: Record<string, unknown>) {
      return t.api.post('/api/sessions').set('Authorization', who.auth).send(body);
    }

    it('books a Pending, unpaid session of 50 minutes with exactly the contract fields', async () => {
      const scheduledStart = at(2 * DAY);
      const res = await book(party.client, {
        psychologistId: party.psychologist.id,
        scheduledStart,
      });
      expect(res.status).toBe(201);
      expect(Object.keys(res.body).sort()).toEqual(SESSION_FIELDS);
      expect(res.body).toEqual({
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        clientId: party.client.id,
        psychologistId: party.psychologist.id,
        client: { id: party.client.id, name: party.client.name },
        psychologist: { id: party.psychologist.id, name: party.psychologist.name },
        scheduledStart,
        durationMinutes: 50,
        status: 'Pending',
        paymentStatus: 'Pending',
        videoCallStarted: null,
        videoCallEnded: null,
        duration: null,
        noShow: null,
        createdAt: expect.stringMatching(ISO_UTC),
        updatedAt: expect.stringMatching(ISO_UTC),
      });
      expect(Object.keys(res.body.client).sort()).toEqual(['id', 'name']);
      expect(Object.keys(res.body.psychologist).sort()).toEqual(['id', 'name']);
      expect(await history(res.body.id)).toEqual([]);

      const stored = await t.api
        .get(`/api/sessions/${res.body.id}`)
        .set('Authorization', party.client.auth);
      expect(stored.status).toBe(200);
      expect(stored.body).toEqual(res.body);
    });

    it('stores scheduledStart in UTC whatever offset it was given in', async () => {
      const res = await book(party.client, {
        psychologistId: party.psychologist.id,
        scheduledStart: '2027-03-01T10:00:00+02:00',
      });
      expect(res.status).toBe(201);
      expect(res.body.scheduledStart).toBe('2027-03-01T08:00:00.000Z');
    });

    it.each([15, 180])('accepts durationMinutes %i', async (durationMinutes) => {
      const res = await book(party.client, {
        psychologistId: party.psychologist.id,
        scheduledStart: at((durationMinutes === 15 ? 4 : 6) * DAY),
        durationMinutes,
      });
      expect(res.status).toBe(201);
      expect(res.body.durationMinutes).toBe(durationMinutes);
    });

    it.each([14, 181, 0, -50, 50.5, '50', 'fifty'])(
      'refuses durationMinutes %j with 400',
      async (durationMinutes) => {
        const res = await book(party.client, {
          psychologistId: party.psychologist.id,
          scheduledStart: at(8 * DAY),
          durationMinutes,
        });
        expectError(res, 400, 'VALIDATION_FAILED');
      },
    );

    it('accepts a start up to 5 minutes in the past and up to a year ahead', async () => {
      const past = await book(party.client, {
        psychologistId: party.psychologist.id,
        scheduledStart: at(-4 * MINUTE),
      });
      expect(past.status).toBe(201);
      const yearAhead = new Date();
      yearAhead.setUTCFullYear(yearAhead.getUTCFullYear() + 1);
      const ahead = await book(party.client, {
        psychologistId: party.psychologist.id,
        scheduledStart: new Date(yearAhead.getTime() - DAY).toISOString(),
      });
      expect(ahead.status).toBe(201);
    });

    it('refuses a start more than 5 minutes in the past', async () => {
      for (const offset of [-6 * MINUTE, -DAY, -400 * DAY]) {
        const res = await book(party.client, {
          psychologistId: party.psychologist.id,
          scheduledStart: at(offset),
        });
        expectError(res, 400, 'VALIDATION_FAILED');
      }
    });

    it('refuses a start more than a year ahead', async () => {
      const yearAhead = new Date();
      yearAhead.setUTCFullYear(yearAhead.getUTCFullYear() + 1);
      for (const when of [
        yearAhead.getTime() + 2 * 3600_000,
        Date.now() + 367 * DAY,
        Date.now() + 5 * 365 * DAY,
      ]) {
        const res = await book(party.client, {
          psychologistId: party.psychologist.id,
          scheduledStart: new Date(when).toISOString(),
        });
        expectError(res, 400, 'VALIDATION_FAILED');
      }
    });

    it.each([
      ['missing psychologistId', { scheduledStart: 'FUTURE' }],
      ['missing scheduledStart', { psychologistId: 'PSY' }],
      [
        'a psychologistId that is not a UUID',
        { psychologistId: 'dr-who', scheduledStart: 'FUTURE' },
      ],
      [
        'a scheduledStart that is not a date',
        { psychologistId: 'PSY', scheduledStart: 'tomorrow' },
      ],
      [
        'a scheduledStart that is a number',
        { psychologistId: 'PSY', scheduledStart: 1_900_000_000_000 },
      ],
      [
        'a scheduledStart without a time zone',
        { psychologistId: 'PSY', scheduledStart: 'FUTURE_LOCAL' },
      ],
      [
        'a scheduledStart that is only a date',
        { psychologistId: 'PSY', scheduledStart: 'FUTURE_DATE' },
      ],
      ['an unknown field', { psychologistId: 'PSY', scheduledStart: 'FUTURE', price: 100 }],
      [
        'status set by the caller',
        { psychologistId: 'PSY', scheduledStart: 'FUTURE', status: 'Confirmed' },
      ],
      [
        'paymentStatus set by the caller',
        { psychologistId: 'PSY', scheduledStart: 'FUTURE', paymentStatus: 'Paid' },
      ],
    ])('refuses %s with 400', async (_label, template) => {
      const body = Object.fromEntries(
        Object.entries(template).map(([k, v]) => [
          k,
          v === 'FUTURE'
            ? at(10 * DAY)
            : v === 'FUTURE_LOCAL'
              ? at(10 * DAY).slice(0, -1)
              : v === 'FUTURE_DATE'
                ? at(10 * DAY).slice(0, 10)
                : v === 'PSY'
                  ? party.psychologist.id
                  : v,
        ]),
      );
      const before = await t.dataSource.query('SELECT count(*)::int AS n FROM sessions');
      const res = await book(party.client, body);
      expectError(res, 400, 'VALIDATION_FAILED');
      const after = await t.dataSource.query('SELECT count(*)::int AS n FROM sessions');
      expect(after[0].n).toBe(before[0].n);
    });

    it('refuses a psychologistId that is not a psychologist with 400', async () => {
      const otherClient = await registerUser(t, 'client');
      for (const id of [otherClient.id, admin.id, randomUUID(), party.client.id]) {
        const res = await book(party.client, { psychologistId: id, scheduledStart: at(12 * DAY) });
        expectError(res, 400, 'VALIDATION_FAILED');
      }
    });

    it('does not let a psychologist book: 403 FORBIDDEN', async () => {
      const other = await registerUser(t, 'psychologist');
      const res = await book(party.psychologist, {
        psychologistId: other.id,
        scheduledStart: at(14 * DAY),
      });
      expectError(res, 403, 'FORBIDDEN');
      const own = await book(party.psychologist, {
        psychologistId: party.psychologist.id,
        scheduledStart: at(14 * DAY),
      });
      expectError(own, 403, 'FORBIDDEN');
    });

    it('does not let a client book for another client', async () => {
      const other = await registerUser(t, 'client');
      const res = await book(party.client, {
        psychologistId: party.psychologist.id,
        scheduledStart: at(16 * DAY),
        clientId: other.id,
      });
      expectError(res, 403, 'FORBIDDEN');
    });

    it('requires clientId from an admin (400 without)', async () => {
      const res = await book(admin, {
        psychologistId: party.psychologist.id,
        scheduledStart: at(18 * DAY),
      });
      expectError(res, 400, 'VALIDATION_FAILED');
      expect(res.body.details).toEqual([expect.objectContaining({ field: 'clientId' })]);
    });

    it('refuses an admin booking whose clientId is not a client', async () => {
      for (const clientId of [party.psychologist.id, admin.id, randomUUID()]) {
        const res = await book(admin, {
          psychologistId: party.psychologist.id,
          scheduledStart: at(20 * DAY),
          clientId,
        });
        expectError(res, 400, 'VALIDATION_FAILED');
      }
    });

    it('lets an admin book for a client', async () => {
      const client = await registerUser(t, 'client');
      const res = await book(admin, {
        psychologistId: party.psychologist.id,
        scheduledStart: at(22 * DAY),
        clientId: client.id,
        durationMinutes: 90,
      });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({
        clientId: client.id,
        psychologistId: party.psychologist.id,
        client: { id: client.id, name: client.name },
        status: 'Pending',
        paymentStatus: 'Pending',
        durationMinutes: 90,
      });
      const seen = await t.api
        .get(`/api/sessions/${res.body.id}`)
        .set('Authorization', client.auth);
      expect(seen.status).toBe(200);
    });

    it('needs authentication', async () => {
      const res = await t.api
        .post('/api/sessions')
        .send({ psychologistId: party.psychologist.id, scheduledStart: at(DAY) });
      expectError(res, 401, 'UNAUTHENTICATED');
    });
  });

  describe('GET /api/sessions (listing)', () => {
    let c1: TestUser;
    let c2: TestUser;
    let p1: TestUser;
    let p2: TestUser;
    /** c1's sessions, newest scheduledStart first. */
    let c1Ids: string[];
    let p1Ids: string[];
    let cancelledId: string;
    let confirmedId: string;

    beforeAll(async () => {
      [c1, c2, p1, p2] = await Promise.all([
        registerUser(t, 'client'),
        registerUser(t, 'client'),
        registerUser(t, 'psychologist'),
        registerUser(t, 'psychologist'),
      ]);
      const mk = (client: TestUser, psychologist: TestUser, days: number) =>
        bookSession(t, { client, psychologist, admin }, { scheduledStart: at(days * DAY) }).then(
          (s) => s.id,
        );
      // Booked out of order, so the order of the list comes from scheduledStart, not insertion.
      const a = await mk(c1, p1, 3);
      const b = await mk(c1, p1, 1);
      const c = await mk(c1, p2, 5);
      const d = await mk(c1, p1, 2);
      const e = await mk(c2, p1, 4);
      await mk(c2, p2, 6);
      c1Ids = [c, a, d, b];
      p1Ids = [e, a, d, b];
      cancelledId = d;
      confirmedId = a;
      const cancel = await t.api
        .post(`/api/sessions/${d}/cancel`)
        .set('Authorization', c1.auth)
        .send({});
      expect(cancel.status).toBe(200);
      await pay(t, { client: c1, psychologist: p1, admin }, a);
    });

    const list = (who: TestUser, query = '') =>
      t.api.get(`/api/sessions${query}`).set('Authorization', who.auth);

    it('shows a client their own sessions only, newest scheduledStart first, page 1 of 20 by default', async () => {
      const res = await list(c1);
      expect(res.status).toBe(200);
      expect(Object.keys(res.body).sort()).toEqual(['items', 'limit', 'page', 'total']);
      expect(res.body.items.map((s: SessionJson) => s.id)).toEqual(c1Ids);
      expect(res.body).toMatchObject({ total: 4, page: 1, limit: 20 });
      for (const s of res.body.items) {
        expect(Object.keys(s).sort()).toEqual(SESSION_FIELDS);
        expect(s.clientId).toBe(c1.id);
        expect(s.client).toEqual({ id: c1.id, name: c1.name });
        expect(s.psychologist.name).toBe(s.psychologistId === p1.id ? p1.name : p2.name);
      }
    });

    it('shows a psychologist their own sessions only', async () => {
      const res = await list(p1);
      expect(res.status).toBe(200);
      expect(res.body.items.map((s: SessionJson) => s.id)).toEqual(p1Ids);
      expect(res.body.total).toBe(4);
      expect(res.body.items.every((s: SessionJson) => s.psychologistId === p1.id)).toBe(true);
    });

    it('shows a user with no sessions nothing', async () => {
      const lonely = await registerUser(t, 'client');
      const res = await list(lonely);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ items: [], total: 0, page: 1, limit: 20 });
    });

    it('shows an admin every session, newest scheduledStart first', async () => {
      const [{ n }] = await t.dataSource.query('SELECT count(*)::int AS n FROM sessions');
      const res = await list(admin, '?limit=100');
      expect(res.status).toBe(200);
      expect(res.body.total).toBe(n);
      expect(res.body.items).toHaveLength(Math.min(n, 100));
      const ids = res.body.items.map((s: SessionJson) => s.id);
      expect(ids).toEqual(expect.arrayContaining([...c1Ids, ...p1Ids]));
      const starts = res.body.items.map((s: SessionJson) => Date.parse(s.scheduledStart));
      expect(starts).toEqual([...starts].sort((x, y) => y - x));
      const clients = new Set(res.body.items.map((s: SessionJson) => s.clientId));
      expect(clients.has(c1.id) && clients.has(c2.id)).toBe(true);
    });

    it('filters by status', async () => {
      const cancelled = await list(c1, '?status=Cancelled');
      expect(cancelled.status).toBe(200);
      expect(cancelled.body.items.map((s: SessionJson) => s.id)).toEqual([cancelledId]);
      expect(cancelled.body.total).toBe(1);

      const confirmed = await list(p1, '?status=Confirmed');
      expect(confirmed.body.items.map((s: SessionJson) => s.id)).toEqual([confirmedId]);

      const pending = await list(c1, '?status=Pending');
      expect(pending.body.items.map((s: SessionJson) => s.id)).toEqual(
        c1Ids.filter((id) => id !== cancelledId && id !== confirmedId),
      );
      expect(pending.body.items.every((s: SessionJson) => s.status === 'Pending')).toBe(true);

      const running = await list(c1, `?status=${encodeURIComponent('In Progress')}`);
      expect(running.status).toBe(200);
      expect(running.body).toMatchObject({ items: [], total: 0 });
    });

    it('pages with page and limit', async () => {
      const first = await list(c1, '?page=1&limit=3');
      expect(first.status).toBe(200);
      expect(first.body).toMatchObject({ total: 4, page: 1, limit: 3 });
      expect(first.body.items.map((s: SessionJson) => s.id)).toEqual(c1Ids.slice(0, 3));

      const second = await list(c1, '?page=2&limit=3');
      expect(second.body).toMatchObject({ total: 4, page: 2, limit: 3 });
      expect(second.body.items.map((s: SessionJson) => s.id)).toEqual(c1Ids.slice(3));

      const beyond = await list(c1, '?page=3&limit=3');
      expect(beyond.status).toBe(200);
      expect(beyond.body).toEqual({ items: [], total: 4, page: 3, limit: 3 });

      const filtered = await list(c1, '?status=Pending&limit=1&page=2');
      expect(filtered.body).toMatchObject({ total: 2, page: 2, limit: 1 });
      expect(filtered.body.items).toHaveLength(1);
    });

    it('accepts limit 100', async () => {
      const res = await list(c1, '?limit=100');
      expect(res.status).toBe(200);
      expect(res.body.limit).toBe(100);
    });

    it.each([
      '?limit=101',
      '?limit=0',
      '?limit=-1',
      '?limit=abc',
      '?limit=2.5',
      '?page=0',
      '?page=-1',
      '?page=abc',
      '?page=1.5',
      '?status=Bogus',
      '?status=pending',
      '?sort=asc',
    ])('refuses %s with 400', async (query) => {
      expectError(await list(c1, query), 400, 'VALIDATION_FAILED');
    });

    it('needs authentication', async () => {
      expectError(await t.api.get('/api/sessions'), 401, 'UNAUTHENTICATED');
    });
  });

  describe('GET /api/sessions/:id', () => {
    let party: Party;
    let session: SessionJson;
    beforeAll(async () => {
      party = await createParty(t);
      session = await bookSession(t, party);
    });

    it('answers the client, the psychologist and an admin', async () => {
      for (const who of [party.client, party.psychologist, admin]) {
        const res = await t.api.get(`/api/sessions/${session.id}`).set('Authorization', who.auth);
        expect(res.status).toBe(200);
        expect(res.body).toEqual(session);
      }
    });

    it('refuses anyone else with 403 NOT_PARTICIPANT', async () => {
      for (const role of ['client', 'psychologist'] as const) {
        const stranger = await registerUser(t, role);
        const res = await t.api
          .get(`/api/sessions/${session.id}`)
          .set('Authorization', stranger.auth);
        expectError(res, 403, 'NOT_PARTICIPANT');
      }
    });

    it('answers 404 NOT_FOUND for an unknown id', async () => {
      const res = await t.api.get(`/api/sessions/${randomUUID()}`).set('Authorization', admin.auth);
      expectError(res, 404, 'NOT_FOUND');
    });

    it.each(['not-a-uuid', '123', `${randomUUID()}x`])('answers 400 for the id %s', async (id) => {
      const res = await t.api.get(`/api/sessions/${id}`).set('Authorization', admin.auth);
      expectError(res, 400, 'VALIDATION_FAILED');
    });
  });

  describe('POST /api/sessions/:id/payment', () => {
    const paymentBy = (who: TestUser, id: string, body: unknown) =>
      t.api
        .post(`/api/sessions/${id}/payment`)
        .set('Authorization', who.auth)
        .send(body as object);

    it('is admin only: participants get 403 FORBIDDEN and nothing changes', async () => {
      const party = await createParty(t);
      const session = await bookSession(t, party);
      for (const who of [party.client, party.psychologist]) {
        expectError(await paymentBy(who, session.id, { paymentStatus: 'Paid' }), 403, 'FORBIDDEN');
      }
      const [row] = await t.dataSource.query(
        'SELECT status, payment_status FROM sessions WHERE id = $1',
        [session.id],
      );
      expect(row).toEqual({ status: 'Pending', payment_status: 'Pending' });
      expect(await history(session.id)).toEqual([]);
    });

    it.each(['Paid', 'Confirmed', 'Verified'])(
      '%s moves Pending to Confirmed with one history row by the admin',
      async (paymentStatus) => {
        const party = await createParty(t);
        const session = await bookSession(t, party);
        const res = await paymentBy(admin, session.id, { paymentStatus });
        expect(res.status).toBe(200);
        expect(Object.keys(res.body).sort()).toEqual(SESSION_FIELDS);
        expect(res.body).toMatchObject({ id: session.id, status: 'Confirmed', paymentStatus });
        const rows = await history(session.id);
        expect(rows).toEqual([
          {
            from: 'Pending',
            to: 'Confirmed',
            at: expect.stringMatching(ISO_UTC),
            actorId: admin.id,
            cause: 'payment',
          },
        ]);

        // Another confirming status updates the payment but makes no second transition.
        const again = await paymentBy(admin, session.id, { paymentStatus: 'Verified' });
        expect(again.status).toBe(200);
        expect(again.body).toMatchObject({ status: 'Confirmed', paymentStatus: 'Verified' });
        expect(await history(session.id)).toHaveLength(1);
      },
    );

    it('Failed leaves a Pending session Pending, with no history', async () => {
      const party = await createParty(t);
      const session = await bookSession(t, party);
      const res = await paymentBy(admin, session.id, { paymentStatus: 'Failed' });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ status: 'Pending', paymentStatus: 'Failed' });
      expect(await history(session.id)).toEqual([]);

      // A later confirmation still confirms it.
      const paid = await paymentBy(admin, session.id, { paymentStatus: 'Paid' });
      expect(paid.body).toMatchObject({ status: 'Confirmed', paymentStatus: 'Paid' });
    });

    it('Refunded leaves a Confirmed session Confirmed, but then the call cannot start', async () => {
      const { party, id } = await confirmedSession(t);
      const res = await paymentBy(admin, id, { paymentStatus: 'Refunded' });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ status: 'Confirmed', paymentStatus: 'Refunded' });
      expect(await history(id)).toHaveLength(1);

      for (const who of [party.client, party.psychologist]) {
        const start = await t.api
          .post(`/api/video-calls/start/${id}`)
          .set('Authorization', who.auth);
        expectError(start, 403, 'PAYMENT_NOT_CONFIRMED');
      }
      expect(await statusOf(id)).toBe('Confirmed');

      // Paid again: the call can start.
      await pay(t, party, id, 'Paid');
      const start = await t.api
        .post(`/api/video-calls/start/${id}`)
        .set('Authorization', party.client.auth);
      expect(start.status).toBe(200);
      expect(start.body.status).toBe('In Progress');
    });

    it('Refunded does not interrupt a call in progress, which can still end', async () => {
      const { party, id } = await confirmedSession(t);
      expect(
        (await t.api.post(`/api/video-calls/start/${id}`).set('Authorization', party.client.auth))
          .status,
      ).toBe(200);
      const res = await paymentBy(admin, id, { paymentStatus: 'Refunded' });
      expect(res.body).toMatchObject({ status: 'In Progress', paymentStatus: 'Refunded' });
      const end = await t.api
        .post(`/api/video-calls/end/${id}`)
        .set('Authorization', party.psychologist.auth);
      expect(end.status).toBe(200);
      expect(end.body.status).toBe('Completed');
    });

    it('a confirming payment on a Cancelled session changes only the payment', async () => {
      const party = await createParty(t);
      const session = await bookSession(t, party);
      await t.api
        .post(`/api/sessions/${session.id}/cancel`)
        .set('Authorization', party.client.auth)
        .send({});
      const res = await paymentBy(admin, session.id, { paymentStatus: 'Paid' });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ status: 'Cancelled', paymentStatus: 'Paid' });
      expect((await history(session.id)).map((r) => r.cause)).toEqual(['cancel']);
    });

    it.each([
      {},
      { paymentStatus: 'paid' },
      { paymentStatus: 'Bogus' },
      { paymentStatus: 1 },
      { paymentStatus: 'Paid', x: 1 },
    ])('refuses the body %j with 400', async (body) => {
      const party = await createParty(t);
      const session = await bookSession(t, party);
      expectError(await paymentBy(admin, session.id, body), 400, 'VALIDATION_FAILED');
      expect(await statusOf(session.id)).toBe('Pending');
    });

    it('answers 404 for an unknown session and 400 for a malformed id', async () => {
      expectError(
        await paymentBy(admin, randomUUID(), { paymentStatus: 'Paid' }),
        404,
        'NOT_FOUND',
      );
      expectError(
        await paymentBy(admin, 'nope', { paymentStatus: 'Paid' }),
        400,
        'VALIDATION_FAILED',
      );
    });
  });

  describe('POST /api/sessions/:id/cancel', () => {
    const cancelBy = (who: TestUser, id: string, body?: object) => {
      const req = t.api.post(`/api/sessions/${id}/cancel`).set('Authorization', who.auth);
      return body === undefined ? req : req.send(body);
    };

    it('lets the client cancel a Pending session, recording who and why', async () => {
      const party = await createParty(t);
      const session = await bookSession(t, party);
      const res = await cancelBy(party.client, session.id, { reason: 'feeling better' });
      expect(res.status).toBe(200);
      expect(Object.keys(res.body).sort()).toEqual(SESSION_FIELDS);
      expect(res.body).toMatchObject({
        id: session.id,
        status: 'Cancelled',
        paymentStatus: 'Pending',
      });
      expect(await history(session.id)).toEqual([
        {
          from: 'Pending',
          to: 'Cancelled',
          at: expect.stringMatching(ISO_UTC),
          actorId: party.client.id,
          cause: 'cancel',
        },
      ]);
      const [row] = await t.dataSource.query('SELECT cancel_reason FROM sessions WHERE id = $1', [
        session.id,
      ]);
      expect(row.cancel_reason).toBe('feeling better');
    });

    it('lets the psychologist cancel a Confirmed session, without a body', async () => {
      const { party, id } = await confirmedSession(t);
      const res = await cancelBy(party.psychologist, id);
      expect(res.status).toBe(200);
      expect(res.body.status).toBe('Cancelled');
      const rows = await history(id);
      expect(rows.map((r) => [r.from, r.to, r.cause, r.actorId])).toEqual([
        ['Pending', 'Confirmed', 'payment', admin.id],
        ['Confirmed', 'Cancelled', 'cancel', party.psychologist.id],
      ]);
    });

    it('lets an admin cancel', async () => {
      const party = await createParty(t);
      const session = await bookSession(t, party);
      const res = await cancelBy(admin, session.id, {});
      expect(res.status).toBe(200);
      expect(res.body.status).toBe('Cancelled');
      expect((await history(session.id))[0]).toMatchObject({ actorId: admin.id, cause: 'cancel' });
    });

    it('refuses a stranger with 403 NOT_PARTICIPANT', async () => {
      const party = await createParty(t);
      const session = await bookSession(t, party);
      const stranger = await registerUser(t, 'client');
      expectError(await cancelBy(stranger, session.id, {}), 403, 'NOT_PARTICIPANT');
      expect(await statusOf(session.id)).toBe('Pending');
    });

    it('refuses In Progress, Completed and Cancelled sessions with 409 INVALID_TRANSITION', async () => {
      const { party, id } = await confirmedSession(t);
      expect(
        (await t.api.post(`/api/video-calls/start/${id}`).set('Authorization', party.client.auth))
          .status,
      ).toBe(200);
      expectError(await cancelBy(party.client, id, {}), 409, 'INVALID_TRANSITION');
      expectError(await cancelBy(admin, id, {}), 409, 'INVALID_TRANSITION');
      expect(await statusOf(id)).toBe('In Progress');

      expect(
        (await t.api.post(`/api/video-calls/end/${id}`).set('Authorization', party.client.auth))
          .status,
      ).toBe(200);
      expectError(await cancelBy(party.psychologist, id, {}), 409, 'INVALID_TRANSITION');
      expect(await statusOf(id)).toBe('Completed');

      const other = await bookSession(t, party, { scheduledStart: at(3 * DAY) });
      expect((await cancelBy(party.client, other.id, {})).status).toBe(200);
      expectError(await cancelBy(party.client, other.id, {}), 409, 'INVALID_TRANSITION');
      expect((await history(other.id)).filter((r) => r.cause === 'cancel')).toHaveLength(1);
    });

    it.each([{ reason: 'x'.repeat(501) }, { reason: 5 }, { why: 'no' }])(
      'refuses the body %j with 400',
      async (body) => {
        const party = await createParty(t);
        const session = await bookSession(t, party);
        expectError(await cancelBy(party.client, session.id, body), 400, 'VALIDATION_FAILED');
        expect(await statusOf(session.id)).toBe('Pending');
      },
    );

    it('answers 404 for an unknown session', async () => {
      expectError(await cancelBy(admin, randomUUID(), {}), 404, 'NOT_FOUND');
    });
  });

  describe('GET /api/sessions/:id/history', () => {
    it('lists every change oldest first, with who and why', async () => {
      const { party, id } = await confirmedSession(t);
      expect(
        (await t.api.post(`/api/video-calls/start/${id}`).set('Authorization', party.client.auth))
          .status,
      ).toBe(200);
      expect(
        (
          await t.api
            .post(`/api/video-calls/end/${id}`)
            .set('Authorization', party.psychologist.auth)
        ).status,
      ).toBe(200);

      for (const who of [party.client, party.psychologist, admin]) {
        const rows = await history(id, who);
        expect(rows).toEqual([
          {
            from: 'Pending',
            to: 'Confirmed',
            at: expect.stringMatching(ISO_UTC),
            actorId: admin.id,
            cause: 'payment',
          },
          {
            from: 'Confirmed',
            to: 'In Progress',
            at: expect.stringMatching(ISO_UTC),
            actorId: party.client.id,
            cause: 'start',
          },
          {
            from: 'In Progress',
            to: 'Completed',
            at: expect.stringMatching(ISO_UTC),
            actorId: party.psychologist.id,
            cause: 'end',
          },
        ]);
        const times = rows.map((r) => Date.parse(r.at));
        expect(times).toEqual([...times].sort((a, b) => a - b));
      }
    });

    it('refuses a stranger, answers 404 for an unknown session and 400 for a malformed id', async () => {
      const { id } = await confirmedSession(t);
      const stranger = await registerUser(t, 'psychologist');
      expectError(
        await t.api.get(`/api/sessions/${id}/history`).set('Authorization', stranger.auth),
        403,
        'NOT_PARTICIPANT',
      );
      expectError(
        await t.api.get(`/api/sessions/${randomUUID()}/history`).set('Authorization', admin.auth),
        404,
        'NOT_FOUND',
      );
      expectError(
        await t.api.get('/api/sessions/zzz/history').set('Authorization', admin.auth),
        400,
        'VALIDATION_FAILED',
      );
    });
  });

  describe('the order of checks', () => {
    let party: Party;
    let stranger: TestUser;
    let pendingId: string;

    beforeAll(async () => {
      party = await createParty(t);
      stranger = await registerUser(t, 'client');
      pendingId = (await bookSession(t, party)).id;
    });

    it('authentication comes before a malformed id', async () => {
      expectError(await t.api.get('/api/sessions/not-a-uuid'), 401, 'UNAUTHENTICATED');
      expectError(await t.api.get('/api/sessions/not-a-uuid/history'), 401, 'UNAUTHENTICATED');
      expectError(
        await t.api.post('/api/sessions/not-a-uuid/cancel').send({ reason: 5 }),
        401,
        'UNAUTHENTICATED',
      );
      expectError(await t.api.post('/api/video-calls/start/not-a-uuid'), 401, 'UNAUTHENTICATED');
      expectError(
        await t.api.get('/api/sessions/not-a-uuid').set('Authorization', 'Bearer not.a.token'),
        401,
        'UNAUTHENTICATED',
      );
    });

    it('a malformed id or body comes before existence', async () => {
      expectError(
        await t.api.get('/api/sessions/not-a-uuid').set('Authorization', admin.auth),
        400,
        'VALIDATION_FAILED',
      );
      expectError(
        await t.api
          .post(`/api/sessions/${randomUUID()}/payment`)
          .set('Authorization', admin.auth)
          .send({ paymentStatus: 'x' }),
        400,
        'VALIDATION_FAILED',
      );
      expectError(
        await t.api
          .post(`/api/sessions/${randomUUID()}/cancel`)
          .set('Authorization', admin.auth)
          .send({ reason: 5 }),
        400,
        'VALIDATION_FAILED',
      );
      expectError(
        await t.api.post('/api/video-calls/end/not-a-uuid').set('Authorization', admin.auth),
        400,
        'VALIDATION_FAILED',
      );
    });

    it('a malformed body comes before the role', async () => {
      expectError(
        await t.api
          .post(`/api/sessions/${pendingId}/payment`)
          .set('Authorization', party.client.auth)
          .send({}),
        400,
        'VALIDATION_FAILED',
      );
      expectError(
        await t.api
          .post('/api/sessions')
          .set('Authorization', party.psychologist.auth)
          .send({ scheduledStart: 'soon' }),
        400,
        'VALIDATION_FAILED',
      );
    });

    it('existence comes before the role', async () => {
      expectError(
        await t.api
          .post(`/api/sessions/${randomUUID()}/payment`)
          .set('Authorization', party.client.auth)
          .send({ paymentStatus: 'Paid' }),
        404,
        'NOT_FOUND',
      );
      expectError(
        await t.api.post(`/api/video-calls/start/${randomUUID()}`).set('Authorization', admin.auth),
        404,
        'NOT_FOUND',
      );
    });

    it('existence comes before membership', async () => {
      expectError(
        await t.api.get(`/api/sessions/${randomUUID()}`).set('Authorization', stranger.auth),
        404,
        'NOT_FOUND',
      );
      expectError(
        await t.api
          .post(`/api/video-calls/start/${randomUUID()}`)
          .set('Authorization', stranger.auth),
        404,
        'NOT_FOUND',
      );
    });

    it('the role comes before membership', async () => {
      // A stranger asking for an admin-only action is told about the role, not membership.
      expectError(
        await t.api
          .post(`/api/sessions/${pendingId}/payment`)
          .set('Authorization', stranger.auth)
          .send({ paymentStatus: 'Paid' }),
        403,
        'FORBIDDEN',
      );
      // An admin (not a participant) starting a call: FORBIDDEN.
      const { id } = await confirmedSession(t);
      expectError(
        await t.api.post(`/api/video-calls/start/${id}`).set('Authorization', admin.auth),
        403,
        'FORBIDDEN',
      );
    });

    it('membership comes before payment', async () => {
      expectError(
        await t.api.post(`/api/video-calls/start/${pendingId}`).set('Authorization', stranger.auth),
        403,
        'NOT_PARTICIPANT',
      );
    });

    it('payment comes before the status', async () => {
      // Unpaid and Cancelled: the payment is reported, not the status.
      const other = await bookSession(t, party, { scheduledStart: at(5 * DAY) });
      expect(
        (
          await t.api
            .post(`/api/sessions/${other.id}/cancel`)
            .set('Authorization', party.client.auth)
            .send({})
        ).status,
      ).toBe(200);
      expectError(
        await t.api
          .post(`/api/video-calls/start/${other.id}`)
          .set('Authorization', party.client.auth),
        403,
        'PAYMENT_NOT_CONFIRMED',
      );
      // Paid, then Cancelled: now the status answers.
      const paidThenCancelled = await confirmedSession(t);
      await t.api
        .post(`/api/sessions/${paidThenCancelled.id}/cancel`)
        .set('Authorization', paidThenCancelled.party.client.auth)
        .send({});
      expectError(
        await t.api
          .post(`/api/video-calls/start/${paidThenCancelled.id}`)
          .set('Authorization', paidThenCancelled.party.client.auth),
        409,
        'INVALID_TRANSITION',
      );
    });
  });

  it('answers unknown routes with 404 NOT_FOUND', async () => {
    expectError(
      await t.api.get('/api/sessionz').set('Authorization', admin.auth),
      404,
      'NOT_FOUND',
    );
  });
});
