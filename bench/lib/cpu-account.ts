import { readdir, readFile } from 'node:fs/promises';
import { cpus } from 'node:os';

/**
 * Where the machine's CPU went during a run, from /proc (Linux): a process's threads one by one,
 * PostgreSQL's processes together. Node names every thread of its process `node`, so threads are
 * told apart by what they did: the main thread is the one whose id is the process's, and a
 * thread pool's threads are the busiest of the others (argon2 runs there, nothing else comes near).
 */
export interface CpuSnapshot {
  at: number;
  /** CPU ms per thread id of the watched process. */
  threads: Map<number, number>;
  /** CPU ms per PostgreSQL process (a backend that exits in between is lost: a lower bound). */
  postgres: Map<number, number>;
  /** CPU ms of this (the bench's) process, the load generator. */
  bench: number;
}

const TICK_MS = 10;

/** utime + stime of a /proc stat file (a process's or a thread's), in ms; null once it is gone. */
export async function procCpuMs(path: string): Promise<number | null> {
  try {
    const fields = (await readFile(path, 'utf8')).split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
  } catch {
    return null;
  }
}

const statMs = async (path: string) => (await procCpuMs(path)) ?? 0;

async function postgresMs(): Promise<Map<number, number>> {
  const byPid = new Map<number, number>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) {
      continue;
    }
    const comm = await readFile(`/proc/${entry}/comm`, 'utf8').catch(() => '');
    if (comm.trim() === 'postgres') {
      byPid.set(Number(entry), await statMs(`/proc/${entry}/stat`));
    }
  }
  return byPid;
}

export async function cpuSnapshot(pid: number): Promise<CpuSnapshot> {
  const threads = new Map<number, number>();
  for (const tid of await readdir(`/proc/${pid}/task`).catch(() => [] as string[])) {
    threads.set(Number(tid), await statMs(`/proc/${pid}/task/${tid}/stat`));
  }
  return {
    at: performance.now(),
    threads,
    postgres: await postgresMs(),
    bench: await statMs(`/proc/${process.pid}/stat`),
  };
}

/** Shares of the machine's cores (percent) over the runs between pairs of snapshots. */
export interface CpuAccount {
  /** The busiest `poolSize` threads other than the main one. */
  pool: number;
  main: number;
  otherThreads: number;
  postgres: number;
  /** The bench process (for a server under test: the load generator). */
  bench: number;
  idle: number;
}

export function cpuAccount(
  pid: number,
  spans: Array<[CpuSnapshot, CpuSnapshot]>,
  poolSize: number,
): CpuAccount {
  const perThread = new Map<number, number>();
  let wall = 0;
  let postgres = 0;
  let bench = 0;
  for (const [a, b] of spans) {
    wall += b.at - a.at;
    for (const [pgPid, ms] of b.postgres) {
      postgres += ms - (a.postgres.get(pgPid) ?? 0);
    }
    bench += b.bench - a.bench;
    for (const [tid, ms] of b.threads) {
      perThread.set(tid, (perThread.get(tid) ?? 0) + ms - (a.threads.get(tid) ?? 0));
    }
  }
  const capacity = wall * cpus().length;
  const share = (ms: number) => Math.round((1000 * ms) / capacity) / 10;
  const main = perThread.get(pid) ?? 0;
  const others = [...perThread].filter(([tid]) => tid !== pid).map(([, ms]) => ms);
  others.sort((x, y) => y - x);
  const pool = others.slice(0, poolSize).reduce((s, v) => s + v, 0);
  const rest = others.slice(poolSize).reduce((s, v) => s + v, 0);
  if (pid === process.pid) {
    bench = 0; // the watched process is the bench's own: its threads are counted above
  }
  const used = main + pool + rest + postgres + bench;
  return {
    pool: share(pool),
    main: share(main),
    otherThreads: share(rest),
    postgres: share(postgres),
    bench: share(bench),
    idle: share(Math.max(0, capacity - used)),
  };
}

export function describeAccount(a: CpuAccount): string {
  return `thread pool ${a.pool}%, main thread ${a.main}%, other threads ${a.otherThreads}%, PostgreSQL ${a.postgres}%, bench process ${a.bench}%, idle ${a.idle}%`;
}
