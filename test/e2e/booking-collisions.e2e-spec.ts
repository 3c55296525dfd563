import { Client } from 'pg';
import { createParty, type Party } from '../factories/sessions.js';
import { registerUser } from '../factories/users.js';
import { expectError } from '../utils/expect-error.js';
import { simultaneousRequests } from '../utils/simultaneous-requests.js';
import { eventually } from '../utils/socket-client.js';
import { startTestApp, type TestApp } from '../utils/test-app.js';

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

  it('gives one of 20 simultaneous overlapping bookings for one psychologist, the rest 409 SLOT_TAKEN', async () => {
    const psychologist = await registerUser(t, 'psychologist');
    const clients = await Promise.all(Array.from({ length: 20 }, () => registerUser(t, 'client')));
    const start = new Date(at(1));
    const answers = await simultaneousRequests(
      t.url,
      clients.map((client, i) => ({
        method: 'POST',
        path: '/api/sessions',
        headers: { authorization: client.auth },
        // Different starts, all overlapping the first one.
        body: {
          psychologistId: psychologist.id,
          scheduledStart: new Date(start.getTime() + i * 60_000).toISOString(),
          durationMinutes: 50,
        },
      })),
    );
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

  it('retries a booking that PostgreSQL aborted in a deadlock, and answers SLOT_TAKEN, not 500', async () => {
    // Two bookings that collide twice over. Another transaction books the party's client (with
    // another psychologist); the app's INSERT, which enters the psychologists' exclusion index
    // before the clients' (the order the migration created them), waits at the clients' with its
    // psychologist entry in place. That transaction then books the party's psychologist, so it
    // waits for the app's: a deadlock. PostgreSQL aborts the app's INSERT (it waited first, so
    // its check runs first); the retry waits again and, once the other commits, meets its row.
    const party = await createParty(t);
    const [otherClient, otherPsychologist] = await Promise.all([
      registerUser(t, 'client'),
      registerUser(t, 'psychologist'),
    ]);
    const start = new Date(at(6));
    const end = new Date(start.getTime() + 50 * 60_000);
    const insert = `INSERT INTO sessions (client_id, psychologist_id, scheduled_start, scheduled_end, duration_minutes)
                    VALUES ($1, $2, $3, $4, 50)`;
    const deadlocks = async () =>
      Number(
        (
          await t.dataSource.query(
            `SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()`,
          )
        )[0].deadlocks,
      );
    const deadlocksBefore = await deadlocks();
    const other = new Client({ connectionString: t.db.url });
    await other.connect();
    try {
      await other.query('BEGIN');
      await other.query(insert, [party.client.id, otherPsychologist.id, start, end]);
      const booking = book(party, start.toISOString()).then((res) => res);
      await eventually(async () => {
        const [row] = await t.dataSource.query(
          `SELECT count(*)::int AS n FROM pg_stat_activity
            WHERE datname = current_database() AND wait_event_type = 'Lock'
              AND query LIKE 'INSERT INTO sessions%'`,
        );
        return row.n === 1 || undefined;
      }, 10_000);
      // Waits for the app's uncommitted row until PostgreSQL aborts the app's INSERT.
      await other.query(insert, [otherClient.id, party.psychologist.id, start, end]);
      await other.query('COMMIT');
      expectError(await booking, 409, 'SLOT_TAKEN');
    } finally {
      await other.end();
    }
    // The deadlock did happen (the scenario above depends on PostgreSQL's index order).
    await eventually(async () => (await deadlocks()) > deadlocksBefore || undefined, 10_000);
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
