import type { Socket } from 'socket.io-client';
import request from 'supertest';
import { confirmedSession, type Party } from '../factories/sessions.js';
import { spawnApp, type AppProcess } from '../utils/app-process.js';
import { PrivatePostgres } from '../utils/private-postgres.js';
import { connectAs, eventually, request as ask } from '../utils/socket-client.js';
import { TcpProxy } from '../utils/tcp-proxy.js';
import type { TestApp } from '../utils/test-app.js';

/** The contract: while the database is away, REST answers 503 UNAVAILABLE within 5 s. */
const BUDGET_MS = 5000;
/** Long enough to tell an answer that came late from one that never comes. */
const GIVE_UP_MS = 20_000;

interface Outcome {
  what: string;
  status: number;
  code?: string;
  retryAfter?: string;
  /** Answered within the budget (`ms` says how long it took). */
  inTime: boolean;
  ms: number;
}

function outcome(what: string, started: number, res?: request.Response): Outcome {
  const ms = Date.now() - started;
  return {
    what,
    status: res?.status ?? 0,
    code: res?.body?.code,
    retryAfter: res?.headers['retry-after'],
    inTime: ms < BUDGET_MS,
    ms,
  };
}

/** One request's status, error code, Retry-After and time to answer (status 0: no answer). */
async function timed(what: string, send: () => request.Test): Promise<Outcome> {
  const started = Date.now();
  try {
    return outcome(what, started, await send().timeout(GIVE_UP_MS));
  } catch {
    return outcome(what, started);
  }
}

/** What an outage must look like for one answer: 503 UNAVAILABLE, Retry-After, in time. */
const unavailable = (what: string) => ({
  what,
  status: 503,
  code: 'UNAVAILABLE',
  retryAfter: expect.stringMatching(/^[1-9]\d*$/),
  inTime: true,
  ms: expect.any(Number),
});

/**
 * A separate process is the proof that the service itself survives: an unhandled 'error' event
 * of the pg pool or of one of its clients, or an unhandled rejection, would end it.
 */
