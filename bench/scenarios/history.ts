import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import pg from 'pg';
import { migrate } from '../../src/database/migrate.js';
import { trackingInserts } from '../../src/sessions/session-tracking.sql.js';
import { fillHistory } from '../history/fill.js';
import {
  explain,
  hotProbes,
  measureProbe,
  planSamples,
  tickProbes,
  type Probe,
} from '../history/statements.js';
import { seedSessions } from '../lib/db.js';
import {
  ratioRow,
  reportRow,
  settle,
  tokenFor,
  tokensOf,
  type BenchContext,
  type ResultRow,
} from '../lib/context.js';
import type { ServerProcess } from '../lib/procs.js';
import { disconnectAll, mapLimit } from '../lib/sockets.js';
import { median, percentile } from '../lib/stats.js';
import { lifecycles } from './http.js';
import { connectPairs, joinPair, joinWarmUpPairs, sockets } from './sockets.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CONNECTIONS = 32;

/** One database with the project server that serves it. */
interface Side {
  name: 'filled' | 'empty';
  server: ServerProcess;
  pool: pg.Pool;
  /** The context with this side's pool: seeding and settling go to its database. */
  ctx: BenchContext;
}

/**
 * `interleave` over the two databases: warm-ups, then rounds of filled and empty back to back,
 * each run followed by its own database settling and its server collecting garbage.
 */
async function interleaveSides<T>(
  sides: { filled: Side; empty: Side },
  label: string,
  warmups: number,
  run: (side: Side) => (measured: boolean) => Promise<T>,
): Promise<{ filled: T[]; empty: T[] }> {
  const { filled, empty } = sides;
  const { log, rounds } = filled.ctx;
  const out = { filled: [] as T[], empty: [] as T[] };
  for (let i = 0; i < warmups + rounds; i++) {
    const measured = i >= warmups;
    log(
      `${label}: ${measured ? `round ${i - warmups + 1}/${rounds}` : `warm-up ${i + 1}/${warmups}`}`,
    );
    for (const side of [filled, empty]) {
      const value = await run(side)(measured);
      await settle(side.ctx, [side.server]);
      if (measured) {
        out[side.name].push(value);
      }
    }
  }
  return out;
}

async function autocannonGet(url: string, token: string, seconds: number) {
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: seconds,
    headers: { authorization: `Bearer ${token}` },
  });
  if (result.errors > 0 || result.timeouts > 0 || result.non2xx > 0) {
    throw new Error(
      `${url}: ${result.errors} errors, ${result.timeouts} timeouts, ${result.non2xx} non-2xx`,
    );
  }
  return { rps: result.requests.average, p99: result.latency.p99 };
}

/**
 * A psychologist with working hours and live bookings in the coming week, on both databases: the
 * filled one's busiest such psychologist, and on the empty one a copy of them (same hours, same
 * live bookings, with clients of their own) and nothing else.
 */
