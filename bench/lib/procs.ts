import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * Loaded with --import into every server under test: on an IPC request it forces a full GC and
 * answers with process.memoryUsage() and V8's heap spaces, or writes a heap snapshot to the file
 * named (bench/heap-account.ts), so memory is read the same way for project and baseline without
 * any hook in the project's code. A server whose harness is gone exits.
 */
const PROBE = `
import { getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8';
process.on('message', (m) => {
  if (m && m.type === 'mem') {
    globalThis.gc(); globalThis.gc();
    const spaces = Object.fromEntries(
      getHeapSpaceStatistics().map((s) => [s.space_name, s.space_size]),
    );
    process.send({ type: 'mem', id: m.id, ...process.memoryUsage(), spaces });
  } else if (m && m.type === 'snapshot') {
    globalThis.gc(); globalThis.gc();
    writeHeapSnapshot(m.file);
    process.send({ type: 'snapshot', id: m.id });
  }
});
// The harness died (killed, timed out): do not outlive it.
process.on('disconnect', () => process.exit(0));
`;

let probeUrl: string | undefined;
function probe(): string {
  if (!probeUrl) {
    const file = join(tmpdir(), `bench-mem-probe-${process.pid}.mjs`);
    writeFileSync(file, PROBE);
    process.on('exit', () => rmSync(file, { force: true }));
    probeUrl = pathToFileURL(file).href;
  }
  return probeUrl;
}

/**
 * The Node.js flags the service runs with in production: the ones `npm run start:prod` passes
 * (`node <flags> dist/src/main`; the Dockerfile's CMD carries the same). Every server under test
 * gets them, the baselines too, so the runtime is configured alike on both sides.
 */
export function productionNodeFlags(packageJson: string): string[] {
  const pkg = JSON.parse(readFileSync(packageJson, 'utf8')) as { scripts: Record<string, string> };
  const [node, ...rest] = pkg.scripts['start:prod'].split(/\s+/);
  if (node !== 'node') {
    throw new Error(`start:prod does not run node: ${pkg.scripts['start:prod']}`);
  }
  return rest.filter((arg) => arg.startsWith('--'));
}

/**
 * For RSS per socket (S4, bench/heap-account.ts): the young generation pinned at 2 x 4 MiB, on both
 * sides. With --max-semi-space-size=64 it grows with the allocation rate up to 2 x 64 MiB and gives
 * it back only when a GC finds the process idle, so a reading of RSS after N sockets measured
 * mostly that growth (whether it happened, and whether it was given back before the reading before)
 * divided by N, not what the sockets hold.
 */
export const PINNED_YOUNG_GENERATION = ['--min-semi-space-size=4', '--max-semi-space-size=4'];

export interface Memory {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  /** Committed bytes of each V8 heap space (new_space, old_space, code_space, ...). */
  spaces: Record<string, number>;
}

export interface ServerProcess {
  name: string;
  url: string;
  child: ChildProcess;
  memory(): Promise<Memory>;
  /** Writes a heap snapshot (after a full GC) to `file`. */
  snapshot(file: string): Promise<void>;
  stop(): Promise<void>;
  output(): string;
}

/** Starts `node <args>` with the memory probe and waits for its "listening on URL" line. */
export async function startServer(
  name: string,
  args: string[],
  env: Record<string, string>,
  timeoutMs = 60_000,
): Promise<ServerProcess> {
  // stdout (the project's JSON request log) goes to /dev/null: writing it costs the same as in
  // production, and nothing here reads it. BENCH_SERVER_STDOUT_DIR keeps it, e.g. for a GC trace.
  const stdoutDir = process.env.BENCH_SERVER_STDOUT_DIR;
  const stdout = stdoutDir ? openSync(join(stdoutDir, `${name}-${Date.now()}.log`), 'w') : 'ignore';
  const child = spawn(process.execPath, ['--expose-gc', '--import', probe(), ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', stdout, 'pipe', 'ipc'],
  });
  if (typeof stdout === 'number') {
    closeSync(stdout); // the child holds its own copy
  }
  let out = '';
  child.stderr!.on('data', (c: Buffer) => {
    out = (out + c.toString()).slice(-20_000);
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start: ${out}`)), timeoutMs);
    const onData = () => {
      const match = /listening on (http:\/\/[^\s]+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        child.stderr!.off('data', onData);
        resolve(match[1].replace('[::1]', '127.0.0.1').replace(/\/$/, ''));
      }
    };
    child.stderr!.on('data', onData);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`${name} exited during start-up: ${out}`));
    });
  });
  let nextId = 0;
  const ask = <T>(type: string, extra: object, timeoutMs: number) =>
    new Promise<T>((resolve, reject) => {
      const id = ++nextId;
      const timer = setTimeout(() => reject(new Error(`${name}: no ${type} answer`)), timeoutMs);
      const onMessage = (m: { type?: string; id?: number } & T) => {
        if (m?.type === type && m.id === id) {
          clearTimeout(timer);
          child.off('message', onMessage);
          resolve(m);
        }
      };
      child.on('message', onMessage);
      child.send({ type, id, ...extra });
    });
  return {
    name,
    url,
    child,
    output: () => out,
    memory: () => ask<Memory>('mem', {}, 30_000),
    snapshot: async (file: string) => {
      await ask('snapshot', { file }, 300_000);
    },
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) {
        return;
      }
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
