import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import type { InstanceLife } from './records.js';
import { sleep } from './rng.js';

type State = 'down' | 'starting' | 'up' | 'frozen' | 'stopping';

/**
 * One instance slot behind the load balancer: a fixed port, and the built server
 * (`node <start:prod flags> dist/src/main.js`) running on it, life after life. Starts of all
 * instances go one at a time through `startLock`: a new `instances` row then belongs to the one
 * process that started between its spawn and its "listening" line, which is how the checker
 * learns which process held a socket (a row carries no port).
 */
export class Instance {
  state: State = 'down';
  private child?: ChildProcess;
  private life?: InstanceLife;
  private exited?: Promise<void>;
  private expectingExit = false;
  private closed = false;
  private readonly log: WriteStream;
  /** Exits nobody asked for (a crash under a fault is a finding). */
  readonly unexpectedExits: Array<{ at: number; exit: string }> = [];

  constructor(
    readonly index: number,
    readonly port: number,
    private readonly command: { node: string; args: string[]; env: Record<string, string> },
    private readonly lives: InstanceLife[],
    private readonly startLock: { run<T>(fn: () => Promise<T>): Promise<T> },
    logDir: string,
    private readonly say: (message: string) => void,
  ) {
    this.log = createWriteStream(join(logDir, `instance-${index}.log`), { flags: 'a' });
  }

  /** Starts a new life on the slot's port, retrying (e.g. while PostgreSQL is down) until up. */
  async start(timeoutMs = 120_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (let attempt = 1; ; attempt++) {
      const up = await this.startLock.run(() => this.spawnOnce());
      if (up || this.closed) {
        return;
      }
      if (Date.now() > deadline) {
        throw new Error(`instance ${this.index} did not start within ${timeoutMs / 1000} s`);
      }
      this.say(`instance ${this.index}: start attempt ${attempt} failed, retrying`);
      await sleep(1000);
    }
  }

  private spawnOnce(): Promise<boolean> {
    const life: InstanceLife = {
      index: this.index,
      port: this.port,
      spawnAt: Date.now(),
      instanceIds: [],
    };
    this.lives.push(life);
    this.life = life;
    this.state = 'starting';
    this.expectingExit = false;
    this.log.write(`\n==== life ${this.lives.filter((l) => l.index === this.index).length} ====\n`);
    const child = spawn(this.command.node, this.command.args, {
      env: { ...process.env, ...this.command.env, PORT: String(this.port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    life.pid = child.pid;
    child.stdout.pipe(this.log, { end: false });
    child.stderr.pipe(this.log, { end: false });
    this.exited = new Promise<void>((resolve) =>
      child.on('exit', (code, signal) => {
        life.exitAt = Date.now();
        life.exit = signal ? signal : `code ${code}`;
        const wasUp = this.state === 'up' || this.state === 'frozen';
        this.state = 'down';
        if (!this.expectingExit && wasUp && !this.closed) {
          this.unexpectedExits.push({ at: life.exitAt, exit: life.exit });
          this.say(`instance ${this.index} exited unexpectedly (${life.exit}): restarting`);
          void this.start().catch((e: unknown) => this.say(String(e)));
        }
        resolve();
      }),
    );
    return new Promise<boolean>((resolve) => {
      let seen = '';
      const timer = setTimeout(() => {
        this.expectingExit = true;
        child.kill('SIGKILL');
      }, 60_000);
      child.stderr.on('data', (chunk: Buffer) => {
        if (life.upAt) {
          return;
        }
        seen = (seen + chunk.toString()).slice(-4000);
        if (/listening on http:\/\//.test(seen)) {
          clearTimeout(timer);
          life.upAt = Date.now();
          this.state = 'up';
          resolve(true);
        }
      });
      void this.exited!.then(() => {
        clearTimeout(timer);
        resolve(false);
      });
    });
  }

  /** How the latest life ended ("code 0", "SIGKILL"), once it has. */
  get lastExit(): string | undefined {
    return this.life?.exit;
  }

  /** Sends a signal as a fault; SIGKILL and SIGTERM end the life (no automatic restart). */
  signal(signal: 'SIGKILL' | 'SIGTERM' | 'SIGSTOP' | 'SIGCONT'): void {
    if (signal === 'SIGKILL' || signal === 'SIGTERM') {
      this.expectingExit = true;
      this.state = signal === 'SIGTERM' ? 'stopping' : this.state;
    }
    if (signal === 'SIGSTOP') {
      this.state = 'frozen';
    }
    if (signal === 'SIGCONT' && this.state === 'frozen') {
      this.state = 'up';
    }
    this.child?.kill(signal);
  }

  /** Resolves when the current life has exited; false when it did not within the time. */
  async waitExit(timeoutMs: number): Promise<boolean> {
    if (!this.exited || this.state === 'down') {
      return true;
    }
    return Promise.race([this.exited.then(() => true), sleep(timeoutMs).then(() => false)]);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.expectingExit = true;
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGCONT');
      this.child.kill('SIGTERM');
      if (!(await this.waitExit(15_000))) {
        this.child.kill('SIGKILL');
        await this.waitExit(5000);
      }
    }
    await new Promise<void>((r) => this.log.end(() => r()));
  }
}

/** Runs functions one at a time, in call order. */
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn, fn);
    this.tail = result.catch(() => undefined);
    return result;
  }
}
