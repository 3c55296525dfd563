/**
 * `npm run chaos -- [--short] [--duration 240] [--calls 50] [--seed N] [--faults all|none|kill,freeze,...]
 *   [--json figures.json] [--record run.json] [--keep]`, or `npm run chaos -- --check run.json`
 *
 * Three instances of the built server behind Debian's nginx running deploy/nginx.conf, on a
 * PostgreSQL and a Redis of the run's own, with calls kept going by clients that behave like
 * browsers, while faults are injected from a seeded schedule. Then the faults stop, the system
 * settles, and the run checks the contract's invariants against the clients' timelines and the
 * database. Exit 0 when they all held, 1 when one did not, 2 when the run itself failed.
 */
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { productionNodeFlags } from '../bench/lib/procs.js';
import { mapLimit } from '../bench/lib/sockets.js';
import { ensureBuilt, MAIN_JS } from '../test/utils/build.js';
import { PrivatePostgres } from '../test/utils/private-postgres.js';
import { freePort, OwnRedis } from '../test/utils/redis.js';
import { Admin, Call, type CallContext, type Phase } from './lib/calls.js';
import { check, inRoomAt, presenceRow } from './lib/checker.js';
import { MAX_FREEZE_MS, planFaults, runFaults } from './lib/faults.js';
import { Instance, Mutex } from './lib/instances.js';
import { Nginx } from './lib/nginx.js';
import { newCounters } from './lib/participant.js';
import {
  FAULT_KINDS,
  type FaultKind,
  type FaultRecord,
  type InstanceLife,
  type RunRecord,
} from './lib/records.js';
import { figures, render } from './lib/report.js';
import { Rest } from './lib/rest.js';
import { Rng, sleep } from './lib/rng.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/**
 * 1 s beats: an instance is buried 3 s after it falls silent, so a freeze of 2-10 s both does and
 * does not outlive its burial.
 */
const HEARTBEAT_S = 1;
/**
 * The grace must cover the longest stretch in which a room can rightly look empty while its
 * participants are still connected: from a frozen instance's last beat (up to 1.5 beats before
 * the SIGSTOP) through the freeze (10 s at most) to the first beat after SIGCONT, when the
 * instance learns it was buried and re-announces its sockets (section 9): about 12.5 s. 15 s
 * leaves room for a loaded machine. A database outage needs no share of it: no call may end
 * because beats could not be written.
 */
const GRACE_S = 15;
if (GRACE_S * 1000 < 1.5 * HEARTBEAT_S * 1000 + MAX_FREEZE_MS + HEARTBEAT_S * 1000 + 2000) {
  throw new Error('EMPTY_ROOM_TIMEOUT_SECONDS would not cover the longest freeze');
}
/** After the faults: dead instances are closed within 4 beats, presence heals within 2. */
const SETTLE_MS = 4 * HEARTBEAT_S * 1000 + 3000;

interface Options {
  short: boolean;
  durationS: number;
  calls: number;
  seed: number;
  kinds: FaultKind[];
  json?: string;
  /** Everything recorded (timelines, REST answers, presence rows), for a post-mortem. */
  record?: string;
  /** Only check a recorded run. */
  check?: string;
  keep: boolean;
}

function parseOptions(argv: string[]): Options {
  const value = (name: string) => {
    const i = argv.indexOf(name);
    const inline = argv.find((a) => a.startsWith(`${name}=`));
    return inline ? inline.slice(name.length + 1) : i >= 0 ? argv[i + 1] : undefined;
  };
  const short = argv.includes('--short');
  const faults = value('--faults') ?? 'all';
  const kinds =
    faults === 'all'
      ? [...FAULT_KINDS]
      : faults === 'none'
        ? []
        : faults.split(',').map((k) => {
            if (!(FAULT_KINDS as readonly string[]).includes(k)) {
              throw new Error(`--faults: unknown kind ${k} (${FAULT_KINDS.join(', ')}, all, none)`);
            }
            return k as FaultKind;
          });
  return {
    short,
    durationS: Number(value('--duration') ?? (short ? 75 : 240)),
    calls: Number(value('--calls') ?? (short ? 20 : 50)),
    seed: Number(value('--seed') ?? randomBytes(4).readUInt32BE(0)),
    kinds,
    json: value('--json'),
    record: value('--record'),
    check: value('--check'),
    keep: argv.includes('--keep'),
  };
}

