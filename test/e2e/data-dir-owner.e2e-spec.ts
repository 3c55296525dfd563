import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, readlink, realpath, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { MAIN_JS } from '../utils/build.js';
import { TEST_JWT_SECRET } from '../utils/test-app.js';

const DEMO_JS = join(dirname(MAIN_JS), 'demo', 'demo-main.js');
const OUTCOME_TIMEOUT_MS = 120_000;

type Outcome =
  | { served: true; url: string }
  | { served: false; code: number | null; signal: string | null; stdout: string; stderr: string };

interface Launched {
  child: ChildProcess;
  pid: number;
  /** Serving (the server's URL, or the demo's links printed) or how it exited before. */
  outcome: Promise<Outcome>;
  exited: Promise<{ code: number | null; signal: string | null }>;
}

const launched: Launched[] = [];
const dataDirs: string[] = [];

/**
 * `npm start` or `npm run demo` as built, on the embedded database of `dataDir` (DATABASE_URL is
 * blanked so that a developer's own setting cannot turn the embedded server off).
 */
function launch(script: string, dataDir: string, env: Record<string, string> = {}): Launched {
  const child = spawn(process.execPath, [script], {
    env: {
      ...process.env,
      NODE_ENV: 'test',
      PORT: '0',
      HOST: '127.0.0.1',
      DATABASE_URL: '',
      REDIS_URL: '',
      DATA_DIR: dataDir,
      JWT_SECRET: TEST_JWT_SECRET,
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const outcome = new Promise<Outcome>((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
    }, OUTCOME_TIMEOUT_MS);
    const check = () => {
      const listening = /listening on (http:\/\/[^\s"]+)/.exec(stderr);
      const demo = /http:\/\/localhost:(\d+)\/api\/docs/.exec(stdout);
      if (listening || (demo && stdout.includes('Ctrl+C'))) {
        clearTimeout(timer);
        resolve({ served: true, url: listening ? listening[1] : `http://127.0.0.1:${demo![1]}` });
      }
    };
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
      check();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
      check();
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      resolve({ served: false, code, signal, stdout, stderr });
    });
  });
  const run = { child, pid: child.pid!, outcome, exited };
  launched.push(run);
  return run;
}

async function served(run: Launched): Promise<string> {
  const outcome = await run.outcome;
  if (!outcome.served) {
    throw new Error(`did not start: ${JSON.stringify(outcome)}`);
  }
  return outcome.url;
}

async function freshDataDir(): Promise<string> {
  // As the kernel names it, so that it compares equal to a process's working directory.
  const dir = await realpath(await mkdtemp(join(tmpdir(), 'svapi-owner-')));
  dataDirs.push(dir);
  return dir;
}

async function postmasterPid(dataDir: string): Promise<number | undefined> {
  const content = await readFile(join(dataDir, 'pg', 'postmaster.pid'), 'utf8').catch(() => '');
  const pid = Number(content.split('\n')[0]);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** Fields of /proc/<pid>/stat after the command name: [state, ppid, ...]; undefined when gone. */
async function procStat(pid: number): Promise<string[] | undefined> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  return text?.slice(text.lastIndexOf(')') + 2).split(' ');
}

/** Alive and not a zombie (this machine's init may never reap an orphan). */
async function running(pid: number): Promise<boolean> {
  const fields = await procStat(pid);
  return fields !== undefined && fields[0] !== 'Z';
}

async function allPids(): Promise<number[]> {
  return (await readdir('/proc')).filter((name) => /^\d+$/.test(name)).map(Number);
}

/** Every running process whose working directory is the data directory's cluster (a postmaster and its children). */
async function postgresIn(dataDir: string): Promise<number[]> {
  const cluster = join(dataDir, 'pg');
  const found: number[] = [];
  for (const pid of await allPids()) {
    const cwd = await readlink(`/proc/${pid}/cwd`).catch(() => undefined);
    if (cwd === cluster && (await running(pid))) {
      found.push(pid);
    }
  }
  return found;
}

async function childrenOf(parent: number): Promise<number[]> {
  const children: number[] = [];
  for (const pid of await allPids()) {
    const fields = await procStat(pid);
    if (fields?.[1] === String(parent) && fields[0] !== 'Z') {
      children.push(pid);
    }
  }
  return children;
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) {
      return true;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return condition();
}

async function readyStatus(url: string): Promise<number> {
  return (await fetch(`${url}/api/health/ready`)).status;
}

/** The files a refused process could rewrite: their content and modification time. */
async function snapshot(dataDir: string): Promise<Record<string, string>> {
  const files = ['pg-password', 'pg/postmaster.pid', 'pg/postmaster.opts', 'pg/postgresql.conf'];
  const entries = await Promise.all(
    files.map(async (file) => {
      const path = join(dataDir, file);
      const [content, info] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
      return [file, `${info.mtimeMs} ${content}`] as const;
    }),
  );
  return Object.fromEntries(entries);
}

function theOneLine(outcome: Outcome): string {
  if (outcome.served) {
    throw new Error(`expected a refusal, but it served on ${outcome.url}`);
  }
  expect(outcome).toMatchObject({ code: 1, stdout: '' });
  const lines = outcome.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  return lines[0];
}

async function stopAll(): Promise<void> {
  const live = launched.filter(
    (run) => run.child.exitCode === null && run.child.signalCode === null,
  );
  for (const run of live) {
    run.child.kill('SIGTERM');
  }
  await Promise.all(
    live.map(async (run) => {
      const timer = setTimeout(() => run.child.kill('SIGKILL'), 15_000);
      await run.exited;
      clearTimeout(timer);
    }),
  );
  launched.length = 0;
}

afterEach(stopAll);

afterAll(async () => {
  // Whatever a failed test left behind on its directories is stopped.
  for (const dir of dataDirs) {
    for (const pid of await postgresIn(dir)) {
      if (pid === (await postmasterPid(dir))) {
        process.kill(pid, 'SIGINT');
      }
    }
  }
});

describe('the embedded data directory has one owner', () => {
  it('refuses a second server and a demo on a running server’s data directory, with one line, touching nothing', async () => {
    const dataDir = await freshDataDir();
    const first = launch(MAIN_JS, dataDir);
    const url = await served(first);
    const postmaster = await postmasterPid(dataDir);
    expect(postmaster).toBeDefined();
    const before = await snapshot(dataDir);

    const server = theOneLine(await launch(MAIN_JS, dataDir).outcome);
    expect(server).toContain(dataDir);
    expect(server).toMatch(new RegExp(`in use by process ${first.pid}\\b`));
    expect(server).toMatch(new RegExp(`set another DATA_DIR .* or stop process ${first.pid}$`));

    const demo = theOneLine(await launch(DEMO_JS, dataDir).outcome);
    expect(demo).toContain(dataDir);
    expect(demo).toMatch(new RegExp(`in use by process ${first.pid}\\b`));
    expect(demo).toContain('DATA_DIR=./.data-demo PORT=3001 npm run demo');

    expect(await readyStatus(url)).toBe(200);
    expect(await postmasterPid(dataDir)).toBe(postmaster);
    expect(await running(postmaster!)).toBe(true);
    expect(await snapshot(dataDir)).toEqual(before);
  }, 300_000);

  it('lets exactly one of three processes started together on a fresh data directory serve', async () => {
    const dataDir = await freshDataDir();
    const runs = [0, 1, 2].map(() => launch(MAIN_JS, dataDir));
    const outcomes = await Promise.all(runs.map((run) => run.outcome));

    const winners = runs.filter((_, i) => outcomes[i].served);
    expect(winners).toHaveLength(1);
    const winner = winners[0];
    for (const outcome of outcomes.filter((o) => !o.served)) {
      expect(theOneLine(outcome)).toMatch(new RegExp(`in use by process ${winner.pid}\\b`));
    }
    expect(await readyStatus(await served(winner))).toBe(200);
    expect(await postgresIn(dataDir)).toContain(await postmasterPid(dataDir));
  }, 300_000);
});

describe('an embedded PostgreSQL does not outlive its server', () => {
  it('stops within seconds of a SIGKILL of its server, and the next start serves', async () => {
    const dataDir = await freshDataDir();
    const first = launch(MAIN_JS, dataDir);
    await served(first);
    const postmaster = (await postmasterPid(dataDir))!;
    expect(await running(postmaster)).toBe(true);

    first.child.kill('SIGKILL');
    await first.exited;
    expect(await waitFor(async () => !(await running(postmaster)), 10_000)).toBe(true);
    expect(await postmasterPid(dataDir)).toBeUndefined(); // a clean shutdown removed its lock file

    const next = launch(MAIN_JS, dataDir);
    expect(await readyStatus(await served(next))).toBe(200);
    next.child.kill('SIGTERM');
    expect(await next.exited).toEqual({ code: 0, signal: null });
    expect(await postgresIn(dataDir)).toEqual([]);
  }, 300_000);

  it('is stopped by the next start when it was orphaned with nothing left to stop it', async () => {
    const dataDir = await freshDataDir();
    const first = launch(MAIN_JS, dataDir);
    await served(first);
    const postmaster = (await postmasterPid(dataDir))!;
    // The server and everything between it and its postmaster are killed the hard way.
    const parent = Number((await procStat(postmaster))![1]);
    const around = parent === first.pid ? [] : [parent, ...(await childrenOf(parent))];
    for (const pid of [first.pid, ...around.filter((pid) => pid !== postmaster)]) {
      process.kill(pid, 'SIGKILL');
    }
    await first.exited;
    await new Promise((r) => setTimeout(r, 2_000));
    expect(await running(postmaster)).toBe(true);

    const next = launch(MAIN_JS, dataDir);
    expect(await readyStatus(await served(next))).toBe(200);
    expect(await running(postmaster)).toBe(false);
    expect(await postmasterPid(dataDir)).not.toBe(postmaster);
  }, 300_000);

  it.each([
    ['npm start', MAIN_JS],
    ['npm run demo', DEMO_JS],
  ])(
    'is stopped when %s fails to start because its port is taken',
    async (_name, script) => {
      const blocker: Server = createServer();
      await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
      const port = (blocker.address() as { port: number }).port;
      try {
        const dataDir = await freshDataDir();
        const outcome = await launch(script, dataDir, { PORT: String(port) }).outcome;
        expect(outcome).toMatchObject({ served: false, code: 1 });
        expect(outcome.served ? '' : outcome.stderr).toMatch(
          new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use`),
        );
        // The server did start (it wrote its options file), and is gone by the time the process is.
        await expect(stat(join(dataDir, 'pg', 'postmaster.opts'))).resolves.toBeDefined();
        expect(await postmasterPid(dataDir)).toBeUndefined();
        expect(await postgresIn(dataDir)).toEqual([]);
      } finally {
        blocker.close();
      }
    },
    300_000,
  );
});
