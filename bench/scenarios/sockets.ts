import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Socket } from 'socket.io-client';
import { seedSessions, type SeededSession } from '../lib/db.js';
import {
  interleaveServers,
  ratioRow,
  reportRow,
  sleep,
  tokensOf,
  type BenchContext,
  type ResultRow,
} from '../lib/context.js';
import { PINNED_YOUNG_GENERATION, type Memory, type ServerProcess } from '../lib/procs.js';
import { connect, disconnectAll, expectOk, mapLimit } from '../lib/sockets.js';
import { percentile, round } from '../lib/stats.js';

export interface Pair {
  session: SeededSession;
  client: Socket;
  psychologist: Socket;
}

/** Seeds `count` sessions and connects both participants of each (JWT handshake). */
export async function connectPairs(ctx: BenchContext, url: string, count: number): Promise<Pair[]> {
  const sessions = await seedSessions(ctx.pool, count);
  return mapLimit(sessions, 25, async (session) => {
    const t = tokensOf(ctx, session);
    return {
      session,
      client: await connect(url, t.client),
      psychologist: await connect(url, t.psychologist),
    };
  });
}

export const sockets = (pairs: Pair[]) => pairs.flatMap((p) => [p.client, p.psychologist]);

function waitForStatus(socket: Socket, sessionId: string, status: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.off('session-status', on);
      reject(new Error(`no session-status ${status} within 60 s`));
    }, 60_000);
    const on = (e: { sessionId: string; status: string }) => {
      if (e.sessionId === sessionId && e.status === status) {
        clearTimeout(timer);
        socket.off('session-status', on);
        resolve();
      }
    };
    socket.on('session-status', on);
  });
}

/** Client joins, then the psychologist; the time from the second join to both hearing In Progress. */
export async function joinPair(pair: Pair): Promise<number> {
  const id = pair.session.id;
  await expectOk(pair.client, 'join-room', { sessionId: id });
  const heard = Promise.all([
    waitForStatus(pair.client, id, 'In Progress'),
    waitForStatus(pair.psychologist, id, 'In Progress'),
  ]);
  const t0 = performance.now();
  await Promise.all([expectOk(pair.psychologist, 'join-room', { sessionId: id }), heard]);
  return performance.now() - t0;
}

/**
 * S3: N clients in rooms of 2, second-join-to-both-hear-status latency, at the two sizes
 * (1,000 and 5,000 clients) in a full run; `BENCH_S3_CLIENTS` runs one size of its own.
 */
export async function s3RoomJoin(ctx: BenchContext): Promise<ResultRow[]> {
  const sizes = ctx.quick
    ? [200]
    : process.env.BENCH_S3_CLIENTS
      ? [Number(process.env.BENCH_S3_CLIENTS)]
      : [1000, 5000];
  const rows: ResultRow[] = [];
  for (const n of sizes) {
    rows.push(...(await roomJoinAt(ctx, n)));
  }
  return rows;
}

/**
 * Rooms joined in a warm-up round: enough joins that every pooled connection has planned the
 * join's statements for good (PostgreSQL plans a prepared statement afresh for its first five
 * runs on a connection).
 */
export const joinWarmUpPairs = (ctx: BenchContext) => (ctx.quick ? 50 : 250);

