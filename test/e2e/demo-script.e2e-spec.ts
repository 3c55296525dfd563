import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTestDatabase, type TestDatabase } from '../utils/test-database.js';
import { TEST_JWT_SECRET } from '../utils/test-app.js';

const DEMO_JS = join(
  fileURLToPath(new URL('../..', import.meta.url)),
  'dist/src/demo/demo-main.js',
);

interface DemoRun {
  sessionId: string;
  port: string;
  clientToken: string;
  psychologistToken: string;
  output: string;
}

/** `npm run demo`'s program (built by the global setup), until it has printed its links; then stopped. */
function runDemo(db: TestDatabase): Promise<DemoRun> {
  const child = spawn(process.execPath, [DEMO_JS], {
    env: {
      ...process.env,
      NODE_ENV: 'test',
      PORT: '0',
      HOST: '127.0.0.1',
      DATABASE_URL: db.url,
      JWT_SECRET: TEST_JWT_SECRET,
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  return new Promise<DemoRun>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`demo printed no links: ${output}`));
    }, 60_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      // The admin login is the last line printed.
      if (!/Admin login: .*\n/.test(output)) {
        return;
      }
      clearTimeout(timer);
      const links = [
        ...output.matchAll(/http:\/\/localhost:(\d+)\/demo\/\?sessionId=([0-9a-f-]+)#token=(\S+)/g),
      ];
      child.once('exit', (code) => {
        if (links.length !== 2) {
          reject(new Error(`expected two links: ${output}`));
          return;
        }
        if (code !== 0) {
          reject(new Error(`demo exited with ${code}: ${output}`));
          return;
        }
        resolve({
          port: links[0][1],
          sessionId: links[0][2],
          clientToken: links[0][3],
          psychologistToken: links[1][3],
          output,
        });
      });
      // Checked while it still runs, then stopped.
      void check(links[0]?.[1], links[0]?.[2], links[0]?.[3]).then(
        () => child.kill('SIGTERM'),
        (error: unknown) => {
          child.kill('SIGKILL');
          reject(error instanceof Error ? error : new Error(String(error)));
        },
      );
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => {
      if (!/Admin login: .*\n/.test(output)) {
        clearTimeout(timer);
        reject(new Error(`demo exited with ${code}: ${output}`));
      }
    });
  });
}

/** The session the links open is one the client can join now: paid and Confirmed. */
async function check(port?: string, sessionId?: string, token?: string): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${port}/api/sessions/${sessionId}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const body = (await res.json()) as { status: string; paymentStatus: string };
  if (res.status !== 200 || body.status !== 'Confirmed' || body.paymentStatus !== 'Paid') {
    throw new Error(`demo session not ready: ${res.status} ${JSON.stringify(body)}`);
  }
}

describe('npm run demo', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db.drop());

  it('prints two /demo links to a paid session that can start now, the same one on every run', async () => {
    const first = await runDemo(db);
    expect(first.output).toMatch(/Swagger UI: http:\/\/localhost:\d+\/api\/docs/);
    expect(first.output).toContain('Admin login: admin@demo.local / ');
    // The links come last: nothing but the Swagger UI link and the admin login after them.
    const printed = first.output.slice(
      0,
      first.output.indexOf('\n', first.output.indexOf('Admin login:')),
    );
    const lines = printed.split('\n');
    expect(lines.at(-2)).toMatch(/^Swagger UI: /);
    expect(lines.at(-1)).toMatch(/^Admin login: /);
    expect(lines.at(-4)).toContain('/demo/?sessionId=');
    expect(lines.at(-7)).toContain('/demo/?sessionId=');
    expect(first.clientToken).not.toBe(first.psychologistToken);
    const second = await runDemo(db);
    expect(second.sessionId).toBe(first.sessionId);
  }, 150_000);
});
