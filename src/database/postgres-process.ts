import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, readFile, readlink, realpath, stat, writeFile } from 'node:fs/promises';
import { platform } from 'node:os';
import { dirname, join, resolve } from 'node:path';

/** The processes around the embedded PostgreSQL: the user it runs as, its commands, orphans. */
export interface RunAs {
  uid: number;
  gid: number;
}

/** PostgreSQL refuses to run as root; as root we run it as the `postgres` system user. */
export function runAs(): RunAs | undefined {
  if (process.getuid?.() !== 0) {
    return undefined;
  }
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres']).toString().trim());
  try {
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    execFileSync('groupadd', ['-f', 'postgres']);
    execFileSync('useradd', ['-g', 'postgres', '-M', '-s', '/usr/sbin/nologin', 'postgres']);
    return { uid: id('-u'), gid: id('-g') };
  }
}

/**
 * The postgres user must be able to reach the binaries and the data directory. A checkout in a
 * private (0700) temporary directory does not allow that, so each ancestor gets search permission
 * (x, not read) for others - the least change that lets the server start.
 */
export async function ensureTraversable(path: string, user: RunAs, log: (m: string) => void) {
  let dir = resolve(path);
  const dirs: string[] = [];
  while (dirname(dir) !== dir) {
    dirs.push(dir);
    dir = dirname(dir);
  }
  for (const d of dirs.reverse()) {
    const s = await stat(d).catch(() => undefined);
    if (!s?.isDirectory()) {
      continue;
    }
    const canSearch =
      s.uid === user.uid
        ? (s.mode & 0o100) !== 0
        : s.gid === user.gid
          ? (s.mode & 0o010) !== 0
          : (s.mode & 0o001) !== 0;
    if (!canSearch) {
      await chmod(d, s.mode | 0o001);
      log(`embedded PostgreSQL: granted search permission on ${d} to run as the postgres user`);
    }
  }
}

export function run(cmd: string, args: string[], user: RunAs | undefined): Promise<void> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(cmd, args, {
      ...user,
      env: { ...process.env, LC_ALL: 'C' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolveRun() : reject(new Error(`${cmd} exited with ${code}: ${output.trim()}`)),
    );
  });
}

export async function readOrCreatePassword(file: string): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw error;
    }
    const password = randomBytes(24).toString('base64url');
    await writeFile(file, `${password}\n`, { mode: 0o600 });
    return password;
  }
}

/** Alive and not a zombie: an orphan that exited may wait for an init that never reaps it. */
export async function running(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  if (platform() !== 'linux') {
    return true;
  }
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== '' && state !== 'Z';
}

/**
 * Whether `pid` is a postmaster serving `clusterDir` (the postmaster works in its data
 * directory), not an unrelated process that reused the pid of one that is long gone.
 */
export async function servesCluster(pid: number, clusterDir: string): Promise<boolean> {
  if (platform() !== 'linux') {
    return true;
  }
  const [cwd, cluster] = await Promise.all([
    readlink(`/proc/${pid}/cwd`).catch(() => undefined),
    realpath(clusterDir).catch(() => clusterDir),
  ]);
  return cwd === cluster;
}

/**
 * A server left running by an owner that ended without stopping it (a crash, SIGKILL, and its
 * watchdog gone too) keeps the cluster locked: stop it. Only the lock holder calls this, so a
 * live postmaster here has no other live owner.
 */
export async function stopOrphan(clusterDir: string, log: (m: string) => void): Promise<void> {
  const pidFile = join(clusterDir, 'postmaster.pid');
  const content = await readFile(pidFile, 'utf8').catch(() => undefined);
  if (!content) {
    return;
  }
  const pid = Number(content.split('\n')[0]);
  const [, recordedDir] = content.split('\n');
  if (!Number.isInteger(pid) || pid <= 0 || resolve(recordedDir ?? '') !== resolve(clusterDir)) {
    return;
  }
  if (!(await running(pid)) || !(await servesCluster(pid, clusterDir))) {
    return; // stale file, PostgreSQL cleans it up itself
  }
  log(`embedded PostgreSQL: stopping a server left running by an earlier process (pid ${pid})`);
  process.kill(pid, 'SIGINT');
  for (let i = 0; i < 100; i++) {
    await new Promise((r) => setTimeout(r, 100));
    if (!(await running(pid))) {
      return;
    }
  }
  process.kill(pid, 'SIGKILL');
}