async function roomJoinAt(ctx: BenchContext, n: number): Promise<ResultRow[]> {
  const warm = joinWarmUpPairs(ctx);
  const concurrency = Number(process.env.BENCH_S3_CONCURRENCY ?? 16);
  const run = (server: ServerProcess) => async (measured: boolean) => {
    const pairs = await connectPairs(ctx, server.url, measured ? n / 2 : warm);
    try {
      const latencies = await mapLimit(pairs, concurrency, joinPair);
      return { p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
    } finally {
      await disconnectAll(sockets(pairs));
    }
  };
  const label = `S3 (${n} clients)`;
  const r = await interleaveServers(ctx, label, 1, ctx.baselineIo, run);
  const note = `${n} clients (${n / 2} rooms of 2) connected at once, second joins ${concurrency} rooms at a time${ctx.quick ? '; scaled down from 1,000/5,000 for --quick' : ''}`;
  return [
    ratioRow(
      'S3 room join',
      `p99 second join -> both hear session-status, ${n} clients`,
      'ms',
      r.project.map((x) => x.p99),
      r.baseline.map((x) => x.p99),
      '<=',
      1.2,
      note,
    ),
    reportRow(
      'S3 room join',
      `p50 second join -> both hear session-status, ${n} clients`,
      'ms',
      r.project.map((x) => x.p50),
      r.baseline.map((x) => x.p50),
      'informational: the target is on p99',
    ),
  ];
}

/** Presence of the project's sockets closed (a no-op for the bare server, which has none). */
async function noOpenStays(ctx: BenchContext): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const { rows } = await ctx.pool.query<{ open: number }>(
      `SELECT count(*)::int AS open FROM room_presence WHERE left_at IS NULL`,
    );
    if (rows[0].open === 0) {
      return;
    }
    await sleep(200);
  }
}

/**
 * Memory after a full GC, read twice 500 ms apart: V8 hands the pages a GC freed back to the system
 * from a background thread, so RSS read right after a GC may still count them.
 */
async function settledMemory(server: ServerProcess): Promise<Memory> {
  await server.memory();
  await sleep(500);
  return server.memory();
}

/**
 * S4: memory per connected, joined socket after a forced GC (heap and RSS), idle RSS and heap
 * with no socket, and heap growth after join/leave cycles. Every run starts a server of its own
 * (the project or the bare socket.io server, production flags plus PINNED_YOUNG_GENERATION): a
 * fresh process has no freed memory of an earlier run to reuse, and the young generation does not
 * grow with the connects. A warm-up of `warmSockets` joined sockets (JIT, pools, prepared
 * statements), then the idle reading, then n sockets.
 */
