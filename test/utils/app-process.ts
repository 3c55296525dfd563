import { spawn, type ChildProcess } from 'node:child_process';
import { MAIN_JS } from './build.js';
import { TEST_ADMIN, TEST_JWT_SECRET } from './test-app.js';

export interface AppProcess {
  url: string;
  child: ChildProcess;
  /** Resolves with the exit code (null when killed by a signal) and the signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  output(): string;
  kill(signal: NodeJS.Signals): void;
}

/**
 * The built service (`node dist/src/main.js`) as its own process on an ephemeral port: for tests
 * that kill an instance the hard way or send it SIGTERM. The global setup builds dist/ first.
 */
export async function spawnApp(
  env: Record<string, string>,
  startTimeoutMs = 60_000,
): Promise<AppProcess> {
  const child = spawn(process.execPath, [MAIN_JS], {
    env: {
      ...process.env,
      NODE_ENV: 'test',
      PORT: '0',
      HOST: '127.0.0.1',
      JWT_SECRET: TEST_JWT_SECRET,
      ADMIN_EMAIL: TEST_ADMIN.email,
      ADMIN_PASSWORD: TEST_ADMIN.password,
      LOG_LEVEL: 'warn',
      AUTH_RATE_LIMIT: '100000',
      WS_RATE_LIMIT: '100000',
      WS_CONNECT_RATE_LIMIT: '100000',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>(
    (resolve) => child.on('exit', (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL'); // no orphan server left behind by a failed start
      reject(new Error(`app did not start: ${out}`));
    }, startTimeoutMs);
    const onData = () => {
      const match = /listening on (http:\/\/[^\s]+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(match[1].replace('[::1]', '127.0.0.1'));
      }
    };
    child.stderr.on('data', onData);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`app exited during start-up: ${out}`));
    });
  });
  return { url, child, exited, output: () => out, kill: (signal) => child.kill(signal) };
}
