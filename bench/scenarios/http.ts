import { execFile } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hash, verify } from '@node-rs/argon2';
import autocannon from 'autocannon';
import { seedSessions } from '../lib/db.js';
import { cpuAccount, cpuSnapshot, describeAccount, type CpuSnapshot } from '../lib/cpu-account.js';
import {
  interleave,
  interleaveServers,
  ratioRow,
  reportRow,
  tokensOf,
  type BenchContext,
  type ResultRow,
} from '../lib/context.js';
import type { ServerProcess } from '../lib/procs.js';

const CONNECTIONS = 32;

function assertClean(result: autocannon.Result, what: string): void {
  if (result.errors > 0 || result.timeouts > 0 || result.non2xx > 0) {
    throw new Error(
      `${what}: ${result.errors} errors, ${result.timeouts} timeouts, ${result.non2xx} non-2xx responses`,
    );
  }
}

/** S1: authenticated GET /api/sessions/:id at 32 connections. */
export async function s1Read(ctx: BenchContext): Promise<ResultRow[]> {
  const [session] = await seedSessions(ctx.pool, 1);
  const { client } = tokensOf(ctx, session);
  const duration = ctx.quick ? 3 : 10;
  const run = (server: ServerProcess) => async (measured: boolean) => {
    const result = await autocannon({
      url: `${server.url}/api/sessions/${session.id}`,
      connections: CONNECTIONS,
      duration: measured ? duration : 1,
      headers: { authorization: `Bearer ${client}` },
    });
    assertClean(result, 'S1');
    return { rps: result.requests.average, p99: result.latency.p99 };
  };
  const r = await interleaveServers(ctx, 'S1', 1, ctx.baselineHttp, run);
  return [
    ratioRow(
      'S1 read',
      'req/s',
      'req/s',
      r.project.map((x) => x.rps),
      r.baseline.map((x) => x.rps),
      '>=',
      0.9,
      `autocannon, ${CONNECTIONS} connections, ${duration} s per round`,
    ),
    ratioRow(
      'S1 read',
      'p99 latency',
      'ms',
      r.project.map((x) => x.p99),
      r.baseline.map((x) => x.p99),
      '<=',
      1.2,
    ),
  ];
}

/** Start + end of fresh sessions, 32 connections each running lifecycles back to back. */
export async function lifecycles(
  ctx: BenchContext,
  server: ServerProcess,
  seconds: number,
): Promise<number> {
  const base = server.url;
  // Comfortably more sessions than any server here gets through in `seconds`; the lean baseline's
  // in its own tables.
  const pool = server === ctx.baselineLean ? ctx.leanPool : ctx.pool;
  const sessions = await seedSessions(pool, Math.max(1500, seconds * 1500));
  const tokens = sessions.map((s) => tokensOf(ctx, s).client);
  let next = 0;
  let exhausted = false;
  const result = await autocannon({
    url: base,
    connections: CONNECTIONS,
    duration: seconds,
    requests: [
      {
        method: 'POST',
        setupRequest: (req, ctxObj) => {
          const context = ctxObj as Record<string, number>;
          if (next >= sessions.length) {
            exhausted = true;
            next = 0;
          }
          const i = next++;
          context.i = i;
          return {
            ...req,
            path: `/api/video-calls/start/${sessions[i].id}`,
            headers: { authorization: `Bearer ${tokens[i]}` },
          };
        },
      },
      {
        method: 'POST',
        setupRequest: (req, ctxObj) => {
          const { i } = ctxObj as Record<string, number>;
          return {
            ...req,
            path: `/api/video-calls/end/${sessions[i].id}`,
            headers: { authorization: `Bearer ${tokens[i]}` },
          };
        },
      },
    ],
  });
  if (exhausted) {
    throw new Error('S2: ran out of seeded sessions; raise the seed count');
  }
  assertClean(result, 'S2');
  return result['2xx'] / 2 / (result.duration || seconds);
}

/**
 * S2: lifecycles/s, against the baseline server twice: on the project's own tables (what the
 * framework costs) and on tables with only primary keys (what the schema costs too: its
 * constraints, indexes and triggers per call).
 */
export async function s2Lifecycle(ctx: BenchContext): Promise<ResultRow[]> {
  const seconds = ctx.quick ? 3 : 10;
  const run = (server: ServerProcess) => (m: boolean) => lifecycles(ctx, server, m ? seconds : 1);
  const r = await interleaveServers(ctx, 'S2', 1, ctx.baselineHttp, run);
  const lean = await interleaveServers(ctx, 'S2 lean', 1, ctx.baselineLean, run);
  const note = `${CONNECTIONS} connections, each POST start then POST end of a fresh Confirmed+Paid session, ${seconds} s per round`;
  return [
    ratioRow(
      'S2 lifecycle',
      'lifecycles/s (start + end)',
      'lifecycles/s',
      r.project,
      r.baseline,
      '>=',
      0.9,
      note,
    ),
    ratioRow(
      'S2 lifecycle, lean baseline',
      'lifecycles/s (start + end)',
      'lifecycles/s',
      lean.project,
      lean.baseline,
      '>=',
      0.8,
      `${note}; the baseline on tables with only primary keys`,
    ),
  ];
}