export async function s4Memory(ctx: BenchContext): Promise<ResultRow[]> {
  const n = ctx.quick ? 200 : Number(process.env.BENCH_S4_SOCKETS ?? 5000);
  const cycles = Number(process.env.BENCH_S4_CYCLES ?? 10);
  const warmUpCycles = Number(process.env.BENCH_S4_WARM_UP_CYCLES ?? 10);
  // Every cycle is a presence transaction per socket on the project; on a shared 2-core machine
  // cycling thousands of sockets takes minutes, so the cycles run over the first `cycledPairs` rooms.
  const cycledPairs = ctx.quick ? 50 : 200;
  const warmSockets = 200;
  const runs = new Map<string, number>();
  const mib = (x: number) => x / 2 ** 20;
  const debug = (server: ServerProcess, label: string, m: Memory) => {
    if (process.env.BENCH_DEBUG) {
      console.error(
        `${server.name} ${label}: rss ${mib(m.rss).toFixed(1)} MiB, heapUsed ${mib(m.heapUsed).toFixed(1)} MiB, new space ${mib(m.spaces.new_space)} MiB, old space ${mib(m.spaces.old_space).toFixed(1)} MiB`,
      );
    }
  };
  const join = (pairs: Pair[]) =>
    mapLimit(pairs, 32, async (p) => {
      await expectOk(p.client, 'join-room', { sessionId: p.session.id });
      await expectOk(p.psychologist, 'join-room', { sessionId: p.session.id });
    });
  const run = (kind: 'project' | 'baseline') => async () => {
    // The join/leave cycles (the growth check, not a ratio) run in the first round only.
    const first = !runs.has(kind);
    runs.set(kind, (runs.get(kind) ?? 0) + 1);
    const server =
      kind === 'project'
        ? await ctx.startProject('s4-project', ctx.db.url, PINNED_YOUNG_GENERATION)
        : await ctx.startBaselineIo('s4-baseline-io', PINNED_YOUNG_GENERATION);
    try {
      const warm = await connectPairs(ctx, server.url, warmSockets / 2);
      await join(warm);
      await disconnectAll(sockets(warm));
      await noOpenStays(ctx);
      const before = await settledMemory(server);
      debug(server, 'idle', before);
      const pairs = await connectPairs(ctx, server.url, n / 2);
      const all = sockets(pairs);
      try {
        await join(pairs);
        const joined = await settledMemory(server);
        debug(server, `${n} joined`, joined);
        const cycled = pairs.slice(0, cycledPairs);
        const cycle = async () => {
          await mapLimit(cycled, 32, async (p) => {
            await expectOk(p.client, 'leave-room', { sessionId: p.session.id });
            await expectOk(p.psychologist, 'leave-room', { sessionId: p.session.id });
          });
          await join(cycled);
        };
        // Warm-up cycles first (JIT, connection pools, prepared statements, metric label sets all
        // settle in the first ones): what is left to grow over the measured cycles is a leak.
        for (let c = 0; first && c < warmUpCycles; c++) {
          await cycle();
        }
        const warmed = await server.memory();
        for (let c = 0; first && c < cycles; c++) {
          await cycle();
        }
        const after = await server.memory();
        return {
          heap: (joined.heapUsed - before.heapUsed) / n,
          rss: (joined.rss - before.rss) / n,
          idleRss: mib(before.rss),
          idleHeap: mib(before.heapUsed),
          growth: first ? (after.heapUsed - warmed.heapUsed) / (cycled.length * 2) : undefined,
        };
      } finally {
        await disconnectAll(all);
      }
    } finally {
      await server.stop();
    }
  };
  // Project and baseline back to back, as `interleave` runs them, but nothing to settle: each
  // run's server is gone when the run ends, and the shared servers sit this scenario out (a GC of
  // an idle one would shrink its young generation before the next scenario).
  const r = {
    project: [] as Awaited<ReturnType<ReturnType<typeof run>>>[],
    baseline: [] as Awaited<ReturnType<ReturnType<typeof run>>>[],
  };
  for (let i = 0; i < ctx.rounds; i++) {
    ctx.log(`S4: round ${i + 1}/${ctx.rounds}`);
    r.project.push(await run('project')());
    await noOpenStays(ctx);
    r.baseline.push(await run('baseline')());
  }
  const scaled =
    n < 5000 ? '; scaled down from 5,000 (BENCH_S4_SOCKETS=5000 for the full size)' : '';
  const how = `each run on a server of its own with the production flags plus ${PINNED_YOUNG_GENERATION.join(' ')} (both sides), after a warm-up of ${warmSockets} joined sockets`;
  const note = `${n} sockets joined in rooms of 2, heap after global.gc() minus before connecting, per socket; ${how}${scaled}`;
  const rssNote = `${n} sockets joined in rooms of 2, RSS after global.gc() minus before connecting, per socket; ${how} (with --max-semi-space-size=64 alone the young generation grows with the connects up to 2 x 64 MiB, on either side, and that growth divided by n was most of this figure)${scaled}`;
  const growth = r.project[0].growth ?? Number.NaN;
  const baseGrowth = r.baseline[0].growth ?? Number.NaN;
  // GC leaves a few hundred bytes per socket of noise either way; anything above that is a leak.
  const noise = 512;
  return [
    ratioRow(
      'S4 memory',
      'heap per joined socket',
      'bytes',
      r.project.map((x) => x.heap),
      r.baseline.map((x) => x.heap),
      '<=',
      1.0,
      note,
    ),
    // A few hundred sockets add less heap than the free room in pages a process already has.
    n >= 2000
      ? ratioRow(
          'S4 memory',
          'RSS per joined socket',
          'bytes',
          r.project.map((x) => x.rss),
          r.baseline.map((x) => x.rss),
          '<=',
          1.0,
          rssNote,
        )
      : reportRow(
          'S4 memory',
          'RSS per joined socket',
          'bytes',
          r.project.map((x) => x.rss),
          r.baseline.map((x) => x.rss),
          `informational below 2,000 sockets: their heap fits in pages the server already has; ${rssNote}`,
        ),
    reportRow(
      'S4 memory',
      'idle RSS, no socket',
      'MiB',
      r.project.map((x) => x.idleRss),
      r.baseline.map((x) => x.idleRss),
      `RSS after global.gc() before the connects: ${how}; the baseline also loads tsx`,
    ),
    reportRow(
      'S4 memory',
      'idle heap, no socket',
      'MiB',
      r.project.map((x) => x.idleHeap),
      r.baseline.map((x) => x.idleHeap),
      'heapUsed at the idle RSS reading: the modules and what they keep',
    ),
    {
      name: 'S4 memory',
      metric: `heap growth per socket after ${cycles} leave/join cycles`,
      unit: 'bytes',
      project: round(growth),
      baseline: round(baseGrowth),
      ratio: null,
      target: `zero: <= baseline + ${noise} B/socket (the bare server has no state of its own, so its figure is the noise)`,
      met: growth <= Math.max(0, baseGrowth) + noise,
      note: `first round only: ${cycledPairs * 2} of the sockets leave and rejoin ${warmUpCycles} times (warm-up), then ${cycles} times; heap after those minus heap after the warm-up, per cycled socket`,
    },
  ];
}

