import pg from 'pg';
import { trackingInserts } from '../../src/sessions/session-tracking.sql.js';
import { CallReconciler } from '../../src/video-call/call-reconciler.service.js';
import { PresenceService } from '../../src/video-call/presence.service.js';
import { bookSession, confirmedSession } from '../factories/sessions.js';
import { connectAs, eventually, request } from '../utils/socket-client.js';
import { retrack } from '../utils/session-tracking.js';
import { startTestApp, type TestApp } from '../utils/test-app.js';

/** The tables whose statements run on every join, leave and transition. */
const HOT_TABLES = ['sessions', 'room_presence', 'session_ranges', 'session_deadlines'];

/**
 * Those that must never be read by a sequential scan: the big ones. The live ranges and deadlines
 * hold a row per live session only; the planner reads one of them sequentially only while it is a
 * page or two (as in this test), and their indexes are checked like the others'.
 */
const BIG_TABLES = ['sessions', 'room_presence'];

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Index Cond'?: string;
  Filter?: string;
  Plans?: PlanNode[];
}

/**
 * Scans that read a hot table, or one of its indexes (`indexes`), whole: a sequential scan, or an
 * index scan with no condition.
 */
function wholeScans(node: PlanNode, indexes: Set<string>, found: string[] = []): string[] {
  const type = node['Node Type'];
  const table = node['Relation Name'];
  const index = node['Index Name'];
  if (type === 'Seq Scan' && table && BIG_TABLES.includes(table)) {
    found.push(`Seq Scan on ${table} (filter: ${node.Filter})`);
  }
  if (index && indexes.has(index) && !node['Index Cond']) {
    found.push(`${type} of ${index} without a condition (filter: ${node.Filter})`);
  }
  for (const child of node.Plans ?? []) {
    wholeScans(child, indexes, found);
  }
  return found;
}

/**
 * The partial indexes of the hot tables (open stays, sessions by status) are small because most
 * rows fall outside them, and their statistics are whatever VACUUM last saw: a quiet moment (no
 * open stay, no confirmed session) leaves them counted empty, and the planner then thinks reading
 * one whole costs nothing. These tests make that state, run every path of the product once, and
 * check the generic plan of every statement the app sent (prepared statements are kept per
 * connection): none may read a hot table, or one of its indexes, whole.
 */
describe('query plans with stale statistics', () => {
  let t: TestApp;
  const statements = new Map<string, string[] | null>();
  let restore: () => void;

  beforeAll(async () => {
    t = await startTestApp();
    await makeStatisticsStale(t);
    // Every statement the app sends from here on, with the types of its parameters when it was
    // PREPAREd in SQL.
    const original = pg.Client.prototype.query;
    restore = () => (pg.Client.prototype.query = original);
    pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
      const config = args[0] as string | { text?: string };
      const text = typeof config === 'string' ? config : config?.text;
      if (text) {
        capture(text);
      }
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof original;
    await runEveryPath(t);
  });
  afterAll(async () => {
    restore?.();
    await t?.close();
  });

  function capture(text: string): void {
    const prepared = /^PREPARE \w+\(([^)]*)\) AS (.*)$/s.exec(text);
    if (prepared) {
      statements.set(
        prepared[2],
        prepared[1].split(',').map((s) => s.trim()),
      );
      return;
    }
    if (/^\s*(WITH|SELECT|UPDATE|INSERT|DELETE)\b/i.test(text) && !statements.has(text)) {
      statements.set(text, null);
    }
  }

  it('leaves the partial indexes counted empty while they hold rows', async () => {
    const rows: { relname: string; reltuples: number; relpages: number }[] =
      await t.dataSource.query(
        `SELECT c.relname, c.reltuples, c.relpages FROM pg_index i
           JOIN pg_class c ON c.oid = i.indexrelid
          WHERE i.indrelid = ANY($1::regclass[]) AND i.indpred IS NOT NULL`,
        [BIG_TABLES],
      );
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      expect({ index: row.relname, reltuples: row.reltuples }).toEqual({
        index: row.relname,
        reltuples: 0,
      });
      expect(row.relpages).toBeGreaterThan(1);
    }
  });

  it('reads no hot table or index whole in any statement', async () => {
    const client = new pg.Client({ connectionString: t.db.url });
    await client.connect();
    const problems: string[] = [];
    let checked = 0;
    const indexes = new Set(
      (
        await t.dataSource.query<{ indexname: string }[]>(
          `SELECT indexname FROM pg_indexes WHERE tablename = ANY($1)`,
          [HOT_TABLES],
        )
      ).map((r) => r.indexname),
    );
    try {
      await client.query('SET plan_cache_mode = force_generic_plan');
      for (const [text, types] of statements) {
        if (!HOT_TABLES.some((table) => new RegExp(`\\b${table}\\b`).test(text))) {
          continue;
        }
        await client.query(`PREPARE checked${types ? `(${types.join(', ')})` : ''} AS ${text}`);
        try {
          const [{ parameter_types }] = (
            await client.query<{ parameter_types: string[] }>(
              `SELECT parameter_types::text[] FROM pg_prepared_statements WHERE name = 'checked'`,
            )
          ).rows;
          const nulls = parameter_types.map(() => 'NULL').join(', ');
          const { rows } = await client.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(
            `EXPLAIN (FORMAT JSON) EXECUTE checked${nulls ? `(${nulls})` : ''}`,
          );
          const found = wholeScans(rows[0]['QUERY PLAN'][0].Plan, indexes);
          if (found.length > 0) {
            problems.push(`${found.join('; ')}\n  in: ${text.replace(/\s+/g, ' ').slice(0, 400)}`);
          }
          checked++;
        } finally {
          await client.query('DEALLOCATE checked');
        }
      }
    } finally {
      await client.end();
    }
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThan(20);
  });
});