function pgbenchScript(): string {
  const view = `SELECT s.id, s.client_id, s.psychologist_id, c.name AS client_name, p.name AS psychologist_name,
       s.scheduled_start, s.duration_minutes, s.status, s.payment_status, s.video_call_started,
       s.video_call_ended, s.call_duration_minutes, s.created_at, s.updated_at
  FROM sessions s JOIN users c ON c.id = s.client_id JOIN users p ON p.id = s.psychologist_id
 WHERE s.id = :sid::uuid;`;
  return `SELECT session_id AS sid, user_id AS uid FROM bench_queue WHERE n = (SELECT nextval('bench_queue_seq')) \\gset
${view}
WITH prev AS (SELECT id, status FROM sessions WHERE id = :sid::uuid FOR UPDATE),
moved AS (
  UPDATE sessions s SET status = 'In Progress', updated_at = now(), video_call_started = now()
    FROM prev WHERE s.id = prev.id AND s.status = 'Confirmed' AND s.payment_status = ANY('{Confirmed,Paid,Verified}'::text[])
  RETURNING s.*, prev.status AS from_status),
logged AS (
  INSERT INTO session_status_changes (session_id, from_status, to_status, at, actor_id, cause)
  SELECT id, from_status, status, now(), :uid::uuid, 'start' FROM moved RETURNING at)
SELECT m.* FROM moved m CROSS JOIN logged l;
${view}
WITH prev AS (SELECT id, status FROM sessions WHERE id = :sid::uuid FOR UPDATE),
moved AS (
  UPDATE sessions s SET status = 'Completed', updated_at = now(),
         video_call_ended = GREATEST(now(), s.video_call_started),
         call_duration_minutes = round(extract(epoch FROM GREATEST(now(), s.video_call_started) - s.video_call_started) / 60)
    FROM prev WHERE s.id = prev.id AND s.status = 'In Progress'
  RETURNING s.*, prev.status AS from_status),
logged AS (
  INSERT INTO session_status_changes (session_id, from_status, to_status, at, actor_id, cause)
  SELECT id, from_status, status, now(), :uid::uuid, 'end' FROM moved RETURNING at)
SELECT m.* FROM moved m CROSS JOIN logged l;
`;
}

function which(cmd: string): Promise<string | undefined> {
  return new Promise((resolve) =>
    execFile('sh', ['-c', `command -v ${cmd}`], (error, stdout) =>
      resolve(error ? undefined : stdout.trim() || undefined),
    ),
  );
}

async function pgbenchRun(ctx: BenchContext, bin: string, file: string, seconds: number) {
  const sessions = await seedSessions(ctx.pool, Math.max(1500, seconds * 2000));
  await ctx.pool.query(`TRUNCATE bench_queue`);
  await ctx.pool.query(
    `INSERT INTO bench_queue (n, session_id, user_id)
     SELECT n, s, u FROM unnest($1::uuid[], $2::uuid[]) WITH ORDINALITY AS t(s, u, n)`,
    [sessions.map((s) => s.id), sessions.map((s) => s.clientId)],
  );
  await ctx.pool.query(`ALTER SEQUENCE bench_queue_seq RESTART WITH 1`);
  const { host, port, user, password, database } = ctx.db.parts;
  const out = await new Promise<string>((resolve, reject) =>
    execFile(
      bin,
      ['-n', '-M', 'extended', '-c', String(CONNECTIONS), '-j', '2', '-T', String(seconds)].concat([
        '-f',
        file,
        '-h',
        host,
        '-p',
        port,
        '-U',
        user,
        database,
      ]),
      { env: { ...process.env, PGPASSWORD: password } },
      (error, stdout, stderr) =>
        error ? reject(new Error(`pgbench failed: ${stderr || error.message}`)) : resolve(stdout),
    ),
  );
  const { rows } = await ctx.pool.query<{ used: string }>(
    `SELECT last_value AS used FROM bench_queue_seq`,
  );
  if (Number(rows[0].used) >= sessions.length) {
    throw new Error('S6: pgbench ran out of seeded sessions');
  }
  const failed = /number of failed transactions: (\d+)/.exec(out);
  if (failed && Number(failed[1]) > 0) {
    throw new Error(`S6: pgbench reported ${failed[1]} failed transactions`);
  }
  const tps = /tps = ([\d.]+) \(without initial connection time\)/.exec(out);
  if (!tps) {
    throw new Error(`S6: no tps in pgbench output: ${out}`);
  }
  return Number(tps[1]);
}

