import { randomUUID } from 'node:crypto';
import { jest } from '@jest/globals';
import { DateTime } from 'luxon';
import pg from 'pg';
import { bookSession, pay, type Party } from '../factories/sessions.js';
import { loginAdmin, registerUser, type TestUser } from '../factories/users.js';
import { expectError } from '../utils/expect-error.js';
import { startTestApp, type TestApp } from '../utils/test-app.js';

/**
 * Working hours and free slots (PRODUCT.md section 11): PUT /api/psychologists/me/availability
 * and GET /api/psychologists/:id/availability, and GET /api/psychologists/:id/slots, wall-clock
 * in the psychologist's zone across daylight-saving changes, clear of live bookings, past the
 * minimum notice, with one bookings read per request whatever the range.
 */

const MINUTE = 60_000;
const DAY = 86_400_000;
const EVERY_DAY = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

interface Hours {
  timeZone: string;
  weekly: Array<{ day: string; start: string; end: string }>;
  overrides: Array<{ date: string; intervals: Array<{ start: string; end: string }> }>;
}

describe('working hours and free slots', () => {
  let t: TestApp;
  let client: TestUser;
  let admin: TestUser;

  beforeAll(async () => {
    t = await startTestApp();
    [client, admin] = await Promise.all([registerUser(t, 'client'), loginAdmin(t)]);
  });
  afterAll(() => t.close());

  const put = (who: TestUser, body: object) =>
    t.api.put('/api/psychologists/me/availability').set('Authorization', who.auth).send(body);
  const getHours = (id: string, who: TestUser = client) =>
    t.api.get(`/api/psychologists/${id}/availability`).set('Authorization', who.auth);
  const slots = (id: string, query: Record<string, string | number>, who: TestUser = client) =>
    t.api.get(`/api/psychologists/${id}/slots`).query(query).set('Authorization', who.auth);

  async function psychologistWith(hours?: Hours): Promise<TestUser> {
    const p = await registerUser(t, 'psychologist');
    if (hours) {
      const res = await put(p, hours);
      expect(res.status).toBe(200);
    }
    return p;
  }

  describe('availability', () => {
    const HOURS: Hours = {
      timeZone: 'europe/berlin',
      weekly: [
        { day: 'mon', start: '09:00', end: '12:00' },
        { day: 'mon', start: '13:00', end: '17:00' },
        { day: 'fri', start: '20:00', end: '24:00' },
      ],
      overrides: [
        { date: '2027-01-04', intervals: [] },
        { date: '2027-01-09', intervals: [{ start: '10:00', end: '11:30' }] },
      ],
    };

    it('round trips: what PUT stores, GET returns to anyone, in the canonical zone', async () => {
      const p = await registerUser(t, 'psychologist');
      const expected = {
        psychologistId: p.id,
        ...HOURS,
        timeZone: 'Europe/Berlin',
        configured: true,
      };
      const res = await put(p, HOURS);
      expect(res.status).toBe(200);
      expect(res.body).toEqual(expected);
      for (const who of [client, admin, p]) {
        const got = await getHours(p.id, who);
        expect(got.status).toBe(200);
        expect(got.body).toEqual(expected);
        // In the documented order, not jsonb's.
        expect(Object.keys(got.body.weekly[0])).toEqual(['day', 'start', 'end']);
        expect(Object.keys(got.body.overrides[1].intervals[0])).toEqual(['start', 'end']);
      }
      // The profile's zone is the zone of the hours.
      const [row] = await t.dataSource.query(`SELECT time_zone FROM users WHERE id = $1`, [p.id]);
      expect(row.time_zone).toBe('Europe/Berlin');
      // A second PUT replaces the whole document.
      const next = { timeZone: 'Asia/Tokyo', weekly: [], overrides: [] };
      expect((await put(p, next)).body).toEqual({
        psychologistId: p.id,
        ...next,
        configured: true,
      });
      expect((await getHours(p.id)).body).toEqual({
        psychologistId: p.id,
        ...next,
        configured: true,
      });
    });

    it('a psychologist without hours: configured false, nothing listed, their profile zone', async () => {
      const p = await registerUser(t, 'psychologist');
      const res = await getHours(p.id);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        psychologistId: p.id,
        timeZone: 'UTC',
        weekly: [],
        overrides: [],
        configured: false,
      });
    });

    it('is 404 for an id that is not a psychologist, 400 for one that is not a UUID', async () => {
      expectError(await getHours(client.id), 404, 'NOT_FOUND');
      expectError(await getHours(admin.id), 404, 'NOT_FOUND');
      expectError(await getHours(randomUUID()), 404, 'NOT_FOUND');
      expectError(await getHours('not-a-uuid'), 400, 'VALIDATION_FAILED');
      expectError(
        await t.api.get(`/api/psychologists/${client.id}/availability`),
        401,
        'UNAUTHENTICATED',
      );
    });

    it.each([
      ['a client', () => client],
      ['an admin', () => admin],
    ])('%s cannot set hours: 403 FORBIDDEN, nothing stored', async (_label, who) => {
      expectError(await put(who(), HOURS), 403, 'FORBIDDEN');
      const [{ n }] = await t.dataSource.query(
        `SELECT count(*)::int AS n FROM psychologist_availability WHERE psychologist_id = $1`,
        [who().id],
      );
      expect(n).toBe(0);
    });

    const ok = HOURS.weekly;
    const many = (n: number) =>
      Array.from({ length: n }, (_, i) => ({
        day: EVERY_DAY[i % 7],
        start: `${String(Math.floor(i / 7)).padStart(2, '0')}:00`,
        end: `${String(Math.floor(i / 7)).padStart(2, '0')}:30`,
      }));
    const dates = (n: number) =>
      Array.from({ length: n }, (_, i) => ({
        date: DateTime.fromISO('2027-01-01', { zone: 'UTC' }).plus({ days: i }).toISODate(),
        intervals: [],
      }));
    // prettier-ignore
    const BAD: Array<[string, Partial<Hours> | Record<string, unknown>, string]> = [
      ['an unknown zone', { timeZone: 'Mars/Olympus' }, 'timeZone'],
      ['an offset as zone', { timeZone: '+01:00' }, 'timeZone'],
      ['a missing zone', { timeZone: undefined }, 'timeZone'],
      ['an end before its start', { weekly: [ok[0], { day: 'tue', start: '12:00', end: '11:00' }] }, 'weekly[1]'],
      ['an end equal to its start', { weekly: [{ day: 'tue', start: '12:00', end: '12:00' }] }, 'weekly[0]'],
      ['overlapping intervals of a day', { weekly: [ok[0], ok[2], { day: 'mon', start: '11:00', end: '14:00' }] }, 'weekly[2]'],
      ['overlapping intervals of an override', { overrides: [{ date: '2027-01-04', intervals: [{ start: '09:00', end: '10:00' }, { start: '09:30', end: '11:00' }] }] }, 'overrides[0].intervals[1]'],
      ['an unknown day', { weekly: [{ day: 'monday', start: '09:00', end: '10:00' }] }, 'weekly.0.day'],
      ['a time past 24:00', { weekly: [{ day: 'mon', start: '09:00', end: '24:30' }] }, 'weekly.0.end'],
      ['a time without minutes', { weekly: [{ day: 'mon', start: '9', end: '10:00' }] }, 'weekly.0.start'],
      ['an interval that starts at 24:00', { weekly: [{ day: 'mon', start: '24:00', end: '24:00' }] }, 'weekly[0]'],
      ['a date not on the calendar', { overrides: [{ date: '2027-02-30', intervals: [] }] }, 'overrides[0].date'],
      ['a date in another format', { overrides: [{ date: '04.01.2027', intervals: [] }] }, 'overrides.0.date'],
      ['a date given twice', { overrides: [{ date: '2027-01-04', intervals: [] }, { date: '2027-01-04', intervals: [] }] }, 'overrides[1].date'],
      ['an unknown field in an interval', { weekly: [{ ...ok[0], note: 'x' }] }, 'weekly.0.note'],
      ['71 weekly intervals', { weekly: many(71) }, 'weekly'],
      ['401 overrides', { overrides: dates(401) }, 'overrides'],
      ['25 intervals in one override', { overrides: [{ date: '2027-01-04', intervals: many(25).map(({ start, end }) => ({ start, end })) }] }, 'overrides.0.intervals'],
      ['weekly not a list', { weekly: { mon: [] } }, 'weekly'],
    ];

    it.each(BAD)(
      'refuses %s with 400 naming the field, and stores nothing',
      async (_label, change, field) => {
        const p = await registerUser(t, 'psychologist');
        const res = await put(p, { ...HOURS, ...change });
        expectError(res, 400, 'VALIDATION_FAILED');
        expect(res.body.details.map((d: { field: string }) => d.field)).toContain(field);
        expect((await getHours(p.id)).body.configured).toBe(false);
        const [row] = await t.dataSource.query(`SELECT time_zone FROM users WHERE id = $1`, [p.id]);
        expect(row.time_zone).toBe('UTC');
      },
    );

    it('takes the largest documents the bounds allow', async () => {
      const p = await registerUser(t, 'psychologist');
      const body = {
        timeZone: 'UTC',
        weekly: many(70),
        overrides: [
          ...dates(399),
          {
            date: '2029-01-01',
            intervals: many(24).map((_, i) => ({
              start: `${String(i).padStart(2, '0')}:00`,
              end: `${String(i).padStart(2, '0')}:30`,
            })),
          },
        ],
      };
      const res = await put(p, body);
      expect(res.status).toBe(200);
      expect((await getHours(p.id)).body).toEqual({
        psychologistId: p.id,
        ...body,
        configured: true,
      });
    });
  });

  describe('slots', () => {
    /** The slots as local wall-clock times "YYYY-MM-DD HH:mm" in `zone`. */
    const local = (list: string[], zone: string) =>
      list.map((s) => DateTime.fromISO(s, { zone }).toFormat('yyyy-MM-dd HH:mm'));
    /** Every day from `first` for `days` days, with the given local times. */
    const everyDay = (first: string, days: number, times: string[]) =>
      Array.from({ length: days }, (_, i) =>
        times.map((time) => `${DateTime.fromISO(first).plus({ days: i }).toISODate()} ${time}`),
      ).flat();
    const NINE_TO_TEN = ['09:00', '09:15', '09:30', '09:45', '10:00'];

    it.each([
      ['spring forward', '2027-03-22', '2027-03-28'],
      ['fall back', '2027-10-25', '2027-10-31'],
    ])(
      'Europe/Berlin, the week of the %s (%s to %s): the hours stay at their wall-clock times',
      async (_label, monday, sunday) => {
        const p = await psychologistWith({
          timeZone: 'Europe/Berlin',
          weekly: EVERY_DAY.map((day) => ({ day, start: '09:00', end: '11:00' })),
          overrides: [],
        });
        const from = DateTime.fromISO(`${monday}T00:00`, { zone: 'Europe/Berlin' });
        const res = await slots(p.id, {
          from: from.toUTC().toISO()!,
          to: from.plus({ weeks: 1 }).toUTC().toISO()!,
          durationMinutes: 60,
        });
        expect(res.status).toBe(200);
        expect(res.body).toMatchObject({
          psychologistId: p.id,
          timeZone: 'Europe/Berlin',
          durationMinutes: 60,
          stepMinutes: 15,
        });
        expect(local(res.body.slots, 'Europe/Berlin')).toEqual(everyDay(monday, 7, NINE_TO_TEN));
        // The UTC offsets change on the Sunday: 09:00 is 08:00Z before and 07:00Z after in
        // spring, 07:00Z before and 08:00Z after in autumn.
        const spring = monday.startsWith('2027-03');
        const saturday = DateTime.fromISO(sunday).minus({ days: 1 }).toISODate();
        expect(res.body.slots).toContain(`${saturday}T0${spring ? 8 : 7}:00:00.000Z`);
        expect(res.body.slots).toContain(`${sunday}T0${spring ? 7 : 8}:00:00.000Z`);
      },
    );

    it('Europe/Berlin: hours across the change itself last the real time between them', async () => {
      const p = await psychologistWith({
        timeZone: 'Europe/Berlin',
        weekly: [],
        overrides: [
          // 02:00-03:00 does not exist on 2027-03-28: 01:00 CET to 04:00 CEST is two hours.
          { date: '2027-03-28', intervals: [{ start: '01:00', end: '04:00' }] },
          // 02:00-03:00 happens twice on 2027-10-31: 01:00 CEST to 04:00 CET is four hours.
          { date: '2027-10-31', intervals: [{ start: '01:00', end: '04:00' }] },
        ],
      });
      const spring = await slots(p.id, {
        from: '2027-03-27T12:00:00Z',
        to: '2027-03-28T12:00:00Z',
        durationMinutes: 60,
      });
      expect(spring.body.slots).toEqual([
        '2027-03-28T00:00:00.000Z',
        '2027-03-28T00:15:00.000Z',
        '2027-03-28T00:30:00.000Z',
        '2027-03-28T00:45:00.000Z',
        '2027-03-28T01:00:00.000Z',
      ]);
      const autumn = await slots(p.id, {
        from: '2027-10-30T12:00:00Z',
        to: '2027-10-31T12:00:00Z',
        durationMinutes: 60,
      });
      expect(autumn.body.slots).toHaveLength(13);
      expect(autumn.body.slots[0]).toBe('2027-10-30T23:00:00.000Z');
      expect(autumn.body.slots[12]).toBe('2027-10-31T02:00:00.000Z');
    });

    it.each([
      ['2027-03-22', '2027-03-28'],
      ['2027-10-25', '2027-10-31'],
    ])(
      'Asia/Colombo (no daylight saving), the week of %s: the same UTC times every day',
      async (monday) => {
        const p = await psychologistWith({
          timeZone: 'Asia/Colombo',
          weekly: EVERY_DAY.map((day) => ({ day, start: '09:00', end: '11:00' })),
          overrides: [],
        });
        const res = await slots(p.id, {
          from: `${monday}T00:00:00+05:30`,
          to: `${DateTime.fromISO(monday).plus({ weeks: 1 }).toISODate()}T00:00:00+05:30`,
          durationMinutes: 60,
        });
        expect(res.status).toBe(200);
        expect(res.body.timeZone).toBe('Asia/Colombo');
        const utc = (res.body.slots as string[]).map((s) => s.slice(11, 16));
        expect(utc).toEqual(
          Array.from({ length: 7 }, () => ['03:30', '03:45', '04:00', '04:15', '04:30']).flat(),
        );
        expect(local(res.body.slots, 'Asia/Colombo')).toEqual(everyDay(monday, 7, NINE_TO_TEN));
      },
    );

    it('a day off (an override without intervals) and an override of other hours', async () => {
      const p = await psychologistWith({
        timeZone: 'UTC',
        weekly: [{ day: 'mon', start: '09:00', end: '10:00' }],
        overrides: [
          { date: '2027-01-04', intervals: [] },
          { date: '2027-01-12', intervals: [{ start: '15:00', end: '16:00' }] },
        ],
      });
      const res = await slots(p.id, {
        from: '2027-01-04T00:00:00Z',
        to: '2027-01-19T00:00:00Z',
        durationMinutes: 60,
      });
      expect(res.body.slots).toEqual([
        '2027-01-11T09:00:00.000Z',
        '2027-01-12T15:00:00.000Z',
        '2027-01-18T09:00:00.000Z',
      ]);
    });

    it('no working hours: every step of the day is free', async () => {
      const p = await psychologistWith();
      const res = await slots(p.id, { from: '2027-01-04T00:00:00Z', to: '2027-01-05T00:00:00Z' });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ timeZone: 'UTC', durationMinutes: 50, stepMinutes: 15 });
      expect(res.body.slots).toEqual(
        Array.from({ length: 96 }, (_, i) =>
          new Date(Date.parse('2027-01-04T00:00:00Z') + i * 15 * MINUTE).toISOString(),
        ),
      );
    });

    it('follows a reschedule: the old time is offered again, the new one is taken', async () => {
      const p = await psychologistWith();
      const party: Party = { client, psychologist: p, admin };
      const day = Math.ceil(Date.now() / DAY) * DAY + DAY;
      const at = (hour: number) => new Date(day + hour * 3_600_000).toISOString();
      const booked = await bookSession(t, party, { scheduledStart: at(10) });
      const moved = await t.api
        .post(`/api/sessions/${booked.id}/reschedule`)
        .set('Authorization', client.auth)
        .send({ scheduledStart: at(13) });
      expect(moved.status).toBe(200);

      const res = await slots(p.id, { from: at(9), to: at(15) });
      expect(res.status).toBe(200);
      expect(res.body.slots).toContain(at(10));
      expect(res.body.slots).not.toContain(at(13));
      expect(res.body.slots).not.toContain(
        new Date(Date.parse(at(13)) - 30 * MINUTE).toISOString(),
      );
    });

    it('leaves out the times of live bookings (Pending, Confirmed) and offers those of cancelled ones', async () => {
      const p = await psychologistWith();
      const party: Party = { client, psychologist: p, admin };
      const day = Math.ceil(Date.now() / DAY) * DAY + DAY;
      const at = (hour: number, minute = 0) =>
        new Date(day + hour * 3_600_000 + minute * MINUTE).toISOString();
      await bookSession(t, party, { scheduledStart: at(10) });
      const confirmed = await bookSession(t, party, { scheduledStart: at(12) });
      await pay(t, party, confirmed.id);
      const cancelled = await bookSession(t, party, { scheduledStart: at(14) });
      const cancel = await t.api
        .post(`/api/sessions/${cancelled.id}/cancel`)
        .set('Authorization', client.auth)
        .send({});
      expect(cancel.status).toBe(200);
      // Another psychologist's booking blocks nothing here.
      const other = await registerUser(t, 'psychologist');
      const otherClient = await registerUser(t, 'client');
      await bookSession(
        t,
        { client: otherClient, psychologist: other, admin },
        { scheduledStart: at(15) },
      );

      const res = await slots(p.id, { from: at(9), to: at(16) });
      expect(res.status).toBe(200);
      const busy = [
        [at(10), at(10, 50)],
        [at(12), at(12, 50)],
      ].map(([s, e]) => [Date.parse(s), Date.parse(e)]);
      const expected: string[] = [];
      for (let s = Date.parse(at(9)); s < Date.parse(at(16)); s += 15 * MINUTE) {
        if (!busy.some(([bs, be]) => s < be && s + 50 * MINUTE > bs)) {
          expected.push(new Date(s).toISOString());
        }
      }
      expect(res.body.slots).toEqual(expected);
      expect(res.body.slots).toContain(at(14));
      expect(res.body.slots).not.toContain(at(10));
      expect(res.body.slots).not.toContain(at(12));

      // At the edges: a booking that began before `from`, and one that begins after `to` but
      // inside the last slot's session.
      const edges = await slots(p.id, { from: at(10, 30), to: at(11, 45) });
      expect(edges.body.slots).toEqual([at(11)]);
    });

    it('offers nothing inside the minimum notice (BOOKING_MIN_NOTICE_MINUTES, 60 by default)', async () => {
      const p = await psychologistWith();
      const before = Date.now();
      const res = await slots(p.id, {
        from: new Date(before - 3_600_000).toISOString(),
        to: new Date(before + 3 * 3_600_000).toISOString(),
      });
      const after = Date.now();
      expect(res.status).toBe(200);
      const first = Date.parse(res.body.slots[0]);
      const grid = (ms: number) => Math.ceil(ms / (15 * MINUTE)) * 15 * MINUTE;
      expect(first).toBeGreaterThanOrEqual(grid(before + 60 * MINUTE));
      expect(first).toBeLessThanOrEqual(grid(after + 60 * MINUTE));
      for (const s of res.body.slots as string[]) {
        expect(Date.parse(s)).toBeGreaterThanOrEqual(before + 60 * MINUTE);
      }
      // A range wholly in the past or inside the notice: nothing at all.
      const soon = await slots(p.id, {
        from: new Date(before - DAY).toISOString(),
        to: new Date(before + 30 * MINUTE).toISOString(),
      });
      expect(soon.body.slots).toEqual([]);
    });

    it('allows a range of 31 days, not a minute more; to must be after from', async () => {
      const p = await psychologistWith();
      const from = '2027-01-01T00:00:00Z';
      const res = await slots(p.id, { from, to: '2027-02-01T00:00:00Z' });
      expect(res.status).toBe(200);
      expect(res.body.slots).toHaveLength(31 * 96);
      for (const [to, label] of [
        ['2027-02-01T00:01:00Z', 'over 31 days'],
        [from, 'equal to from'],
        ['2026-12-31T00:00:00Z', 'before from'],
      ]) {
        const bad = await slots(p.id, { from, to });
        expectError(bad, 400, 'VALIDATION_FAILED');
        expect({ label, fields: bad.body.details.map((d: { field: string }) => d.field) }).toEqual({
          label,
          fields: ['to'],
        });
      }
    });

    const RANGE = { from: '2027-01-01T00:00:00Z', to: '2027-01-02T00:00:00Z' };
    it.each([
      ['no from', { to: RANGE.to }],
      ['no to', { from: RANGE.from }],
      ['a from without a zone', { ...RANGE, from: '2027-01-01T00:00:00' }],
      ['a date for from', { ...RANGE, from: '2027-01-01' }],
      ['a duration of 14', { ...RANGE, durationMinutes: 14 }],
      ['a duration of 181', { ...RANGE, durationMinutes: 181 }],
      ['a fractional duration', { ...RANGE, durationMinutes: 50.5 }],
      ['an unknown parameter', { ...RANGE, step: 5 }],
    ])('refuses %s with 400', async (_label, query) => {
      const p = await psychologistWith();
      expectError(await slots(p.id, query), 400, 'VALIDATION_FAILED');
    });

    it('is 404 for an id that is not a psychologist, 400 for one that is not a UUID', async () => {
      const range = { from: '2027-01-01T00:00:00Z', to: '2027-01-02T00:00:00Z' };
      expectError(await slots(client.id, range), 404, 'NOT_FOUND');
      expectError(await slots(randomUUID(), range), 404, 'NOT_FOUND');
      expectError(await slots('123', range), 400, 'VALIDATION_FAILED');
    });

    it('reads the bookings once per request, however long the range', async () => {
      const p = await psychologistWith({
        timeZone: 'Europe/Berlin',
        weekly: EVERY_DAY.map((day) => ({ day, start: '08:00', end: '18:00' })),
        overrides: [],
      });
      const party: Party = { client, psychologist: p, admin };
      const day = Math.ceil(Date.now() / DAY) * DAY + 2 * DAY;
      for (let i = 0; i < 5; i++) {
        await bookSession(t, party, {
          scheduledStart: new Date(day + i * DAY + 9 * 3_600_000).toISOString(),
        });
      }
      const spy = jest.spyOn(pg.Client.prototype, 'query');
      try {
        for (const days of [1, 31]) {
          spy.mockClear();
          const res = await slots(p.id, {
            from: new Date(day).toISOString(),
            to: new Date(day + days * DAY).toISOString(),
          });
          expect(res.status).toBe(200);
          expect(res.body.slots.length).toBeGreaterThan(days * 20);
          // Observed, not mocked: every statement the app sent that reads bookings (sessions or
          // their live ranges) for this psychologist (background tasks read sessions too, but
          // not by this id).
          const reads = spy.mock.calls.filter(([config, values]) => {
            const text = typeof config === 'string' ? config : (config as { text?: string }).text;
            const args =
              (values as unknown[] | undefined) ?? (config as { values?: unknown[] }).values ?? [];
            return /\bsession(s|_ranges)\b/.test(text ?? '') && args.includes(p.id);
          });
          expect({ days, reads: reads.length }).toEqual({ days, reads: 1 });
        }
      } finally {
        spy.mockRestore();
      }
    });
  });
});
