import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './redis.js';

/** Debian's coturn (`apt-get install coturn`, done by .ci/run). */
export const TURNSERVER_PATH = '/usr/bin/turnserver';
export const TURN_UCLIENT_PATH = '/usr/bin/turnutils_uclient';

/** True when coturn is installed; otherwise says why the relay tests are skipped. */
export function coturnAvailable(): boolean {
  if (existsSync(TURNSERVER_PATH) && existsSync(TURN_UCLIENT_PATH)) {
    return true;
  }
  process.stdout.write(
    `TURN relay tests skipped: ${TURNSERVER_PATH} or ${TURN_UCLIENT_PATH} is missing (apt-get install -y coturn)\n`,
  );
  return false;
}

/** A UDP port free now on loopback (TURN listens on both UDP and TCP). */
async function freeUdpAndTcpPort(): Promise<number> {
  for (;;) {
    const port = await freePort();
    const free = await new Promise<boolean>((resolve) => {
      const socket = createSocket('udp4');
      socket.once('error', () => resolve(false));
      socket.bind(port, '127.0.0.1', () => socket.close(() => resolve(true)));
    });
    if (free) {
      return port;
    }
  }
}

/** Whether something accepts TCP connections on the loopback port (coturn logs no port). */
function tcpAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * A coturn of the test's own on loopback, as a deployment runs it (`use-auth-secret` with a
 * `static-auth-secret`), minus TLS; loopback peers are allowed because both browsers are here.
 * Its pid file, log and user database live in a temporary directory of its own.
 */
export class Coturn {
  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
    readonly dir: string,
  ) {}

  static async start(secret: string): Promise<Coturn> {
    const dir = mkdtempSync(join(tmpdir(), 'coturn-'));
    const port = await freeUdpAndTcpPort();
    // A relay range of its own, away from the ephemeral ports other tests bind.
    const minPort = 20_000 + Math.floor(Math.random() * 400) * 100;
    const child = spawn(
      TURNSERVER_PATH,
      [
        '-n',
        '--listening-ip=127.0.0.1',
        '--relay-ip=127.0.0.1',
        `--listening-port=${port}`,
        '--use-auth-secret',
        `--static-auth-secret=${secret}`,
        '--realm=turn.test.local',
        '--no-tls',
        '--no-dtls',
        '--allow-loopback-peers',
        '--no-cli',
        '--fingerprint',
        `--min-port=${minPort}`,
        `--max-port=${minPort + 99}`,
        `--pidfile=${join(dir, 'turnserver.pid')}`,
        `--log-file=${join(dir, 'turnserver.log')}`,
        '--simple-log',
        `--userdb=${join(dir, 'turndb')}`,
      ],
      { stdio: 'ignore' },
    );
    const coturn = new Coturn(child, port, dir);
    const deadline = Date.now() + 15_000;
    while (!(await tcpAnswers(port))) {
      if (child.exitCode !== null || Date.now() > deadline) {
        const log = coturn.log();
        await coturn.stop();
        throw new Error(`turnserver did not start (exit ${child.exitCode}):\n${log.slice(-2000)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return coturn;
  }

  get url(): string {
    return `turn:127.0.0.1:${this.port}`;
  }

  log(): string {
    const file = join(this.dir, 'turnserver.log');
    return existsSync(file) ? readFileSync(file, 'utf8') : '';
  }

  /**
   * A TURN Allocate with these credentials, then data relayed between two allocations
   * (`turnutils_uclient -y`): true when coturn allocated, false when it refused (401).
   */
  allocate(username: string, credential: string): Promise<boolean> {
    return new Promise((resolve) => {
      execFile(
        TURN_UCLIENT_PATH,
        // -y: two allocations relay to each other; -c: no RTCP pair; the server comes last.
        [
          '-u',
          username,
          '-w',
          credential,
          '-p',
          String(this.port),
          '-n',
          '1',
          '-m',
          '1',
          '-y',
          '-c',
          '127.0.0.1',
        ],
        { timeout: 20_000 },
        (error, stdout, stderr) => {
          const output = `${stdout}${stderr}`;
          resolve(!error && !output.includes('Cannot complete Allocation'));
        },
      );
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve));
      this.child.kill('SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
      if (this.child.exitCode === null) {
        this.child.kill('SIGKILL');
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