async function slotPsychologists(filled: pg.Pool, empty: pg.Pool) {
  const from = new Date(Date.now() + 86_400_000);
  from.setUTCHours(0, 0, 0, 0);
  const to = new Date(from.getTime() + 7 * 86_400_000);
  const { rows } = await filled.query<{ id: string }>(
    `SELECT s.psychologist_id AS id FROM sessions s
       JOIN psychologist_availability a ON a.psychologist_id = s.psychologist_id
      WHERE s.status IN ('Pending', 'Confirmed') AND s.scheduled_start >= $1 AND s.scheduled_start < $2
      GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1`,
    [from, to],
  );
  const id = rows[0].id;
  const { rows: copy } = await filled.query(
    `SELECT u.name, u.email, u.time_zone, a.weekly, a.overrides FROM users u
       JOIN psychologist_availability a ON a.psychologist_id = u.id WHERE u.id = $1`,
    [id],
  );
  const { rows: bookings } = await filled.query(
    `SELECT scheduled_start, scheduled_end, duration_minutes, status, payment_status FROM sessions
      WHERE psychologist_id = $1 AND status IN ('Pending', 'Confirmed')`,
    [id],
  );
  const { name, email, time_zone, weekly, overrides } = copy[0];
  const { rows: made } = await empty.query<{ id: string }>(
    `INSERT INTO users (email, name, role, password_hash, time_zone)
     VALUES ('copy-' || $1, $2, 'psychologist', 'not-a-hash', $3) RETURNING id`,
    [email, name, time_zone],
  );
  const twin = made[0].id;
  await empty.query(
    `INSERT INTO psychologist_availability (psychologist_id, weekly, overrides) VALUES ($1, $2, $3)`,
    [twin, JSON.stringify(weekly), JSON.stringify(overrides)],
  );
  const copies: string[] = [];
  for (const b of bookings) {
    const { rows: made } = await empty.query<{ id: string }>(
      `WITH c AS (INSERT INTO users (email, name, role, password_hash)
                  VALUES ('copy-client-' || gen_random_uuid() || '@bench.test', 'Copy client', 'client', 'not-a-hash')
                  RETURNING id)
       INSERT INTO sessions (client_id, psychologist_id, scheduled_start, scheduled_end, duration_minutes, status, payment_status)
       SELECT c.id, $1, $2, $3, $4, $5, $6 FROM c RETURNING id`,
      [twin, b.scheduled_start, b.scheduled_end, b.duration_minutes, b.status, b.payment_status],
    );
    copies.push(made[0].id);
  }
  // Their live ranges and deadlines, as the filled side's sessions have them.
  for (const text of trackingInserts('id = ANY($1::uuid[])')) {
    await empty.query(text, [copies]);
  }
  return { filled: id, empty: twin, from, to, bookings: bookings.length };
}

/** A reconciler and presence-sweep tick (tickProbes) `ticks` times: medians of buffers and ms. */
async function ticks(side: Side, count: number) {
  const { rows } = await side.pool.query<{ id: string }>(
    `SELECT id FROM instances WHERE stopped_at IS NULL ORDER BY started_at DESC LIMIT 1`,
  );
  const probes = tickProbes(rows[0].id);
  const buffers: number[] = [];
  const ms: number[] = [];
  for (let i = 0; i < count; i++) {
    let b = 0;
    let t = 0;
    for (const probe of probes) {
      const m = await measureProbe(side.pool, probe);
      b += m.buffers;
      t += m.ms;
    }
    buffers.push(b);
    ms.push(t);
  }
  return { buffers: median(buffers), ms: median(ms) };
}

/** EXPLAIN (ANALYZE, BUFFERS) of every hot statement on the filled database, to a file. */
async function writePlans(side: Side, sessions: number): Promise<string[]> {
  const probes: Probe[] = hotProbes(await planSamples(side.pool));
  const sections: string[] = [];
  const notable: string[] = [];
  for (const probe of probes) {
    // The second run: the plan of a warm cache, as the statement meets it in steady use.
    await explain(side.pool, probe, 'ANALYZE, BUFFERS');
    const rows = (await explain(side.pool, probe, 'ANALYZE, BUFFERS')) as Array<{
      'QUERY PLAN': string;
    }>;
    const lines = rows.map((r) => r['QUERY PLAN']);
    for (const line of lines) {
      if (/Seq Scan|Rows Removed by Filter|Rows Removed by Index Recheck/.test(line)) {
        notable.push(`${probe.name}: ${line.trim()}`);
      }
    }
    sections.push(`== ${probe.name} ==\n${lines.join('\n')}`);
  }
  const header = [
    `S8: EXPLAIN (ANALYZE, BUFFERS) of the hot statements on a database filled with ${sessions.toLocaleString('en')} sessions (npm run fill-history), ${new Date().toISOString()}`,
    'Each statement ran twice (the second is shown: a warm cache); statements that write ran inside a transaction that was rolled back. Custom plans (arguments bound).',
    '',
    'Sequential scans and rows removed by a filter:',
    ...(notable.length ? notable.map((l) => `  ${l}`) : ['  none']),
  ].join('\n');
  await mkdir(join(ROOT, 'bench/results'), { recursive: true });
  await writeFile(
    join(ROOT, 'bench/results/s8-plans.txt'),
    `${[header, ...sections].join('\n\n')}\n`,
  );
  return notable;
}