const SDP = `v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n${'a=candidate:1 1 udp 2122260223 192.168.1.10 54321 typ host generation 0\r\n'.repeat(18)}`;
const CANDIDATE = {
  candidate: `candidate:842163049 1 udp 1677729535 203.0.113.7 46154 typ srflx raddr 0.0.0.0 rport 0 generation 0 ufrag sWbD network-cost 999 ${'x'.repeat(860)}`,
  sdpMid: '0',
  sdpMLineIndex: 0,
};

interface Step {
  rate: number;
  sent: number;
  received: number;
  p50: number;
  p99: number;
  startedAt: string;
  /** The longest the load generator's event loop was held up during the step. */
  generatorMaxLagMs: number;
}

/**
 * One step of the signaling ladder: for `seconds`, every 10 ms send the next units of the pairs'
 * scripts (offer, answer, a burst of 20 ICE candidates) until the step's message budget is used.
 */
async function signalingStep(pairs: Pair[], rate: number, seconds: number): Promise<Step> {
  const latencies: number[] = [];
  let received = 0;
  const handler = (e: { data: { t: number } }) => {
    latencies.push(performance.now() - e.data.t);
    received++;
  };
  for (const s of sockets(pairs)) {
    s.on('signal', handler);
  }
  // The load generator's own stalls delay sending and receiving alike; BENCH_DEBUG shows them.
  const generatorLag = monitorEventLoopDelay({ resolution: 5 });
  generatorLag.enable();
  const startedAt = new Date().toISOString();
  const cursor = pairs.map(() => 0);
  let next = 0;
  let sent = 0;
  let budget = 0;
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    budget += rate / 100;
    while (budget >= 1) {
      const i = next++ % pairs.length;
      const p = pairs[i];
      const sessionId = p.session.id;
      const unit = cursor[i]++ % 3;
      if (unit === 0) {
        p.client.emit('signal', {
          sessionId,
          type: 'offer',
          data: { type: 'offer', sdp: SDP, t: performance.now() },
        });
        budget -= 1;
        sent += 1;
      } else if (unit === 1) {
        p.psychologist.emit('signal', {
          sessionId,
          type: 'answer',
          data: { type: 'answer', sdp: SDP, t: performance.now() },
        });
        budget -= 1;
        sent += 1;
      } else {
        for (let k = 0; k < 20; k++) {
          p.client.emit('signal', {
            sessionId,
            type: 'ice-candidate',
            data: { ...CANDIDATE, t: performance.now() },
          });
        }
        budget -= 20;
        sent += 20;
      }
    }
    await sleep(10);
  }
  const deadline = performance.now() + 3000;
  while (received < sent && performance.now() < deadline) {
    await sleep(20);
  }
  for (const s of sockets(pairs)) {
    s.off('signal', handler);
  }
  // Messages still missing after 3 s count as arbitrarily late.
  const late = Array.from({ length: Math.max(0, sent - received) }, () => 1e9);
  const all = latencies.concat(late);
  generatorLag.disable();
  return {
    rate,
    sent,
    received,
    p50: percentile(all, 50),
    p99: percentile(all, 99),
    startedAt,
    generatorMaxLagMs: generatorLag.max / 1e6,
  };
}