const started = Date.now();
function say(message: string): void {
  const s = ((Date.now() - started) / 1000).toFixed(1).padStart(6);
  process.stderr.write(`[chaos +${s}s] ${message}\n`);
}

function missingTools(): string[] {
  return ['nginx', 'redis-server'].filter(
    (tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0,
  );
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  if (options.check) {
    // The checker again over a recorded run (--record): to read a finding, or to try a change
    // to the checker on runs that found something.
    const run = JSON.parse(await readFile(options.check, 'utf8')) as RunRecord;
    const result = check(run);
    process.stdout.write(`\n${render(figures(run, result, run.meta!))}\n`);
    return result.violations.length === 0 ? 0 : 1;
  }
  const missing = missingTools();
  if (missing.length > 0) {
    say(`cannot run: ${missing.join(' and ')} not found (Debian: nginx-light, redis-server)`);
    return 2;
  }
  say(`seed ${options.seed}; building dist/ when stale`);
  ensureBuilt();

  const runDir = await mkdtemp(join(tmpdir(), 'svapi-chaos-'));
  const logDir = join(runDir, 'logs');
  await mkdir(logDir);
  const cleanup: Array<() => Promise<void>> = [];
  let exitCode = 2;
  try {
    const postgres = await PrivatePostgres.start();
    cleanup.push(() => postgres.destroy());
    const databaseUrl = await postgres.createDatabase();
    const redis = await OwnRedis.start();
    cleanup.push(() => redis.stop());
    say(`PostgreSQL and Redis up`);

    const jwtExpiresIn = options.short ? 90 : 120;
    const admin = { email: 'chaos-admin@chaos.test', password: randomBytes(12).toString('hex') };
    const env: Record<string, string> = {
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      DATABASE_URL: databaseUrl,
      REDIS_URL: redis.url,
      JWT_SECRET: randomBytes(48).toString('base64url'),
      // Short enough that every call renews its token over the socket at least once.
      JWT_EXPIRES_IN: String(jwtExpiresIn),
      ADMIN_EMAIL: admin.email,
      ADMIN_PASSWORD: admin.password,
      EMPTY_ROOM_TIMEOUT_SECONDS: String(GRACE_S),
      PRESENCE_HEARTBEAT_SECONDS: String(HEARTBEAT_S),
      TRUST_PROXY: 'true',
      CORS_ORIGINS: 'http://chaos.invalid',
      // Every client comes from 127.0.0.1 through nginx: the per-address limits would throttle
      // the whole run as one user.
      AUTH_RATE_LIMIT: '100000',
      WS_RATE_LIMIT: '100000',
      WS_CONNECT_RATE_LIMIT: '100000',
      LOG_LEVEL: 'warn',
      DATA_DIR: join(runDir, 'data'),
    };
    const nodeFlags = productionNodeFlags(join(ROOT, 'package.json'));
    const lives: InstanceLife[] = [];
    const startLock = new Mutex();
    const ports = [await freePort(), await freePort(), await freePort()];
    const instances = ports.map(
      (port, index) =>
        new Instance(
          index,
          port,
          { node: process.execPath, args: [...nodeFlags, MAIN_JS], env },
          lives,
          startLock,
          logDir,
          say,
        ),
    );
    cleanup.push(async () => {
      await Promise.all(instances.map((i) => i.close()));
    });
    // One after the other: the first applies the migrations, and see Instance for the lock.
    for (const instance of instances) {
      await instance.start();
    }
    say(`instances up on ports ${ports.join(', ')}`);
    const shipped = await readFile(join(ROOT, 'deploy/nginx.conf'), 'utf8');
    const nginx = await Nginx.start(shipped, join(runDir, 'nginx'), ports, await freePort());
    cleanup.push(() => nginx.stop());
    say(`nginx (deploy/nginx.conf) on ${nginx.url}`);

    const rest = new Rest(nginx.url);
    const counters = newCounters();
    let phase: Phase = 'ramp';
    const ctx: CallContext = {
      rest,
      url: nginx.url,
      counters,
      admin: new Admin(rest, admin),
      phase: () => phase,
      graceMs: GRACE_S * 1000,
      lifetimeMs: options.short ? [25_000, 50_000] : [60_000, 150_000],
      say,
    };
    const rng = new Rng(options.seed);
    const callRng = rng.fork('calls');
    const faultRng = rng.fork('faults');
    const calls: Call[] = [];
    let setupFailures = 0;
    let creating = 0;
    const createCall = async () => {
      creating++;
      try {
        const call = await Call.create(ctx, callRng.fork(String(calls.length + creating)));
        calls.push(call);
        call.start();
      } catch (error) {
        setupFailures++;
        say(`call set-up failed: ${String(error)}`);
      } finally {
        creating--;
      }
    };

    say(`ramp: ${options.calls} calls`);
    await mapLimit(
      Array.from({ length: options.calls }, (_, i) => i),
      6,
      createCall,
    );

    phase = 'faults';
    const phaseStart = Date.now();
    const plan = planFaults(faultRng, options.durationS * 1000, options.kinds);
    say(
      `faults: ${plan.length} planned over ${options.durationS} s (${plan.map((p) => p.kind).join(', ') || 'none'})`,
    );
    const faults: FaultRecord[] = [];
    const keeper = (async () => {
      while (phase === 'faults') {
        const live = calls.filter((c) => !c.over).length + creating;
        for (let i = live; i < options.calls && creating < 6; i++) {
          void createCall();
        }
        await sleep(500);
      }
    })();
    await Promise.all([
      runFaults(plan, phaseStart, { instances, postgres, redis, say }, faults),
      sleep(options.durationS * 1000),
    ]);
    const faultsEndedAt = Date.now();
    phase = 'settle';
    await keeper;
    say(`faults over; settling`);
    for (const call of calls) {
      call.comeBack();
    }
    await sleep(SETTLE_MS);
    for (let waited = 0; waited < 60_000; waited += 500) {
      if (creating === 0 && calls.every((c) => c.participants.every((p) => p.settled))) {
        break;
      }
      await sleep(500);
    }
    const unsettled = calls.flatMap((c) => c.participants).filter((p) => !p.settled).length;
    if (unsettled > 0) {
      say(`${unsettled} participant(s) still not settled (joins failing?): taken as they are`);
    }

    const db = new pg.Pool({ connectionString: databaseUrl, max: 2 });
    // An idle connection is cut when PostgreSQL stops at the end: not an error of the run.
    db.on('error', () => undefined);
    cleanup.push(() => db.end());
    const records = () => calls.map((c) => c.record);
    let snapshot: RunRecord['snapshot'];
    for (let attempt = 0; attempt < 5 && !snapshot; attempt++) {
      const at = Date.now();
      const { rows } = await db.query(
        `SELECT session_id, socket_id, user_id, instance_id, joined_at, left_at, left_reason
           FROM room_presence WHERE left_at IS NULL`,
      );
      const quiet = calls.every((c) => c.participants.every((p) => p.lastChange < at));
      if (quiet) {
        snapshot = {
          at,
          openStays: rows.map(presenceRow),
          inRoom: inRoomAt(records(), at).map((s) => ({
            sessionId: s.sessionId,
            socketId: s.socket,
            userId: s.userId,
          })),
        };
      } else {
        await sleep(300);
      }
    }
    say(
      `presence compared: ${snapshot?.openStays.length ?? '?'} open stays, ${snapshot?.inRoom.length ?? '?'} sockets in rooms`,
    );

    phase = 'drain';
    say('drain: every participant leaves for good');
    await Promise.all(calls.map((c) => c.drain()));
    for (let waited = 0; waited < 30_000 && !calls.every((c) => c.finished); waited += 500) {
      await sleep(500);
    }
    await sleep(GRACE_S * 1000 + 2000 + 2000);

    say('collecting sessions, histories and presence');
    const collectedAt = Date.now();
    await mapLimit(calls, 8, async (call) => {
      const token = await ctx.admin.auth();
      const s = await rest.call<any>('GET', `/api/sessions/${call.sessionId}`, {
        token,
        record: false,
      });
      const h = await rest.call<any>('GET', `/api/sessions/${call.sessionId}/history`, {
        token,
        record: false,
      });
      call.record.status = s.body?.status;
      call.record.videoCallEnded = s.body?.videoCallEnded ?? null;
      call.record.history = Array.isArray(h.body) ? h.body : [];
    });
    const presence = (
      await db.query(
        `SELECT session_id, socket_id, user_id, instance_id, joined_at, left_at, left_reason FROM room_presence`,
      )
    ).rows.map(presenceRow);
    const instanceRows = (
      await db.query<{ id: string; started_at: Date; process: string | null }>(
        `SELECT id, started_at, process FROM instances`,
      )
    ).rows.map((r) => ({ id: r.id, startedAt: r.started_at.getTime(), process: r.process }));
    attributeInstances(instanceRows, lives);
    phase = 'over';

    const run: RunRecord = {
      startedAt: phaseStart,
      faultsEndedAt,
      collectedAt,
      graceMs: GRACE_S * 1000,
      heartbeatMs: HEARTBEAT_S * 1000,
      faults,
      lives,
      calls: records(),
      rest: rest.records,
      presence,
      instanceRows,
      snapshot,
    };
    const result = check(run);
    run.meta = {
      seed: options.seed,
      mode: options.kinds.length === 0 ? 'calm (no faults)' : options.short ? 'short' : 'full',
      counters,
      setupFailures,
      targetCalls: options.calls,
      jwtExpiresIn,
      unexpectedExits: instances.reduce((n, i) => n + i.unexpectedExits.length, 0),
    };
    const f = figures(run, result, run.meta);
    process.stdout.write(`\n${render(f)}\n`);
    if (options.json) {
      const file = resolve(options.json);
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, `${JSON.stringify({ ...f, faultLog: faults }, null, 2)}\n`);
      say(`figures written to ${options.json}`);
    }
    if (options.record) {
      await writeFile(resolve(options.record), JSON.stringify(run));
      say(`run record written to ${options.record}`);
    }
    exitCode = result.violations.length === 0 ? 0 : 1;
    return exitCode;
  } finally {
    for (const step of cleanup.reverse()) {
      await step().catch((e: unknown) => say(`cleanup: ${String(e)}`));
    }
    if (options.keep || exitCode !== 0) {
      say(`instance logs kept in ${logDir}`);
    } else {
      await rm(runDir, { recursive: true, force: true });
    }
  }
}

/**
 * Each row names the process that registered it (`host:pid`), new incarnations after a burial
 * included. Without it (a server before that column), instance starts are serialized (see
 * Instance), so the row an instance registers at boot falls in one life's window from spawn to
 * "listening".
 */
function attributeInstances(
  rows: Array<{ id: string; startedAt: number; process: string | null }>,
  lives: InstanceLife[],
) {
  for (const row of rows) {
    const pid = row.process ? Number(row.process.slice(row.process.lastIndexOf(':') + 1)) : NaN;
    const life = Number.isInteger(pid)
      ? lives.find((l) => l.pid === pid)
      : lives.find(
          (l) =>
            row.startedAt >= l.spawnAt - 1000 &&
            row.startedAt <= (l.upAt ?? l.exitAt ?? Infinity) + 1000,
        );
    life?.instanceIds.push(row.id);
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    say(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(2);
  },
);
