/**
 * `npx tsx bench/heap-account.ts [--sockets=N]`: where the project's memory per joined socket goes,
 * against the bare socket.io server (bench/servers/baseline-io.ts), both run as in `npm run bench`
 * (same Node.js flags, the memory probe loaded with --import; no hook in the project's code).
 *
 * For each server: a warm-up (sockets connected, joined and closed, so JIT code, pools and prepared
 * statements are in place), then N sockets connected and joined in rooms of 2 -> heap snapshot A,
 * N more -> heap snapshot B. B - A by constructor (count, shallow bytes), divided by N, is what one
 * more joined socket costs and who holds it; memoryUsage() and V8's heap spaces beside it say what
 * of the RSS is V8's. Written to bench/results/s4-heap-account.txt (`--out=` to change).
 * BENCH_PROJECT_NODE_OPTIONS adds flags to the project, as in the bench.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { Socket } from 'socket.io-client';
import { ensureBuilt, MAIN_JS } from '../test/utils/build.js';
import { tokensOf, type BenchContext } from './lib/context.js';
import { openBenchDatabase, seedSessions } from './lib/db.js';
import { secretKey } from './lib/jwt.js';
import {
  PINNED_YOUNG_GENERATION,
  productionNodeFlags,
  startServer,
  type Memory,
  type ServerProcess,
} from './lib/procs.js';
import { connect, disconnectAll, expectOk, mapLimit } from './lib/sockets.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const arg = (name: string) =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const N = Number(arg('sockets') ?? 2000);
const WARM = 400;
/** After the presence count settles: time for the last disconnect handlers. */
const SETTLE_MS = 1000;
const OUT = arg('out') ?? join(ROOT, 'bench/results/s4-heap-account.txt');