/** S5: relay latency at a base load and the highest rate whose p99 stays under 50 ms. */
export async function s5Signaling(ctx: BenchContext): Promise<ResultRow[]> {
  const pairsCount = ctx.quick ? 40 : 200;
  const seconds = ctx.quick ? 1 : 3;
  // Steps 1,000 msgs/s apart from 5,000 up: no wider than the target's 10% from 10,000 on, where
  // two shared cores saturate (12,000 -> 16,000 in one step let a round report 9,300 or 11,900
  // achieved and nothing in between), and on to 20,000 so the bare server is not capped at 16,000.
  const ladder = ctx.quick
    ? [500, 1000, 2000, 4000, 8000]
    : [500, 1000, 2000, 3000, 4000, ...Array.from({ length: 16 }, (_, i) => 5000 + i * 1000)];
  const run = (server: ServerProcess) => async (measured: boolean) => {
    const pairs = await connectPairs(ctx, server.url, pairsCount);
    try {
      await mapLimit(pairs, 16, async (p) => {
        await expectOk(p.client, 'join-room', { sessionId: p.session.id });
        await expectOk(p.psychologist, 'join-room', { sessionId: p.session.id });
      });
      if (!measured) {
        await signalingStep(pairs, 1000, 1);
        return { p50: 0, p99: 0, max: 0, steps: [] as Step[] };
      }
      const steps: Step[] = [];
      let max = 0;
      // A step fails with its p99 at 50 ms or a message lost. One failing step does not end the
      // ladder, two in a row do: on two shared cores a single stall of either process fails a
      // step at any rate (in one run of S5 one of the bare server's rounds stopped at the 10,000
      // msgs/s step with its p99 at 56 ms, and another passed 17,000).
      let failedInARow = 0;
      for (const rate of ladder) {
        const step = await signalingStep(pairs, rate, seconds);
        steps.push(step);
        if (process.env.BENCH_DEBUG) {
          console.error(server.name, JSON.stringify(step));
        }
        if (step.p99 >= 50 || step.received < step.sent) {
          if (++failedInARow === 2) {
            break;
          }
          continue;
        }
        failedInARow = 0;
        max = Math.max(max, step.received / seconds);
      }
      return { p50: steps[0].p50, p99: steps[0].p99, max, steps };
    } finally {
      await disconnectAll(sockets(pairs));
    }
  };
  const r = await interleaveServers(ctx, 'S5', 1, ctx.baselineIo, run);
  const note = `${pairsCount} pairs; offer, answer and bursts of 20 ~1 KiB ICE candidates; rate ladder ${ladder.join('/')} msgs/s, ${seconds} s per step; a step fails with p99 >= 50 ms or a lost message, the ladder stops after two failing steps in a row, and the highest passing step counts`;
  return [
    ratioRow(
      'S5 signaling',
      'highest msgs/s with p99 < 50 ms',
      'msgs/s',
      r.project.map((x) => x.max),
      r.baseline.map((x) => x.max),
      '>=',
      0.9,
      note,
    ),
    ratioRow(
      'S5 signaling',
      `relay p99 at ${ladder[0]} msgs/s`,
      'ms',
      r.project.map((x) => x.p99),
      r.baseline.map((x) => x.p99),
      '<=',
      1.2,
    ),
    reportRow(
      'S5 signaling',
      `relay p50 at ${ladder[0]} msgs/s`,
      'ms',
      r.project.map((x) => x.p50),
      r.baseline.map((x) => x.p50),
    ),
  ];
}