/** S6: the project's lifecycles/s against pgbench running the baseline's SQL from 32 clients. */
export async function s6DatabaseCeiling(ctx: BenchContext): Promise<ResultRow[]> {
  const bin = await which('pgbench');
  if (!bin) {
    return [
      {
        name: 'S6 database ceiling',
        metric: 'lifecycles/s vs pgbench',
        project: null,
        baseline: null,
        ratio: null,
        target: '>= 0.6x',
        met: null,
        skipped: 'pgbench is not installed on this machine (apt-get install postgresql-client)',
      },
    ];
  }
  await ctx.pool.query(
    `CREATE TABLE IF NOT EXISTS bench_queue (n bigint PRIMARY KEY, session_id uuid NOT NULL, user_id uuid NOT NULL)`,
  );
  await ctx.pool.query(`CREATE SEQUENCE IF NOT EXISTS bench_queue_seq`);
  const file = join(tmpdir(), `bench-lifecycle-${process.pid}.sql`);
  await writeFile(file, pgbenchScript());
  const seconds = ctx.quick ? 3 : 10;
  const r = await interleave(
    ctx,
    'S6',
    1,
    (m) => lifecycles(ctx, ctx.project, m ? seconds : 1),
    (m) => pgbenchRun(ctx, bin, file, m ? seconds : 3),
  ).finally(() => rm(file, { force: true }));
  return [
    ratioRow(
      'S6 database ceiling',
      'lifecycles/s vs pgbench tps',
      'lifecycles/s',
      r.project,
      r.baseline,
      '>=',
      0.6,
      `pgbench -M extended -c ${CONNECTIONS} -j 2, one transaction = pick a session + (session read, guarded transition with history insert) for start and for end, each statement autocommitted as the baseline server sends them`,
    ),
  ];
}

/** S7: logins/s against a raw argon2id verify loop (the library defaults, as PasswordHasher). */
export async function s7Login(ctx: BenchContext): Promise<ResultRow[]> {
  const email = `login-${Date.now()}@bench.test`;
  const password = 'bench-password-1';
  const passwordHash = await hash(password);
  await ctx.pool.query(
    `INSERT INTO users (email, name, role, password_hash) VALUES ($1, 'Bench Login', 'client', $2)`,
    [email, passwordHash],
  );
  const concurrency = 8;
  const seconds = ctx.quick ? 2 : 8;
  // Where the cores go in the measured rounds: the server's (or, for the baseline, the bench's
  // own) threads, PostgreSQL and the load generator.
  const serverPid = ctx.project.child.pid!;
  type Spans = Array<[CpuSnapshot, CpuSnapshot]>;
  const spans: { project: Spans; baseline: Spans } = { project: [], baseline: [] };
  const accounted =
    <T>(side: 'project' | 'baseline', pid: number, run: (measured: boolean) => Promise<T>) =>
    async (measured: boolean) => {
      if (!measured) {
        return run(false);
      }
      const before = await cpuSnapshot(pid);
      const value = await run(true);
      spans[side].push([before, await cpuSnapshot(pid)]);
      return value;
    };
  const project = accounted('project', serverPid, async (measured: boolean) => {
    const result = await autocannon({
      url: `${ctx.project.url}/api/auth/login`,
      method: 'POST',
      connections: concurrency,
      duration: measured ? seconds : 1,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password }),
    });
    assertClean(result, 'S7');
    return result['2xx'] / (result.duration || seconds);
  });
  const baseline = accounted('baseline', process.pid, async (measured: boolean) => {
    const until = performance.now() + (measured ? seconds : 1) * 1000;
    let done = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() < until) {
          if (!(await verify(passwordHash, password))) {
            throw new Error('argon2 verify failed');
          }
          done++;
        }
      }),
    );
    return done / ((performance.now() - started) / 1000);
  });
  const r = await interleave(ctx, 'S7', 1, project, baseline);
  // libuv's default pool: 4 threads, on both sides.
  const account = {
    project: cpuAccount(serverPid, spans.project, 4),
    baseline: cpuAccount(process.pid, spans.baseline, 4),
  };
  ctx.log(`S7 CPU account, project rounds: ${describeAccount(account.project)}`);
  ctx.log(`S7 CPU account, baseline rounds: ${describeAccount(account.baseline)}`);
  return [
    ratioRow(
      'S7 login',
      'logins/s',
      'logins/s',
      r.project,
      r.baseline,
      '>=',
      0.9,
      `${concurrency} concurrent logins vs ${concurrency} concurrent argon2id verify() calls (@node-rs/argon2 defaults), ${seconds} s per round`,
    ),
    reportRow(
      'S7 cores on argon2',
      'thread pool share of the cores',
      '%',
      [account.project.pool],
      [account.baseline.pool],
      `over the measured rounds, from /proc; project: ${describeAccount(account.project)}; baseline (in the bench process): ${describeAccount(account.baseline)}`,
    ),
  ];
}
