import { randomUUID } from 'node:crypto';
import { createParty, type Party } from '../factories/sessions.js';
import { registerUser, type TestUser } from '../factories/users.js';
import { expectError } from '../utils/expect-error.js';
import { at, DAY, ISO_UTC, MINUTE, SESSION_FIELDS, useSessionApp } from '../utils/session-rest.js';

describe('POST /api/sessions (booking)', () => {
  const app = useSessionApp();

  let party: Party;
  beforeAll(async () => {
    party = await createParty(app.t);
  });

  function book(who: TestUser, body: Record<string, unknown>) {
    return app.t.api.post('/api/sessions').set('Authorization', who.auth).send(body);
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
    expect(await app.history(res.body.id)).toEqual([]);

    const stored = await app.t.api
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
    ['a psychologistId that is not a UUID', { psychologistId: 'dr-who', scheduledStart: 'FUTURE' }],
    ['a scheduledStart that is not a date', { psychologistId: 'PSY', scheduledStart: 'tomorrow' }],
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
    const before = await app.t.dataSource.query('SELECT count(*)::int AS n FROM sessions');
    const res = await book(party.client, body);
    expectError(res, 400, 'VALIDATION_FAILED');
    const after = await app.t.dataSource.query('SELECT count(*)::int AS n FROM sessions');
    expect(after[0].n).toBe(before[0].n);
  });

  it('refuses a psychologistId that is not a psychologist with 400', async () => {
    const otherClient = await registerUser(app.t, 'client');
    for (const id of [otherClient.id, app.admin.id, randomUUID(), party.client.id]) {
      const res = await book(party.client, { psychologistId: id, scheduledStart: at(12 * DAY) });
      expectError(res, 400, 'VALIDATION_FAILED');
    }
  });

  it('does not let a psychologist book: 403 FORBIDDEN', async () => {
    const other = await registerUser(app.t, 'psychologist');
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
    const other = await registerUser(app.t, 'client');
    const res = await book(party.client, {
      psychologistId: party.psychologist.id,
      scheduledStart: at(16 * DAY),
      clientId: other.id,
    });
    expectError(res, 403, 'FORBIDDEN');
  });

  it('requires clientId from an admin (400 without)', async () => {
    const res = await book(app.admin, {
      psychologistId: party.psychologist.id,
      scheduledStart: at(18 * DAY),
    });
    expectError(res, 400, 'VALIDATION_FAILED');
    expect(res.body.details).toEqual([expect.objectContaining({ field: 'clientId' })]);
  });

  it('refuses an admin booking whose clientId is not a client', async () => {
    for (const clientId of [party.psychologist.id, app.admin.id, randomUUID()]) {
      const res = await book(app.admin, {
        psychologistId: party.psychologist.id,
        scheduledStart: at(20 * DAY),
        clientId,
      });
      expectError(res, 400, 'VALIDATION_FAILED');
    }
  });

  it('lets an admin book for a client', async () => {
    const client = await registerUser(app.t, 'client');
    const res = await book(app.admin, {
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
    const seen = await app.t.api
      .get(`/api/sessions/${res.body.id}`)
      .set('Authorization', client.auth);
    expect(seen.status).toBe(200);
  });

  describe('inside working hours', () => {
    // Every day 09:00-17:00 in Berlin. Days ahead at noon UTC (13:00 or 14:00 there) are inside;
    // 17:00 UTC (18:00 or 19:00 there) is outside, and so is a session running past 17:00.
    let hoursParty: Party;
    const day = (n: number, hhmm: string) =>
      `${new Date(Date.now() + n * DAY).toISOString().slice(0, 10)}T${hhmm}:00.000Z`;

    beforeAll(async () => {
      hoursParty = await createParty(app.t);
      await app.t.dataSource.query(`UPDATE users SET time_zone = 'Europe/Berlin' WHERE id = $1`, [
        hoursParty.psychologist.id,
      ]);
      const weekly = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].map((d) => ({
        day: d,
        start: '09:00',
        end: '17:00',
      }));
      await app.t.dataSource.query(
        `INSERT INTO psychologist_availability (psychologist_id, weekly, overrides)
         VALUES ($1, $2::jsonb, '[]'::jsonb)`,
        [hoursParty.psychologist.id, JSON.stringify(weekly)],
      );
    });

    const bookWith = (who: TestUser, scheduledStart: string, extra: object = {}) =>
      book(who, { psychologistId: hoursParty.psychologist.id, scheduledStart, ...extra });

    it('refuses a client outside them with 409 OUTSIDE_WORKING_HOURS, and stores nothing', async () => {
      const before = await app.t.dataSource.query('SELECT count(*)::int AS n FROM sessions');
      expectError(
        await bookWith(hoursParty.client, day(30, '17:00')),
        409,
        'OUTSIDE_WORKING_HOURS',
      );
      // Starts inside, ends after 17:00 Berlin time.
      expectError(
        await bookWith(hoursParty.client, day(30, '15:30'), { durationMinutes: 90 }),
        409,
        'OUTSIDE_WORKING_HOURS',
      );
      const after = await app.t.dataSource.query('SELECT count(*)::int AS n FROM sessions');
      expect(after[0].n).toBe(before[0].n);
    });

    it('books a client inside them', async () => {
      const res = await bookWith(hoursParty.client, day(31, '12:00'));
      expect(res.status).toBe(201);
      expect(res.body.scheduledStart).toBe(day(31, '12:00'));
    });

    it('lets an admin book outside them', async () => {
      const res = await bookWith(app.admin, day(32, '20:00'), { clientId: hoursParty.client.id });
      expect(res.status).toBe(201);
    });

    it('checks the role (403) before the hours (409)', async () => {
      expectError(await bookWith(hoursParty.psychologist, day(33, '20:00')), 403, 'FORBIDDEN');
    });

    it('a psychologist with no hours set is bookable at any time', async () => {
      for (const hhmm of ['02:00', '20:00']) {
        const res = await book(party.client, {
          psychologistId: party.psychologist.id,
          scheduledStart: day(34, hhmm),
        });
        expect(res.status).toBe(201);
      }
    });
  });

  it('needs authentication', async () => {
    const res = await app.t.api
      .post('/api/sessions')
      .send({ psychologistId: party.psychologist.id, scheduledStart: at(DAY) });
    expectError(res, 401, 'UNAUTHENTICATED');
  });
});
