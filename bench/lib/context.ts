import type { KeyObject } from 'node:crypto';
import type pg from 'pg';
import { signToken } from './jwt.js';
import { median, round } from './stats.js';
import type { BenchDatabase, SeededSession } from './db.js';
import type { ServerProcess } from './procs.js';

export interface BenchContext {
  quick: boolean;
  rounds: number;
  project: ServerProcess;
  baselineHttp: ServerProcess;
  /** baseline-http on the lean tables (LEAN_SCHEMA), seeded through `leanPool`. */
  baselineLean: ServerProcess;
  baselineIo: ServerProcess;
  db: BenchDatabase;
  pool: pg.Pool;
  leanPool: pg.Pool;
  key: KeyObject;
  jwt: { issuer: string; audience: string };
  log(message: string): void;
  /**
   * Starts another project server, configured as `project`, on the database of `databaseUrl`;
   * `flags` are Node.js flags after the production ones.
   */
  startProject(name: string, databaseUrl: string, flags?: string[]): Promise<ServerProcess>;
  /** Starts another bare socket.io server, as `baselineIo`, with `flags` after the production ones. */
  startBaselineIo(name: string, flags?: string[]): Promise<ServerProcess>;
}

export interface ResultRow {
  name: string;
  metric: string;
  unit?: string;
  project: number | null;
  baseline: number | null;
  ratio: number | null;
  target: string;
  met: boolean | null;
  rounds?: { project: number[]; baseline: number[] };
  note?: string;
  skipped?: string;
  error?: string;
}

export function tokenFor(
  ctx: BenchContext,
  userId: string,
  role: 'client' | 'psychologist',
): string {
  return signToken(ctx.key, { sub: userId, role }, { ...ctx.jwt, expiresInSeconds: 6 * 3600 });
}

export function tokensOf(ctx: BenchContext, s: SeededSession) {
  return {
    client: tokenFor(ctx, s.clientId, 'client'),
    psychologist: tokenFor(ctx, s.psychologistId, 'psychologist'),
  };
}

/**
 * Between two runs: the database and the servers are left as a run found them to work in. The
 * project closes the stays of sockets that went away after their clients are gone, so the next
 * run waits until no stay is open; then the tables are vacuumed and analysed, so that neither
 * that cleanup nor an autovacuum of what the previous run wrote lands inside the next run (a
 * stall of either stopped S5's rate ladder early in full runs, in whichever round it hit).
 *
 * `ran`, the servers the run just used, run a full GC right away, so no run pays for the garbage
 * of the one before: after S4's thousands of closed sockets the project's scavenges in S5's first
 * round took up to 33 ms instead of 2-6 ms until a mark-compact came, and the round stopped at
 * 3,000 msgs/s. Right away, and only those: V8 shrinks the young generation at a full GC when the
 * process has allocated little in the last seconds, so a GC of a server that sat idle through the
 * other side's run (as every server got before each run) sent it into its next run on small
 * semi-spaces: 181 -> 54 MB committed, then three mark-compacts in S5's first 30 s, one of them
 * in the 3,000 msgs/s step with its relay p99 at 35-45 ms.
 */
export async function settle(ctx: BenchContext, ran: readonly ServerProcess[]): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const { rows } = await ctx.pool.query<{ open: number }>(
      `SELECT count(*)::int AS open FROM room_presence WHERE left_at IS NULL`,
    );
    if (rows[0].open === 0) {
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  // The memory probe's answer is not needed here, only the full GC it runs first.
  await Promise.all(ran.map((s) => s.memory()));
  await ctx.pool.query('VACUUM ANALYZE');
}

/**
 * Warm-up runs (discarded), then `rounds` measured runs, project and baseline back to back
 * (A B A B ...), so drift on a shared machine hits both alike. The database settles after each
 * run, and the server that ran collects its garbage (see `settle`); `baselineServer` is the
 * baseline's server, when it is one (S6's pgbench and S7's hash loop are not; `interleaveServers`
 * passes it).
 */
export async function interleave<T>(
  ctx: BenchContext,
  label: string,
  warmups: number,
  project: (measured: boolean) => Promise<T>,
  baseline: (measured: boolean) => Promise<T>,
  baselineServer?: ServerProcess,
): Promise<{ project: T[]; baseline: T[] }> {
  const ranBaseline = baselineServer ? [baselineServer] : [];
  // No server has run since its last GC (the previous scenario's runs ended with theirs).
  await settle(ctx, []);
  for (let i = 0; i < warmups; i++) {
    ctx.log(`${label}: warm-up ${i + 1}/${warmups}`);
    await project(false);
    await settle(ctx, [ctx.project]);
    await baseline(false);
    await settle(ctx, ranBaseline);
  }
  const out = { project: [] as T[], baseline: [] as T[] };
  for (let i = 0; i < ctx.rounds; i++) {
    ctx.log(`${label}: round ${i + 1}/${ctx.rounds}`);
    out.project.push(await project(true));
    await settle(ctx, [ctx.project]);
    out.baseline.push(await baseline(true));
    await settle(ctx, ranBaseline);
  }
  return out;
}

/**
 * `interleave` for a scenario that runs the same load against the project and a baseline server:
 * `run(server)` is one run against that server, and the baseline's server is the one that ran.
 */
export function interleaveServers<T>(
  ctx: BenchContext,
  label: string,
  warmups: number,
  baseline: ServerProcess,
  run: (server: ServerProcess) => (measured: boolean) => Promise<T>,
): Promise<{ project: T[]; baseline: T[] }> {
  return interleave(ctx, label, warmups, run(ctx.project), run(baseline), baseline);
}

/**
 * A ratio row from per-round values: medians, ratio = project / baseline, and whether it meets
 * `target` (`>=` for throughput, `<=` for latency and memory).
 */
export function ratioRow(
  name: string,
  metric: string,
  unit: string,
  project: number[],
  baseline: number[],
  op: '>=' | '<=',
  target: number,
  note?: string,
): ResultRow {
  const p = median(project);
  const b = median(baseline);
  const ratio = b > 0 ? p / b : null;
  return {
    name,
    metric,
    unit,
    project: round(p),
    baseline: round(b),
    ratio: ratio === null ? null : round(ratio, 3),
    target: `${op} ${target}x`,
    met: ratio === null ? false : op === '>=' ? ratio >= target : ratio <= target,
    rounds: { project: project.map((v) => round(v)), baseline: baseline.map((v) => round(v)) },
    ...(note ? { note } : {}),
  };
}

/** A row that reports the project against the baseline with no target (`target: 'report'`). */
export function reportRow(
  name: string,
  metric: string,
  unit: string,
  project: number[],
  baseline: number[],
  note?: string,
): ResultRow {
  return {
    ...ratioRow(name, metric, unit, project, baseline, '<=', 1, note),
    target: 'report',
    met: null,
  };
}

export function failedRow(name: string, error: unknown): ResultRow {
  return {
    name,
    metric: 'error',
    project: null,
    baseline: null,
    ratio: null,
    target: '-',
    met: false,
    error: error instanceof Error ? error.message : String(error),
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
