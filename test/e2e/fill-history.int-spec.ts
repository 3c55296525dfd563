import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { FILLED_PASSWORD } from '../../bench/history/fill.js';
import { migrate } from '../../src/database/migrate.js';
import { startTestApp, type TestApp } from '../utils/test-app.js';
import { createTestDatabase, type TestDatabase } from '../utils/test-database.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** `npm run fill-history -- --sessions N` as a user runs it (tsx, DATABASE_URL). */
function fill(url: string, sessions: number): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) =>
    execFile(
      process.execPath,
      ['--import', 'tsx', 'bench/history/fill-history.ts', '--sessions', String(sessions)],
      { cwd: ROOT, env: { ...process.env, DATABASE_URL: url }, timeout: 180_000 },
      (error, _stdout, stderr) =>
        resolve({ code: error ? ((error.code as number) ?? 1) : 0, stderr }),
    ),
  );
}

/**
 * The history filler on a fresh database: it refuses an unmigrated one, fills a migrated one
 * (every CHECK and both exclusion constraints hold, or its inserts would fail), with history rows
 * that tell each session's path, and leaves a database the app serves.
 */
describe('fill-history', () => {
  let db: TestDatabase;
  let client: pg.Client;
  const one = async <T>(sql: string, values: unknown[] = []): Promise<T> =>
    (await client.query(sql, values)).rows[0] as T;
  const count = async (sql: string): Promise<number> => Number((await one<{ n: string }>(sql)).n);

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await client?.end();
    await db?.drop();
  });

  it('refuses a database without the latest migration, in one line', async () => {
    const { code, stderr } = await fill(db.url, 10);
    expect(code).toBe(1);
    expect(stderr.trim().split('\n')).toEqual([
      expect.stringMatching(
        /^fill-history: the database is not migrated up to LiveRangesAndDeadlines/,
      ),
    ]);
  }, 60_000);

  it('fills 2,000 sessions with what a year leaves, and a second run adds as many', async () => {
    await migrate(db.url);
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
    const first = await fill(db.url, 2000);
    expect(first).toMatchObject({ code: 0 });
    expect(first.stderr).toMatch(/sessions 2,000\/2,000 \(100%/);
    expect(await count(`SELECT count(*) AS n FROM sessions`)).toBe(2000);
    expect(await count(`SELECT count(*) AS n FROM users WHERE role = 'client'`)).toBe(200);
    expect(await count(`SELECT count(*) AS n FROM users WHERE role = 'psychologist'`)).toBe(10);
    expect(await count(`SELECT count(*) AS n FROM psychologist_availability`)).toBe(5);
    const byStatus = await client.query<{ status: string; n: number }>(
      `SELECT status, count(*)::int AS n FROM sessions GROUP BY status`,
    );
    const share = Object.fromEntries(byStatus.rows.map((r) => [r.status, r.n / 2000]));
    expect(share.Completed).toBeGreaterThan(0.7);
    expect(share.Cancelled).toBeGreaterThan(0.05);
    expect(share['No Show']).toBeGreaterThan(0.02);
    expect((share.Pending ?? 0) + (share.Confirmed ?? 0)).toBeCloseTo(0.01, 3);
    // Live ones in the coming weeks, the rest over the past year.
    expect(
      await count(`SELECT count(*) AS n FROM sessions WHERE status IN ('Pending', 'Confirmed')
                     AND scheduled_start BETWEEN now() AND now() + interval '31 days'`),
    ).toBe(20);
    expect(
      await count(`SELECT count(*) AS n FROM sessions WHERE status NOT IN ('Pending', 'Confirmed')
                     AND scheduled_start NOT BETWEEN now() - interval '367 days' AND now()`),
    ).toBe(0);
    // The live ones hold their ranges, the Confirmed ones their no-show deadlines.
    expect(await count(`SELECT count(*) AS n FROM session_ranges`)).toBe(
      await count(`SELECT count(*) AS n FROM sessions WHERE status IN ('Pending', 'Confirmed')`),
    );
    expect(
      await count(`SELECT count(*) AS n FROM session_deadlines d JOIN sessions s ON s.id = d.session_id
                    WHERE d.kind = 'no-show' AND s.status = 'Confirmed' AND d.since = s.scheduled_start`),
    ).toBe(await count(`SELECT count(*) AS n FROM session_deadlines`));
    expect(await count(`SELECT count(*) AS n FROM session_deadlines`)).toBe(
      await count(`SELECT count(*) AS n FROM sessions WHERE status = 'Confirmed'`),
    );
    for (const table of [
      'session_status_changes',
      'room_presence',
      'webhook_events',
      'webhook_deliveries',
      'webhook_attempts',
      'refresh_tokens',
    ]) {
      const rows = await count(`SELECT count(*) AS n FROM ${table}`);
      expect({ table, many: rows > 500 }).toEqual({ table, many: true });
    }

    const second = await fill(db.url, 2000);
    expect(second).toMatchObject({ code: 0 });
    expect(await count(`SELECT count(*) AS n FROM sessions`)).toBe(4000);
    expect(await count(`SELECT count(*) AS n FROM users`)).toBe(420);
  }, 240_000);

  it('places no two bookings of a participant over each other, live or not', async () => {
    for (const party of ['client_id', 'psychologist_id']) {
      expect({
        party,
        overlaps: await count(`SELECT count(*) AS n FROM sessions a JOIN sessions b
            ON a.${party} = b.${party} AND a.id < b.id
           AND tstzrange(a.scheduled_start, a.scheduled_end) && tstzrange(b.scheduled_start, b.scheduled_end)`),
      }).toEqual({ party, overlaps: 0 });
    }
  });

  it("writes history rows that tell each session's path", async () => {
    // Every Completed session: paid, started and ended, in that order.
    expect(
      await count(`SELECT count(*) AS n FROM sessions s WHERE s.status = 'Completed' AND
          (SELECT array_agg(h.cause ORDER BY h.id) FILTER (WHERE h.cause <> 'reschedule')
             FROM session_status_changes h WHERE h.session_id = s.id)
          NOT IN (ARRAY['payment', 'start', 'end'], ARRAY['payment', 'auto-start', 'end'],
                  ARRAY['payment', 'start', 'auto-end'], ARRAY['payment', 'auto-start', 'auto-end'],
                  ARRAY['payment', 'start', 'max-duration'], ARRAY['payment', 'auto-start', 'max-duration'])`),
    ).toBe(0);
    // The rows chain from Pending to the session's status, each in time order.
    const broken = await count(`SELECT count(*) AS n FROM sessions s
        JOIN LATERAL (SELECT array_agg(h.from_status ORDER BY h.id) AS froms,
                             array_agg(h.to_status ORDER BY h.id) AS tos,
                             array_agg(h.at ORDER BY h.id) AS ats
                        FROM session_status_changes h WHERE h.session_id = s.id) x ON true
       WHERE COALESCE(x.tos[cardinality(x.tos)], 'Pending') <> s.status
          OR COALESCE(x.froms[1], 'Pending') <> 'Pending'
          OR x.ats <> (SELECT array_agg(a ORDER BY a) FROM unnest(x.ats) a)
          OR EXISTS (SELECT 1 FROM generate_subscripts(x.tos, 1) i
                      WHERE i > 1 AND x.froms[i] <> x.tos[i - 1])`);
    expect(broken).toBe(0);
    // The call's times are its history's, and no-show flags are the presence record's.
    expect(
      await count(`SELECT count(*) AS n FROM sessions s WHERE s.status = 'Completed' AND NOT EXISTS (
          SELECT 1 FROM session_status_changes h
           WHERE h.session_id = s.id AND h.to_status = 'Completed' AND h.at = s.video_call_ended)`),
    ).toBe(0);
    expect(
      await count(`SELECT count(*) AS n FROM sessions s WHERE s.status = 'No Show' AND (
          s.no_show_client <> NOT EXISTS (SELECT 1 FROM room_presence p WHERE p.session_id = s.id AND p.user_id = s.client_id)
       OR s.no_show_psychologist <> NOT EXISTS (SELECT 1 FROM room_presence p WHERE p.session_id = s.id AND p.user_id = s.psychologist_id))`),
    ).toBe(0);
    // Several closed stays per call; every delivery delivered.
    expect(
      await count(`SELECT count(*) AS n FROM sessions s WHERE s.status = 'Completed'
          AND (SELECT count(*) FROM room_presence p WHERE p.session_id = s.id) < 3`),
    ).toBe(0);
    expect(await count(`SELECT count(*) AS n FROM room_presence WHERE left_at IS NULL`)).toBe(0);
    expect(
      await count(`SELECT count(*) AS n FROM webhook_deliveries WHERE state <> 'delivered'`),
    ).toBe(0);
  });

  describe('the app on the filled database', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startTestApp({ db });
    }, 60_000);
    afterAll(async () => {
      await t?.close({ keepDatabase: true });
    });

    it("lists a filled client's sessions after logging in with the filled password", async () => {
      const user = await one<{ id: string; email: string; n: number }>(
        `SELECT u.id, u.email, (SELECT count(*)::int FROM sessions s WHERE s.client_id = u.id) AS n
           FROM users u WHERE u.role = 'client' ORDER BY u.email LIMIT 1`,
      );
      const login = await t.api
        .post('/api/auth/login')
        .send({ email: user.email, password: FILLED_PASSWORD });
      expect(login.status).toBe(200);
      const res = await t.api
        .get('/api/sessions')
        .set('Authorization', `Bearer ${login.body.accessToken}`);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ total: user.n, page: 1 });
      expect(res.body.items.length).toBe(Math.min(user.n, res.body.limit));
    });

    it("lists a filled psychologist's free slots for 7 days, clear of their live bookings", async () => {
      const p = await one<{ id: string; email: string }>(
        `SELECT u.id, u.email FROM users u JOIN psychologist_availability a ON a.psychologist_id = u.id
          WHERE EXISTS (SELECT 1 FROM sessions s WHERE s.psychologist_id = u.id
                         AND s.status IN ('Pending', 'Confirmed'))
          ORDER BY u.email LIMIT 1`,
      );
      const booked = (
        await client.query<{ start: Date }>(
          `SELECT scheduled_start AS start FROM sessions
            WHERE psychologist_id = $1 AND status IN ('Pending', 'Confirmed') ORDER BY 1`,
          [p.id],
        )
      ).rows.map((r) => r.start);
      const login = await t.api
        .post('/api/auth/login')
        .send({ email: p.email, password: FILLED_PASSWORD });
      const from = new Date(booked[0].getTime() - 3 * 86_400_000);
      from.setUTCHours(0, 0, 0, 0);
      const res = await t.api
        .get(`/api/psychologists/${p.id}/slots`)
        .query({
          from: from.toISOString(),
          to: new Date(from.getTime() + 7 * 86_400_000).toISOString(),
        })
        .set('Authorization', `Bearer ${login.body.accessToken}`);
      expect(res.status).toBe(200);
      expect(res.body.slots.length).toBeGreaterThan(0);
      expect(res.body.slots).not.toContain(booked[0].toISOString());
    });
  });
});