describe('while the database is down', () => {
  let pg: PrivatePostgres;
  const apps: AppProcess[] = [];
  const proxies: TcpProxy[] = [];
  const sockets: Socket[] = [];

  beforeAll(async () => {
    pg = await PrivatePostgres.start();
  }, 60_000);
  afterAll(async () => {
    sockets.forEach((s) => s.disconnect());
    apps.forEach((app) => app.kill('SIGKILL'));
    await Promise.all(apps.map((app) => app.exited));
    await Promise.all(proxies.map((proxy) => proxy.close()));
    await pg?.destroy();
  }, 30_000);

  async function startApp(databaseUrl: string) {
    const app = await spawnApp({ DATABASE_URL: databaseUrl });
    apps.push(app);
    // The factories only use `api`.
    const t = { api: request(app.url), url: app.url } as unknown as TestApp;
    const { party, id } = await confirmedSession(t);
    const socket = await connectAs(app.url, party.client.token);
    sockets.push(socket);
    return { app, t, party, id, socket };
  }

  /** The REST routes and the join acknowledgement, each timed, while the database is away. */
  async function duringOutage(app: AppProcess, party: Party, id: string, socket: Socket) {
    const api = request(app.url);
    const rest = [
      await timed('GET session', () =>
        api.get(`/api/sessions/${id}`).set('Authorization', party.client.auth),
      ),
      // Read by SessionAccessGuard before the handler runs.
      await timed('GET call (guarded)', () =>
        api.get(`/api/video-calls/session/${id}`).set('Authorization', party.client.auth),
      ),
      await timed('POST booking', () =>
        api
          .post('/api/sessions')
          .set('Authorization', party.client.auth)
          .send({
            psychologistId: party.psychologist.id,
            scheduledStart: new Date(Date.now() + 86_400_000).toISOString(),
          }),
      ),
      await timed('POST login (public)', () =>
        api.post('/api/auth/login').send({ email: party.client.email, password: 'whatever-1' }),
      ),
    ];
    const ready = await timed('ready', () => api.get('/api/health/ready'));
    const started = Date.now();
    const ack = await ask(socket, 'join-room', { sessionId: id }, GIVE_UP_MS).catch(
      (error: Error) => ({ noAck: error.message }),
    );
    return { rest, ready, ack, ackMs: Date.now() - started };
  }

  function expectOutageAnswers(outage: Awaited<ReturnType<typeof duringOutage>>) {
    expect(outage.rest).toEqual(outage.rest.map(({ what }) => unavailable(what)));
    expect(outage.ready).toEqual({
      what: 'ready',
      status: 503,
      code: undefined,
      retryAfter: undefined,
      inTime: true,
      ms: expect.any(Number),
    });
    expect(outage.ack).toEqual({
      ok: false,
      error: { code: 'UNAVAILABLE', message: expect.any(String) },
    });
    expect({ ackMs: outage.ackMs, inTime: outage.ackMs < BUDGET_MS }).toEqual({
      ackMs: expect.any(Number),
      inTime: true,
    });
  }

  /** REST and readiness answer 200 again, by themselves; how long that took after `since`. */
  async function recovered(app: AppProcess, party: Party, id: string, since: number) {
    const api = request(app.url);
    await eventually(
      async () => {
        const [session, ready] = await Promise.all([
          api.get(`/api/sessions/${id}`).set('Authorization', party.client.auth),
          api.get('/api/health/ready'),
        ]);
        return session.status === 200 && ready.status === 200;
      },
      15_000,
      200,
    );
    return Date.now() - since;
  }

  function expectAlive(app: AppProcess) {
    expect({ exitCode: app.child.exitCode, signal: app.child.signalCode }).toEqual({
      exitCode: null,
      signal: null,
    });
  }

  it('PostgreSQL stopped: 503 UNAVAILABLE with Retry-After in time, readiness 503, join acks UNAVAILABLE; all 200 again once it is back, same process', async () => {
    const { app, party, id, socket } = await startApp(await pg.createDatabase());
    const logBefore = app.output().length;

    await pg.stop();
    // Twice: first on the pooled connections the stop cut, then on fresh connection attempts.
    for (let round = 0; round < 2; round++) {
      expectOutageAnswers(await duringOutage(app, party, id, socket));
      expectAlive(app);
      await request(app.url).get('/api/health/live').expect(200);
    }

    await pg.start();
    expect(await recovered(app, party, id, Date.now())).toBeLessThan(10_000);
    expect(await ask(socket, 'join-room', { sessionId: id })).toMatchObject({ ok: true });
    expectAlive(app);
    // An outage is not a bug: no "unexpected error" lines (with their stacks) for it.
    expect(app.output().slice(logBefore)).not.toMatch(/unexpected error/);
  }, 120_000);

  it('a black-holed database (packets dropped, no reset): the same answers in time, and recovery after the path heals', async () => {
    await pg.start(); // whatever the test before left
    const proxy = await TcpProxy.start({ host: '127.0.0.1', port: Number(new URL(pg.url()).port) });
    proxies.push(proxy);
    const { app, party, id, socket } = await startApp(
      TcpProxy.rewrite(await pg.createDatabase(), proxy),
    );
    const logBefore = app.output().length;

    proxy.blackhole();
    // First on pooled connections (statements that never get an answer), then on connection
    // attempts that are never answered.
    for (let round = 0; round < 2; round++) {
      expectOutageAnswers(await duringOutage(app, party, id, socket));
      expectAlive(app);
    }

    proxy.restore();
    expect(await recovered(app, party, id, Date.now())).toBeLessThan(10_000);
    expect(await ask(socket, 'join-room', { sessionId: id })).toMatchObject({ ok: true });
    expectAlive(app);
    expect(app.output().slice(logBefore)).not.toMatch(/unexpected error/);
  }, 180_000);
});
