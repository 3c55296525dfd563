import { stat, unlink } from 'node:fs/promises';
import { createConnection, createServer, type Server } from 'node:net';
import { join } from 'node:path';

/** The data directory belongs to another live process; nothing under it was read or changed. */
export class DataDirInUseError extends Error {
  constructor(
    readonly dataDir: string,
    /** The owner's pid, as it answered; undefined when it did not answer in time. */
    readonly ownerPid: number | undefined,
  ) {
    super(
      `the data directory ${dataDir} is in use by ${ownerPid === undefined ? 'another running process' : `process ${ownerPid}`}`,
    );
    this.name = 'DataDirInUseError';
  }
}

export interface DataDirLock {
  release(): Promise<void>;
}

const ASK_TIMEOUT_MS = 3_000;

/**
 * On Linux the lock is an abstract socket named after the directory's device and inode: no file
 * that a killed owner could leave behind, and every path that reaches the directory (symlinks,
 * `./.data` from another working directory) names the same lock. Elsewhere it is a socket file
 * in the directory.
 */
export async function lockAddress(dataDir: string): Promise<{ path: string; abstract: boolean }> {
  if (process.platform === 'linux') {
    const { dev, ino } = await stat(dataDir, { bigint: true });
    return { path: `\0session-video-api/data-dir/${dev}/${ino}`, abstract: true };
  }
  return { path: join(dataDir, '.owner.sock'), abstract: false };
}

function listen(server: Server, path: string): Promise<void> {
  return new Promise((resolveListen, reject) => {
    server.once('error', reject);
    server.listen({ path }, () => {
      server.off('error', reject);
      resolveListen();
    });
  });
}

interface OwnerAnswer {
  /** False when nobody listens (a socket file left by a process that is gone). */
  listening: boolean;
  pid?: number;
}

/** The owner answers every connection with its pid; a frozen owner still counts as an owner. */
function askOwner(path: string): Promise<OwnerAnswer> {
  return new Promise((resolveAsk) => {
    const socket = createConnection({ path });
    let answer = '';
    let connected = false;
    const done = (result: OwnerAnswer) => {
      clearTimeout(timer);
      socket.destroy();
      resolveAsk(result);
    };
    const timer = setTimeout(() => done({ listening: connected }), ASK_TIMEOUT_MS);
    socket.setEncoding('utf8');
    socket.on('connect', () => (connected = true));
    socket.on('data', (chunk: string) => {
      answer += chunk;
      if (answer.length > 200) {
        done({ listening: true });
      }
    });
    socket.on('end', () => {
      const pid = Number((/^\{"pid":(\d+)\}/.exec(answer) ?? [])[1]);
      done({ listening: true, pid: Number.isSafeInteger(pid) && pid > 0 ? pid : undefined });
    });
    socket.on('error', () => done({ listening: connected }));
  });
}

/**
 * Makes this process the one owner of `dataDir` for as long as it runs, or throws
 * DataDirInUseError. The lock is a listening socket: the kernel grants it to exactly one of any
 * number of processes binding at the same instant, and takes it back when its process ends,
 * however it ends (a SIGKILLed owner leaves no stale record to judge).
 */
export async function lockDataDir(dataDir: string): Promise<DataDirLock> {
  const address = await lockAddress(dataDir);
  for (let attempt = 0; ; attempt++) {
    const server = createServer((socket) => {
      // Whatever an asker sends or does, the owner answers and closes at once: an asker that
      // never reads nor hangs up must not keep this process alive or hold up release().
      socket.unref();
      socket.on('error', () => undefined);
      socket.end(`${JSON.stringify({ pid: process.pid })}\n`, () => socket.destroy());
      setTimeout(() => socket.destroy(), ASK_TIMEOUT_MS).unref();
    });
    try {
      await listen(server, address.path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') {
        throw error;
      }
      const owner = await askOwner(address.path);
      if (owner.listening || attempt >= 2) {
        throw new DataDirInUseError(dataDir, owner.pid);
      }
      // The owner ended between our bind and our question: try again. A socket file nobody
      // listens on was left by an owner that is gone; two processes that both find it stale can
      // both win here, a window only this fallback has.
      if (!address.abstract) {
        await unlink(address.path).catch(() => undefined);
      }
      continue;
    }
    server.unref(); // the lock never keeps the process alive
    let released: Promise<void> | undefined;
    return {
      release: () => (released ??= new Promise((done) => server.close(() => done()))),
    };
  }
}
