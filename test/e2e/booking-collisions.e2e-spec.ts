import { Client } from 'pg';
import { createParty, type Party } from '../factories/sessions.js';
import { registerUser, type TestUser } from '../factories/users.js';
import { expectError } from '../utils/expect-error.js';
import { simultaneousRequests } from '../utils/simultaneous-requests.js';
import { startTestApp, type TestApp } from '../utils/test-app.js';
import { waitForLockWaiters } from '../utils/test-database.js';

const HOUR = 3600_000;

describe('bookings that cannot collide', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  const at = (hoursAhead: number) =>
    new Date(Date.now() + 24 * HOUR + hoursAhead * HOUR).toISOString();
  const book = (
    party: Pick<Party, 'client' | 'psychologist'>,
    start: string,
    durationMinutes = 50,
  ) =>
    t.api
      .post('/api/sessions')
      .set('Authorization', party.client.auth)
      .send({ psychologistId: party.psychologist.id, scheduledStart: start, durationMinutes });

  /** Each client books the psychologist, all at once: different starts, all overlapping the first. */
  const bookTogether = (clients: TestUser[], psychologistId: string, start: Date) =>
    simultaneousRequests(
      t.url,
      clients.map((client, i) => ({
        method: 'POST',
        path: '/api/sessions',
        headers: { authorization: client.auth },
        body: {
          psychologistId,
          scheduledStart: new Date(start.getTime() + i * 60_000).toISOString(),
          durationMinutes: 50,
        },
      })),
    );

  it('gives one of 20 simultaneous overlapping bookings for one psychologist, the rest 409 SLOT_TAKEN', async () => {
    const psychologist = await registerUser(t, 'psychologist');
    const clients = await Promise.all(Array.from({ length: 20 }, () => registerUser(t, 'client')));
    const start = new Date(at(1));
    const answers = await bookTogether(clients, psychologist.id, start);
    expect(answers.filter((a) => a.status === 201)).toHaveLength(1);
    const refused = answers.filter((a) => a.status !== 201);
    expect(refused.map((a) => `${a.status} ${String(a.body.code)}`)).toEqual(
      refused.map(() => '409 SLOT_TAKEN'),
    );
    const rows = await t.dataSource.query(
      `SELECT count(*)::int AS n FROM sessions WHERE psychologist_id = $1`,
      [psychologist.id],
    );
    expect(rows[0].n).toBe(1);
  });

  it('lets back-to-back bookings through (the end of one is the start of the next)', async () => {
    const party = await createParty(t);
    const first = await book(party, at(2), 60);
    expect(first.status).toBe(201);
    const next = await book(party, new Date(new Date(at(2)).getTime() + HOUR).toISOString(), 50);
    expect(next.status).toBe(201);
    expectError(
      await book(party, new Date(new Date(at(2)).getTime() + 30 * 60_000).toISOString()),
      409,
      'SLOT_TAKEN',
    );
  });

  /**
   * Other bookings (plain inserts, with their live ranges), in a transaction of the test's own
   * that it ends when it chooses.
   */
  async function holdBookings(
    rows: Array<[clientId: string, psychologistId: string, start: Date]>,
  ) {
    const other = new Client({ connectionString: t.db.url });
    await other.connect();
    await other.query('BEGIN');
    const insert = (clientId: string, psychologistId: string, start: Date) =>
      other.query(
        `WITH s AS (
           INSERT INTO sessions (client_id, psychologist_id, scheduled_start, scheduled_end, duration_minutes)
           VALUES ($1, $2, $3, $4, 50) RETURNING *
         )
         INSERT INTO session_ranges (session_id, client_id, psychologist_id, scheduled_start, scheduled_end)
         SELECT id, client_id, psychologist_id, scheduled_start, scheduled_end FROM s`,
        [clientId, psychologistId, start, new Date(start.getTime() + 50 * 60_000)],
      );
    for (const row of rows) {
      await insert(...row);
    }
    return {
      insert,
      end: async (how: 'COMMIT' | 'ROLLBACK') => {
        await other.query(how);
        await other.end();
      },
    };
  }

  it('gives one of 20 bookings released at the same instant the slot, the rest 409 SLOT_TAKEN', async () => {
    // The 20 wait behind an uncommitted overlapping booking, then all go on when it rolls back.
    // With a plain INSERT each had entered its row before waiting, so they then all waited for
    // each other: one deadlock found a second, for over a minute, and 500s.
    const psychologist = await registerUser(t, 'psychologist');
    const [holder, ...clients] = await Promise.all(
      Array.from({ length: 21 }, () => registerUser(t, 'client')),
    );
    const start = new Date(at(6));
    const held = await holdBookings([[holder.id, psychologist.id, start]]);
    const answers = bookTogether(clients, psychologist.id, start);
    try {
      await waitForLockWaiters(t.db.url, clients.length);
    } finally {
      await held.end('ROLLBACK');
    }
    const outcomes = (await answers).map((a) => `${a.status} ${String(a.body.code)}`);
    expect(outcomes.filter((o) => o.startsWith('201'))).toHaveLength(1);
    expect(outcomes.filter((o) => !o.startsWith('201'))).toEqual(
      Array.from({ length: clients.length - 1 }, () => '409 SLOT_TAKEN'),
    );
  });

  it('answers SLOT_TAKEN, without a deadlock, when a transaction waited for books both parties', async () => {
    // The other transaction books the party's client, the app's booking waits for it, and then
    // it books the party's psychologist too. A plain INSERT would have entered the app's row in
    // the psychologists' index before waiting: the second booking would wait for it, a deadlock.
    const party = await createParty(t);
    const [otherClient, otherPsychologist] = await Promise.all([
      registerUser(t, 'client'),
      registerUser(t, 'psychologist'),
    ]);
    const start = new Date(at(8));
    const held = await holdBookings([[party.client.id, otherPsychologist.id, start]]);
    // `.then` sends the request now (supertest sends on first use), while the test goes on.
    const booking = book(party, start.toISOString()).then((res) => res);
    try {
      await waitForLockWaiters(t.db.url, 1);
      await held.insert(otherClient.id, party.psychologist.id, start);
    } finally {
      await held.end('COMMIT');
    }
    expectError(await booking, 409, 'SLOT_TAKEN');
    const rows = await t.dataSource.query(
      `SELECT client_id FROM sessions WHERE psychologist_id = $1`,
      [party.psychologist.id],
    );
    expect(rows).toEqual([{ client_id: otherClient.id }]);
  });

  it('keeps a client from holding two overlapping bookings, with different psychologists too', async () => {
    const party = await createParty(t);
    const other = await registerUser(t, 'psychologist');
    await book(party, at(3)).expect(201);
    expectError(
      await book({ client: party.client, psychologist: other }, at(3)),
      409,
      'SLOT_TAKEN',
    );
  });

  it('frees the slot when a booking is cancelled', async () => {
    const party = await createParty(t);
    const first = (await book(party, at(4)).expect(201)).body;
    const stranger = await registerUser(t, 'client');
    expectError(
      await book({ client: stranger, psychologist: party.psychologist }, at(4)),
      409,
      'SLOT_TAKEN',
    );
    await t.api
      .post(`/api/sessions/${first.id}/cancel`)
      .set('Authorization', party.client.auth)
      .send({})
      .expect(200);
    await book({ client: stranger, psychologist: party.psychologist }, at(4)).expect(201);
  });

  it('refuses bookings in the past or over a year ahead, and durations outside 15 to 180 minutes', async () => {
    const party = await createParty(t);
    expectError(
      await book(party, new Date(Date.now() - 10 * 60_000).toISOString()),
      400,
      'VALIDATION_FAILED',
    );
    expectError(
      await book(party, new Date(Date.now() + 370 * 24 * HOUR).toISOString()),
      400,
      'VALIDATION_FAILED',
    );
    expectError(await book(party, at(5), 14), 400, 'VALIDATION_FAILED');
    expectError(await book(party, at(5), 181), 400, 'VALIDATION_FAILED');
  });
});