/** A database of its own for one side of S8, migrated, with a pool on it. */
async function sideDatabase(ctx: BenchContext, side: Side['name']) {
  const name = `${ctx.db.parts.database}_${side}`;
  await ctx.pool.query(`CREATE DATABASE ${name}`);
  const url = new URL(ctx.db.url);
  url.pathname = `/${name}`;
  const pool = new pg.Pool({ connectionString: url.toString(), max: 4 });
  // The database is dropped WITH (FORCE) at the end: an idle client told so is expected.
  pool.on('error', (error) => ctx.log(`S8: ${side} database pool: ${error.message}`));
  return {
    url: url.toString(),
    pool,
    async drop() {
      await pool.end();
      await ctx.pool.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
    },
  };
}

/**
 * S8: the service on a database holding a year of history against the same service on an empty
 * one: reads, start + end, room joins, a reconciler tick and the slot listing, interleaved. Each
 * side is a database of its own with a server of its own started for it, so that neither inherits
 * what the scenarios before it left (rows, a server's warmed-up code).
 * `project` = filled, `baseline` = empty in the rows.
 */
export async function s8History(ctx: BenchContext): Promise<ResultRow[]> {
  const sessions = ctx.quick ? 100_000 : Number(process.env.BENCH_S8_SESSIONS ?? 1_000_000);
  const filledDb = await sideDatabase(ctx, 'filled');
  const emptyDb = await sideDatabase(ctx, 'empty');
  const filledPool = filledDb.pool;
  const servers: ServerProcess[] = [];
  try {
    await migrate(filledDb.url);
    await migrate(emptyDb.url);
    const fill = await fillHistory(filledDb.url, sessions, (l) => ctx.log(`S8 fill: ${l}`));
    // The year's endpoints keep their deliveries but want nothing the runs cause, so that both
    // databases do the same work per call (the empty one has no endpoint).
    await filledPool.query(`UPDATE webhook_endpoints SET events = ARRAY['session.rescheduled']`);
    const t = Date.now();
    // A database in use for a year has been vacuumed: its pages are all-visible.
    await filledPool.query('VACUUM (ANALYZE)');
    ctx.log(
      `S8: VACUUM (ANALYZE) of the filled database took ${Math.round((Date.now() - t) / 1000)} s`,
    );
    const side = async (name: Side['name'], db: typeof filledDb): Promise<Side> => {
      const server = await ctx.startProject(`project-${name}`, db.url);
      servers.push(server);
      return { name, server, pool: db.pool, ctx: { ...ctx, pool: db.pool, project: server } };
    };
    const filled = await side('filled', filledDb);
    const empty = await side('empty', emptyDb);
    const sides = { filled, empty };
    const seconds = ctx.quick ? 3 : 10;

    const readTarget = new Map<Side, { id: string; token: string }>();
    for (const side of [filled, empty]) {
      const [s] = await seedSessions(side.pool, 1);
      readTarget.set(side, { id: s.id, token: tokensOf(ctx, s).client });
    }
    const read = await interleaveSides(sides, 'S8 read', 1, (side) => (m) => {
      const r = readTarget.get(side)!;
      return autocannonGet(`${side.server.url}/api/sessions/${r.id}`, r.token, m ? seconds : 1);
    });
    const lifecycle = await interleaveSides(
      sides,
      'S8 start+end',
      1,
      (side) => (m) => lifecycles(side.ctx, side.server, m ? seconds : 1),
    );
    const clients = ctx.quick ? 200 : 1000;
    const joins = await interleaveSides(
      sides,
      `S8 join (${clients} clients)`,
      1,
      (side) => async (m) => {
        const pairs = await connectPairs(
          side.ctx,
          side.server.url,
          m ? clients / 2 : joinWarmUpPairs(ctx),
        );
        try {
          const latencies = await mapLimit(pairs, 16, joinPair);
          return { p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
        } finally {
          await disconnectAll(sockets(pairs));
        }
      },
    );
    const tickCount = 20;
    const tick = await interleaveSides(
      sides,
      'S8 reconciler tick',
      0,
      (side) => () => ticks(side, tickCount),
    );
    const psych = await slotPsychologists(filledPool, empty.pool);
    const slots = await interleaveSides(sides, 'S8 slots', 1, (side) => (m) => {
      const id = side.name === 'filled' ? psych.filled : psych.empty;
      const query = `from=${psych.from.toISOString()}&to=${psych.to.toISOString()}`;
      return autocannonGet(
        `${side.server.url}/api/psychologists/${id}/slots?${query}`,
        tokenFor(ctx, id, 'psychologist'),
        m ? seconds : 1,
      );
    });
    // The measurements stand without the plans: a failure here is logged, not thrown.
    await writePlans(filled, sessions).then(
      (notable) => {
        ctx.log(
          `S8: plans written to bench/results/s8-plans.txt; ${notable.length} notable line(s)`,
        );
        notable.forEach((line) => ctx.log(`S8 plan: ${line}`));
      },
      (error: unknown) =>
        ctx.log(`S8: plans failed: ${error instanceof Error ? error.message : String(error)}`),
    );

    const note = `project = a database filled with ${sessions.toLocaleString('en')} sessions (fill ${Math.round(fill.seconds)} s: ${Object.entries(
      fill.added,
    )
      .map(([t, n]) => `${t} ${n.toLocaleString('en')}`)
      .join(
        ', ',
      )}), baseline = an empty migrated database; each side with a server of its own started for S8, same build and settings`;
    const pick = <T, K extends keyof T>(r: { filled: T[]; empty: T[] }, k: K) =>
      [r.filled.map((x) => Number(x[k])), r.empty.map((x) => Number(x[k]))] as const;
    return [
      ratioRow(
        'S8 history',
        'read req/s, filled vs empty',
        'req/s',
        ...pick(read, 'rps'),
        '>=',
        0.9,
        note,
      ),
      ratioRow('S8 history', 'read p99, filled vs empty', 'ms', ...pick(read, 'p99'), '<=', 1.2),
      ratioRow(
        'S8 history',
        'start + end lifecycles/s, filled vs empty',
        'lifecycles/s',
        lifecycle.filled,
        lifecycle.empty,
        '>=',
        0.9,
      ),
      ratioRow(
        'S8 history',
        `join p99 at ${clients} clients, filled vs empty`,
        'ms',
        ...pick(joins, 'p99'),
        '<=',
        1.2,
      ),
      reportRow(
        'S8 history',
        `join p50 at ${clients} clients, filled vs empty`,
        'ms',
        ...pick(joins, 'p50'),
      ),
      ratioRow(
        'S8 history',
        'reconciler + sweep tick: shared buffers read',
        'buffers',
        ...pick(tick, 'buffers'),
        '<=',
        1.2,
        `median of ${tickCount} ticks per round: ${tickProbes('x')
          .map((p) => p.name)
          .join('; ')}; EXPLAIN (ANALYZE, BUFFERS) shared hit + read, execution time`,
      ),
      ratioRow(
        'S8 history',
        'reconciler + sweep tick: execution time',
        'ms',
        ...pick(tick, 'ms'),
        '<=',
        1.2,
      ),
      ratioRow(
        'S8 history',
        'slot listing (7 days) req/s, filled vs empty',
        'req/s',
        ...pick(slots, 'rps'),
        '>=',
        0.9,
        `a psychologist with working hours and ${psych.bookings} live booking(s); on the empty database a copy of them with the same hours and bookings`,
      ),
      ratioRow(
        'S8 history',
        'slot listing (7 days) p99, filled vs empty',
        'ms',
        ...pick(slots, 'p99'),
        '<=',
        1.2,
      ),
    ];
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
    await filledDb.drop();
    await emptyDb.drop();
  }
}