/**
 * Fills every partial index of the hot tables, empties them, and VACUUMs: the indexes keep their
 * pages and are counted with no rows. Autovacuum is off for these tables, so the statistics stay
 * that way while the product runs.
 */
async function makeStatisticsStale(t: TestApp): Promise<void> {
  for (const table of HOT_TABLES) {
    await t.dataSource.query(`ALTER TABLE ${table} SET (autovacuum_enabled = false)`);
  }
  const instance = '00000000-0000-4000-8000-000000000001';
  // In one transaction, so that the app's reconciler never sees these sessions: 100 clients and
  // 100 psychologists with 2,000 confirmed sessions (20 each), each with an open stay; then every
  // call running with an empty room; then all done.
  await t.dataSource.transaction(async (m) => {
    await m.query(`INSERT INTO instances (id, heartbeat_seconds) VALUES ($1, 5)`, [instance]);
    await m.query(
      `INSERT INTO users (email, name, role, password_hash)
       SELECT role || i || '@stale.test', 'Stale ' || i, role, 'not a hash'
         FROM generate_series(1, 100) i, unnest(ARRAY['client', 'psychologist']) role`,
    );
    await m.query(
      `INSERT INTO sessions (client_id, psychologist_id, scheduled_start, scheduled_end,
                             duration_minutes, status, payment_status)
       SELECT c.id, p.id, timestamptz '2100-01-01' + i * interval '1 hour',
              timestamptz '2100-01-01' + i * interval '1 hour' + interval '50 minutes',
              50, 'Confirmed', 'Paid'
         FROM generate_series(1, 2000) i
         JOIN users c ON c.email = 'client' || (i % 100 + 1) || '@stale.test'
         JOIN users p ON p.email = 'psychologist' || (i % 100 + 1) || '@stale.test'`,
    );
    await m.query(
      `INSERT INTO room_presence (session_id, user_id, role, socket_id, instance_id)
       SELECT id, client_id, 'client', 'stale-' || id, $1 FROM sessions`,
      [instance],
    );
    const track = async () => {
      await m.query(`DELETE FROM session_ranges`);
      await m.query(`DELETE FROM session_deadlines`);
      for (const text of trackingInserts('true')) {
        await m.query(text);
      }
    };
    await track();
    await m.query(
      `UPDATE sessions SET status = 'In Progress', video_call_started = scheduled_start,
                           room_emptied_at = scheduled_start`,
    );
    await track();
    await m.query(`UPDATE room_presence SET left_at = now(), left_reason = 'leave'`);
    await m.query(
      `UPDATE sessions SET status = 'Completed', video_call_ended = scheduled_end,
                           call_duration_minutes = 50`,
    );
    await track();
  });
  await t.dataSource.query(`VACUUM ANALYZE ${HOT_TABLES.join(', ')}`);
}

