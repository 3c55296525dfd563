/**
 * `npm run bench [-- --quick] [-- --only=S1,S3]`: every scenario runs the project and its baseline
 * back to back on this machine, after a warm-up, for 3 measured rounds; medians and ratios go to
 * bench/results/latest.json and a table to stdout. See the README's "Performance" section.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir, totalmem, type as osType, release } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { ensureBuilt, MAIN_JS } from '../test/utils/build.js';
import { failedRow, type BenchContext, type ResultRow } from './lib/context.js';
import { createLeanSchema, LEAN_SCHEMA, leanPool, openBenchDatabase } from './lib/db.js';
import { secretKey } from './lib/jwt.js';
import { productionNodeFlags, startServer, type ServerProcess } from './lib/procs.js';
import { s1Read, s2Lifecycle, s6DatabaseCeiling, s7Login } from './scenarios/http.js';
import { s8History } from './scenarios/history.js';
import { s3RoomJoin, s4Memory, s5Signaling } from './scenarios/sockets.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SCENARIOS: Record<string, (ctx: BenchContext) => Promise<ResultRow[]>> = {
  S1: s1Read,
  S2: s2Lifecycle,
  S3: s3RoomJoin,
  S4: s4Memory,
  S5: s5Signaling,
  S6: s6DatabaseCeiling,
  S7: s7Login,
  S8: s8History,
};

function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

function table(rows: ResultRow[]): string {
  const head = ['scenario', 'metric', 'project', 'baseline', 'ratio', 'target', 'met'];
  const cells = rows.map((r) => [
    r.name,
    r.unit ? `${r.metric} (${r.unit})` : r.metric,
    r.project === null ? '-' : String(r.project),
    r.baseline === null ? '-' : String(r.baseline),
    r.ratio === null ? '-' : `${r.ratio}x`,
    r.target,
    r.skipped
      ? `skipped: ${r.skipped}`
      : r.error
        ? `error: ${r.error.split('\n')[0].slice(0, 80)}`
        : r.met === null
          ? '-'
          : r.met
            ? 'yes'
            : 'NO',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => `| ${c.map((x, i) => x.padEnd(widths[i])).join(' | ')} |`;
  return [
    line(head),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...cells.map(line),
  ].join('\n');
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const only = args
    .find((a) => a.startsWith('--only='))
    ?.slice('--only='.length)
    .split(',');
  const started = Date.now();

  log('building dist/ when stale');
  ensureBuilt();
  const db = await openBenchDatabase(log);
  const secret = randomBytes(48).toString('base64url');
  const jwt = { issuer: 'session-video-api', audience: 'session-video-clients' };
  const dataDir = await mkdtemp(join(tmpdir(), 'svapi-bench-data-'));
  const env = {
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: db.url,
    JWT_SECRET: secret,
    JWT_ISSUER: jwt.issuer,
    JWT_AUDIENCE: jwt.audience,
  };
  const servers: ServerProcess[] = [];
  const pool = new pg.Pool({ connectionString: db.url, max: 4 });
  const lean = leanPool(db.url);
  try {
    // The project first: it applies the migrations the baselines' queries rely on.
    // e.g. BENCH_PROJECT_NODE_OPTIONS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the project.
    const extra = process.env.BENCH_PROJECT_NODE_OPTIONS?.split(' ').filter(Boolean) ?? [];
    const nodeFlags = productionNodeFlags(join(ROOT, 'package.json'));
    const startProject = async (
      name: string,
      databaseUrl: string,
      projectDataDir: string,
      flags: string[] = [],
    ) =>
      startServer(name, [...nodeFlags, ...extra, ...flags, MAIN_JS], {
        ...env,
        DATABASE_URL: databaseUrl,
        NODE_ENV: 'production',
        DATA_DIR: projectDataDir,
        AUTH_RATE_LIMIT: '100000',
        WS_RATE_LIMIT: '100000',
        WS_CONNECT_RATE_LIMIT: '100000',
        // S4 empties rooms for a while on purpose; no call may auto-end under it.
        EMPTY_ROOM_TIMEOUT_SECONDS: '3600',
      });
    const project = await startProject('project', db.url, dataDir);
    servers.push(project);
    const tsx = [...nodeFlags, '--import', 'tsx'];
    const baselineHttp = await startServer(
      'baseline-http',
      [...tsx, join(ROOT, 'bench/servers/baseline-http.ts')],
      env,
    );
    servers.push(baselineHttp);
    await createLeanSchema(pool);
    const baselineLean = await startServer(
      'baseline-http-lean',
      [...tsx, join(ROOT, 'bench/servers/baseline-http.ts')],
      { ...env, DATABASE_SCHEMA: LEAN_SCHEMA },
    );
    servers.push(baselineLean);
    const baselineIo = await startServer(
      'baseline-io',
      [...tsx, join(ROOT, 'bench/servers/baseline-io.ts')],
      env,
    );
    servers.push(baselineIo);
    const { rows: version } = await pool.query<{ v: string }>(
      `SELECT current_setting('server_version') AS v`,
    );

    const ctx: BenchContext = {
      quick,
      rounds: 3,
      project,
      baselineHttp,
      baselineLean,
      baselineIo,
      db,
      pool,
      leanPool: lean,
      key: secretKey(secret),
      jwt,
      log,
      // Another project server on another database (S8), with a data directory of its own.
      startBaselineIo: (name, flags = []) =>
        startServer(name, [...tsx, ...flags, join(ROOT, 'bench/servers/baseline-io.ts')], env),
      async startProject(name, databaseUrl, flags) {
        const own = await mkdtemp(join(tmpdir(), `svapi-bench-${name}-`));
        const server = await startProject(name, databaseUrl, own, flags);
        return {
          ...server,
          async stop() {
            await server.stop();
            await rm(own, { recursive: true, force: true });
          },
        };
      },
    };
    const rows: ResultRow[] = [];
    for (const [id, scenario] of Object.entries(SCENARIOS)) {
      if (only && !only.includes(id)) {
        continue;
      }
      log(`${id} ...`);
      const t = Date.now();
      try {
        rows.push(...(await scenario(ctx)));
      } catch (error) {
        log(
          `${id} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
        );
        rows.push(failedRow(id, error));
      }
      log(`${id} took ${Math.round((Date.now() - t) / 1000)} s`);
    }

    const cpu = cpus();
    const result = {
      date: new Date().toISOString(),
      mode: quick ? 'quick' : 'full',
      durationSeconds: Math.round((Date.now() - started) / 1000),
      machine: {
        cpu: cpu[0]?.model ?? 'unknown',
        cores: cpu.length,
        memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
        os: `${osType()} ${release()}`,
        node: process.version,
        nodeFlags: nodeFlags.join(' '),
        postgres: version[0].v,
        database: db.external ? 'DATABASE_URL' : 'embedded PostgreSQL',
      },
      method:
        'each scenario: warm-up, then 3 rounds of project and baseline back to back (A B A B ...); medians of the rounds; ratio = project / baseline',
      scenarios: rows,
    };
    await mkdir(join(ROOT, 'bench/results'), { recursive: true });
    const json = `${JSON.stringify(result, null, 2)}\n`;
    // A run of some scenarios (--only) never replaces the complete results.
    const file = only ? 'partial.json' : 'latest.json';
    await writeFile(join(ROOT, 'bench/results', file), json);
    if (!quick && !only) {
      await writeFile(join(ROOT, 'bench/results/full.json'), json);
    }
    process.stdout.write(
      `\n${table(rows)}\n\n${result.mode} run, ${result.durationSeconds} s, ${result.machine.cores} cores, ${result.machine.cpu}; written to bench/results/${file}\n`,
    );
  } finally {
    for (const s of servers.reverse()) {
      await s.stop();
    }
    await pool.end();
    await lean.end();
    await db.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  },
);