function log(message: string): void {
  process.stderr.write(`[heap-account ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

/** Shallow bytes and count per heap-snapshot class: `type:name`, strings and code lumped. */
type Census = Map<string, { count: number; bytes: number }>;

async function census(file: string): Promise<Census> {
  // Snapshots of a few thousand sockets are 100-300 MB of JSON: read as one string, parsed once.
  const chunks: Buffer[] = [];
  for await (const c of createReadStream(file)) {
    chunks.push(c as Buffer);
  }
  const snap = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
    nodes: number[];
    strings: string[];
  };
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const width = fields.length;
  const fType = fields.indexOf('type');
  const fName = fields.indexOf('name');
  const fSize = fields.indexOf('self_size');
  const out: Census = new Map();
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + fType]];
    const size = snap.nodes[i + fSize];
    let key: string;
    if (type === 'string' || type === 'concatenated string' || type === 'sliced string') {
      key = '(string)';
    } else if (type === 'number' || type === 'code' || type === 'regexp' || type === 'bigint') {
      key = `(${type})`;
    } else {
      const name = snap.strings[snap.nodes[i + fName]].replace(/\s+/g, ' ').slice(0, 70);
      key = type === 'object' ? name : `(${type}) ${name}`;
    }
    const e = out.get(key);
    if (e) {
      e.count++;
      e.bytes += size;
    } else {
      out.set(key, { count: 1, bytes: size });
    }
  }
  return out;
}

interface Account {
  server: string;
  idle: Memory;
  atN: Memory;
  at2N: Memory;
  rows: Array<{ key: string; count: number; bytes: number }>;
  idleCensus: Census;
}

function diff(a: Census, b: Census, n: number): Account['rows'] {
  const keys = new Set([...a.keys(), ...b.keys()]);
  return [...keys]
    .map((key) => ({
      key,
      count: ((b.get(key)?.count ?? 0) - (a.get(key)?.count ?? 0)) / n,
      bytes: ((b.get(key)?.bytes ?? 0) - (a.get(key)?.bytes ?? 0)) / n,
    }))
    .sort((x, y) => y.bytes - x.bytes);
}

async function joinPairs(ctx: BenchContext, url: string, pairs: number): Promise<Socket[]> {
  const sessions = await seedSessions(ctx.pool, pairs);
  const joined = await mapLimit(sessions, 25, async (session) => {
    const t = tokensOf(ctx, session);
    const client = await connect(url, t.client);
    const psychologist = await connect(url, t.psychologist);
    await expectOk(client, 'join-room', { sessionId: session.id });
    await expectOk(psychologist, 'join-room', { sessionId: session.id });
    return [client, psychologist];
  });
  return joined.flat();
}

/** Waits until the project has closed all but `open` stays, then `SETTLE_MS` more. */
async function settled(ctx: BenchContext, open = 0): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const { rows } = await ctx.pool.query<{ open: number }>(
      `SELECT count(*)::int AS open FROM room_presence WHERE left_at IS NULL`,
    );
    if (rows[0].open <= open) {
      break;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  await new Promise((r) => setTimeout(r, SETTLE_MS));
}

/**
 * Memory first, snapshots after: writing a snapshot leaves its buffers in the allocator, which
 * would show in every RSS read after it. Idle, N and 2N sockets are read; then
 * snapshot B at 2N, the second N closed, snapshot A at N, all closed, snapshot I (idle).
 */
async function account(ctx: BenchContext, server: ServerProcess, dir: string): Promise<Account> {
  log(`${server.name}: warm-up with ${WARM} sockets`);
  await disconnectAll(await joinPairs(ctx, server.url, WARM / 2));
  await settled(ctx);
  const idle = await server.memory();
  const first: Socket[] = [];
  const second: Socket[] = [];
  try {
    log(`${server.name}: ${N} sockets`);
    first.push(...(await joinPairs(ctx, server.url, N / 2)));
    await settled(ctx, N);
    const atN = await server.memory();
    log(`${server.name}: ${2 * N} sockets`);
    second.push(...(await joinPairs(ctx, server.url, N / 2)));
    await settled(ctx, 2 * N);
    const at2N = await server.memory();
    const b = join(dir, `${server.name}-b.heapsnapshot`);
    await server.snapshot(b);
    await disconnectAll(second.splice(0));
    await settled(ctx, N);
    const a = join(dir, `${server.name}-a.heapsnapshot`);
    await server.snapshot(a);
    await disconnectAll(first.splice(0));
    await settled(ctx);
    const i = join(dir, `${server.name}-idle.heapsnapshot`);
    await server.snapshot(i);
    log(`${server.name}: reading the snapshots`);
    const idleCensus = await census(i);
    const rows = diff(await census(a), await census(b), N);
    await Promise.all([rm(a), rm(b), rm(i)]);
    return { server: server.name, idle, atN, at2N, rows, idleCensus };
  } finally {
    await disconnectAll([...first, ...second]);
  }
}

const KiB = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
const MiB = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

function render(accounts: Account[], flags: string[], extra: string[]): string {
  const lines: string[] = [];
  const [p, b] = accounts;
  lines.push(
    `S4 heap account: ${N} -> ${2 * N} joined sockets (rooms of 2), per added socket; ${new Date().toISOString()}`,
    `Node.js ${process.version}; flags of both servers: ${flags.join(' ') || '(none)'}${extra.length ? `; project also: ${extra.join(' ')}` : ''}`,
    `Re-run: npx tsx bench/heap-account.ts --sockets=${N}`,
    '',
    'memory after a full GC (process.memoryUsage(); V8 space sizes are committed bytes)',
  );
  const spaces = ['new_space', 'old_space', 'code_space', 'large_object_space'];
  const row = (label: string, f: (a: Account) => number, fmt: (x: number) => string) =>
    lines.push(`  ${label.padEnd(40)} ${accounts.map((a) => fmt(f(a)).padStart(14)).join('')}`);
  lines.push(`  ${''.padEnd(40)} ${accounts.map((a) => a.server.padStart(14)).join('')}`);
  row('idle RSS (after warm-up, 0 sockets)', (a) => a.idle.rss, MiB);
  row('idle heapUsed', (a) => a.idle.heapUsed, MiB);
  for (const s of spaces) {
    row(`idle ${s} committed`, (a) => a.idle.spaces?.[s] ?? 0, MiB);
  }
  row(`RSS at ${N}`, (a) => a.atN.rss, MiB);
  row(`RSS at ${2 * N}`, (a) => a.at2N.rss, MiB);
  row(`young generation committed at ${N}`, (a) => a.atN.spaces.new_space, MiB);
  row(`young generation committed at ${2 * N}`, (a) => a.at2N.spaces.new_space, MiB);
  row('RSS per added socket', (a) => (a.at2N.rss - a.atN.rss) / N, KiB);
  row('heapUsed per added socket', (a) => (a.at2N.heapUsed - a.atN.heapUsed) / N, KiB);
  row('external per added socket', (a) => (a.at2N.external - a.atN.external) / N, KiB);
  for (const s of spaces) {
    row(`${s} committed per added socket`, (a) => (a.at2N.spaces[s] - a.atN.spaces[s]) / N, KiB);
  }
  row(
    'snapshot shallow bytes per added socket',
    (a) => a.rows.reduce((t, r) => t + r.bytes, 0),
    (x) => `${Math.round(x)} B`,
  );
  for (const a of accounts) {
    lines.push(
      '',
      `${a.server}: top classes by shallow bytes per added socket (count per socket, bytes per socket)`,
    );
    for (const r of a.rows.slice(0, 30)) {
      lines.push(
        `  ${r.key.padEnd(72)} ${r.count.toFixed(2).padStart(7)} ${Math.round(r.bytes).toString().padStart(7)} B`,
      );
    }
  }
  if (p && b) {
    const idle = diff(b.idleCensus, p.idleCensus, 1);
    lines.push(
      '',
      `idle, no socket: ${p.server} minus ${b.server} by class (count, shallow bytes); total ${MiB(idle.reduce((t, r) => t + r.bytes, 0))}`,
    );
    for (const r of idle.slice(0, 20)) {
      lines.push(
        `  ${r.key.padEnd(72)} ${Math.round(r.count).toString().padStart(7)} ${KiB(r.bytes).padStart(12)}`,
      );
    }
    const base = new Map(b.rows.map((r) => [r.key, r]));
    const d = p.rows
      .map((r) => ({
        key: r.key,
        count: r.count - (base.get(r.key)?.count ?? 0),
        bytes: r.bytes - (base.get(r.key)?.bytes ?? 0),
      }))
      .concat(
        b.rows
          .filter((r) => !p.rows.some((x) => x.key === r.key))
          .map((r) => ({ key: r.key, count: -r.count, bytes: -r.bytes })),
      )
      .sort((x, y) => Math.abs(y.bytes) - Math.abs(x.bytes));
    lines.push('', `${p.server} minus ${b.server}, per socket (largest differences either way)`);
    for (const r of d.slice(0, 25)) {
      lines.push(
        `  ${r.key.padEnd(72)} ${r.count.toFixed(2).padStart(7)} ${Math.round(r.bytes).toString().padStart(7)} B`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

async function main(): Promise<void> {
  ensureBuilt();
  const db = await openBenchDatabase(log);
  const secret = randomBytes(48).toString('base64url');
  const jwt = { issuer: 'session-video-api', audience: 'session-video-clients' };
  const dataDir = await mkdtemp(join(tmpdir(), 'svapi-heap-account-data-'));
  const snapDir = await mkdtemp(join(tmpdir(), 'svapi-heap-account-snap-'));
  const env = {
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: db.url,
    JWT_SECRET: secret,
    JWT_ISSUER: jwt.issuer,
    JWT_AUDIENCE: jwt.audience,
  };
  const pool = new pg.Pool({ connectionString: db.url, max: 4 });
  const servers: ServerProcess[] = [];
  try {
    // As S4: the production flags with the young generation pinned (see PINNED_YOUNG_GENERATION).
    const flags = [...productionNodeFlags(join(ROOT, 'package.json')), ...PINNED_YOUNG_GENERATION];
    const extra = process.env.BENCH_PROJECT_NODE_OPTIONS?.split(' ').filter(Boolean) ?? [];
    const project = await startServer('project', [...flags, ...extra, MAIN_JS], {
      ...env,
      NODE_ENV: 'production',
      DATA_DIR: dataDir,
      WS_RATE_LIMIT: '100000',
      WS_CONNECT_RATE_LIMIT: '100000',
      EMPTY_ROOM_TIMEOUT_SECONDS: '3600',
    });
    servers.push(project);
    const baseline = await startServer(
      'baseline-io',
      [...flags, '--import', 'tsx', join(ROOT, 'bench/servers/baseline-io.ts')],
      env,
    );
    servers.push(baseline);
    const ctx = { pool, key: secretKey(secret), jwt } as unknown as BenchContext;
    const accounts: Account[] = [];
    for (const server of servers) {
      accounts.push(await account(ctx, server, snapDir));
    }
    const text = render(accounts, flags, extra);
    await writeFile(OUT, text);
    process.stdout.write(text);
  } finally {
    for (const s of servers.reverse()) {
      await s.stop();
    }
    await pool.end();
    await db.close();
    await rm(dataDir, { recursive: true, force: true });
    await rm(snapDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  },
);