/** Every path that writes or reads presence and status, once. */
async function runEveryPath(t: TestApp): Promise<void> {
  const api = t.api;
  // The room: both join (auto-start), one leaves and comes back, both disconnect, the call is
  // ended over REST.
  const room = await confirmedSession(t);
  const client = await connectAs(t.url, room.party.client.token);
  const psychologist = await connectAs(t.url, room.party.psychologist.token);
  try {
    expect(await request(client, 'join-room', { sessionId: room.id })).toMatchObject({ ok: true });
    expect(await request(psychologist, 'join-room', { sessionId: room.id })).toMatchObject({
      ok: true,
      status: 'In Progress',
    });
    expect(
      await request(client, 'signal', {
        sessionId: room.id,
        type: 'offer',
        data: { sdp: 'v=0' },
      }),
    ).toMatchObject({ ok: true });
    expect(await request(client, 'leave-room', { sessionId: room.id })).toEqual({ ok: true });
    expect(await request(client, 'join-room', { sessionId: room.id })).toMatchObject({ ok: true });
  } finally {
    client.disconnect();
    psychologist.disconnect();
  }
  await eventually(async () => {
    const res = await api
      .get(`/api/video-calls/session/${room.id}`)
      .set('Authorization', room.party.client.auth);
    return res.body.participants.every((p: { present: boolean }) => !p.present);
  });
  for (const path of [
    `/api/sessions/${room.id}`,
    `/api/sessions/${room.id}/history`,
    `/api/sessions/${room.id}/attendance`,
    '/api/sessions',
    '/api/psychologists?search=stale',
    `/api/psychologists/${room.party.psychologist.id}/availability`,
    `/api/psychologists/${room.party.psychologist.id}/slots?from=${encodeURIComponent(
      new Date(Date.now() + 86_400_000).toISOString(),
    )}&to=${encodeURIComponent(new Date(Date.now() + 8 * 86_400_000).toISOString())}`,
  ]) {
    expect((await api.get(path).set('Authorization', room.party.client.auth)).status).toBe(200);
  }
  // Auto-end: the room emptied long enough ago.
  const reconciler = t.app.get(CallReconciler);
  await t.dataSource.query(
    `UPDATE sessions SET room_emptied_at = now() - interval '1 hour' WHERE id = $1`,
    [room.id],
  );
  await retrack(t.dataSource, room.id);
  expect(await reconciler.endAbandonedCalls()).toBe(1);

  // Over REST: start, start again, end, end again; a cancel.
  const rest = await confirmedSession(t);
  for (const action of ['start', 'start', 'end', 'end']) {
    const res = await api
      .post(`/api/video-calls/${action}/${rest.id}`)
      .set('Authorization', rest.party.client.auth);
    expect(res.status).toBe(200);
  }
  const cancelled = await confirmedSession(t);
  expect(
    (
      await api
        .post(`/api/sessions/${cancelled.id}/cancel`)
        .set('Authorization', cancelled.party.client.auth)
        .send({})
    ).status,
  ).toBe(200);

  // A reschedule: the psychologist's hours read, the row moved under its lock.
  const ahead = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString();
  const movable = await bookSession(t, cancelled.party, { scheduledStart: ahead(3) });
  await api
    .post(`/api/sessions/${movable.id}/reschedule`)
    .set('Authorization', cancelled.party.client.auth)
    .send({ scheduledStart: ahead(4) })
    .expect(200);

  // The reconciler's other deadlines: a call running too long, a session nobody came to.
  const overlong = await confirmedSession(t);
  await api
    .post(`/api/video-calls/start/${overlong.id}`)
    .set('Authorization', overlong.party.client.auth)
    .expect(200);
  await t.dataSource.query(
    `UPDATE sessions SET video_call_started = now() - interval '5 hours' WHERE id = $1`,
    [overlong.id],
  );
  await retrack(t.dataSource, overlong.id);
  expect(await reconciler.endOverlongCalls()).toBe(1);
  const missed = await confirmedSession(t);
  await t.dataSource.query(
    `UPDATE sessions SET scheduled_start = now() - interval '1 hour',
                         scheduled_end = now() - interval '10 minutes'
      WHERE id = $1`,
    [missed.id],
  );
  await retrack(t.dataSource, missed.id);
  expect(await reconciler.markNoShows()).toBe(1);

  // A dead instance's stays are swept.
  const lost = await confirmedSession(t);
  const dead = '00000000-0000-4000-8000-000000000002';
  await t.dataSource.query(
    `INSERT INTO instances (id, heartbeat_seconds, heartbeat_at) VALUES ($1, 5, now() - interval '1 hour')`,
    [dead],
  );
  await t.dataSource.query(
    `INSERT INTO room_presence (session_id, user_id, role, socket_id, instance_id)
     VALUES ($1, $2, 'client', 'lost-socket', $3)`,
    [lost.id, lost.party.client.id, dead],
  );
  // The app may judge: its own beats have run unbroken long enough (see presence-rules.ts).
  await t.dataSource.query(
    `UPDATE instances SET reachable_since = now() - interval '1 hour', heartbeat_at = now()
      WHERE id <> $1 AND stopped_at IS NULL`,
    [dead],
  );
  expect(await t.app.get(PresenceService).sweepDeadInstances()).toBe(1);
}
