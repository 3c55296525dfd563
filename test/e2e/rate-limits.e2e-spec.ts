import { confirmedSession } from '../factories/sessions.js';
import { PASSWORD, registerUser } from '../factories/users.js';
import { expectError } from '../utils/expect-error.js';
import { io, type Socket } from 'socket.io-client';
import {
  connectAs,
  connectRoom,
  eventually,
  handshakeOutcome,
  request,
} from '../utils/socket-client.js';
import { startTestApp, type TestApp } from '../utils/test-app.js';

describe('rate limits', () => {
  const AUTH_LIMIT = 5;
  const WS_LIMIT = 10;
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({
      env: { AUTH_RATE_LIMIT: String(AUTH_LIMIT), WS_RATE_LIMIT: String(WS_LIMIT) },
    });
  });
  afterAll(() => t.close());

  it('throttles login and registration per client address with 429 RATE_LIMITED and Retry-After', async () => {
    const user = await registerUser(t, 'client'); // 1 attempt
    const statuses: number[] = [];
    for (let i = 0; i < AUTH_LIMIT - 1; i++) {
      statuses.push(
        (
          await t.api
            .post('/api/auth/login')
            .send({ email: user.email, password: 'wrong-password' })
        ).status,
      );
    }
    expect(statuses).toEqual(Array(AUTH_LIMIT - 1).fill(401));
    const refused = await t.api
      .post('/api/auth/login')
      .send({ email: user.email, password: PASSWORD });
    expectError(refused, 429, 'RATE_LIMITED');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expectError(
      await t.api
        .post('/api/auth/register')
        .send({ email: 'x@test.local', password: PASSWORD, name: 'X', role: 'client' }),
      429,
      'RATE_LIMITED',
    );
    // Other routes are not throttled, and an access token still works.
    await t.api.get('/api/auth/me').set('Authorization', user.auth).expect(200);
  });

  it('answers WebSocket messages past WS_RATE_LIMIT a second with RATE_LIMITED, and recovers', async () => {
    // A separate app: the first test used up this address's login budget on `t`.
    const app = await startTestApp({ env: { WS_RATE_LIMIT: String(WS_LIMIT) } });
    try {
      const { party, id } = await confirmedSession(app);
      const client = await connectAs(app.url, party.client.token);
      await request(client, 'join-room', { sessionId: id });
      const acks = await Promise.all(
        Array.from({ length: WS_LIMIT * 2 }, () =>
          request(client, 'signal', { sessionId: id, type: 'ice-candidate', data: 'c' }),
        ),
      );
      const limited = acks.filter((a) => a.ok === false && a.error.code === 'RATE_LIMITED');
      expect(limited.length).toBeGreaterThanOrEqual(WS_LIMIT - 2);
      expect(acks.filter((a) => a.ok === true).length).toBeGreaterThanOrEqual(WS_LIMIT - 1);
      await eventually(
        async () =>
          (await request(client, 'signal', { sessionId: id, type: 'offer', data: 'x' })).ok ===
          true,
      );
      client.disconnect();
    } finally {
      await app.close();
    }
  });

  it('disconnects a socket that keeps flooding', async () => {
    const app = await startTestApp({ env: { WS_RATE_LIMIT: String(WS_LIMIT) } });
    try {
      const { party, id } = await confirmedSession(app);
      const client = await connectAs(app.url, party.client.token);
      let gone = false;
      client.on('disconnect', () => (gone = true));
      for (let i = 0; i < WS_LIMIT * 10 && !gone; i++) {
        client.emit('signal', { sessionId: id, type: 'offer', data: 'flood' });
      }
      await eventually(() => Promise.resolve(gone), 5000);
      expect(gone).toBe(true);
    } finally {
      await app.close();
    }
  });
});

describe('WebSocket handshakes per client address (WS_CONNECT_RATE_LIMIT)', () => {
  const CONNECT_LIMIT = 5;
  const sockets: Socket[] = [];
  afterEach(() => {
    sockets.splice(0).forEach((s) => s.disconnect());
  });

  /** The handshake's outcome: 'connected' or the connect_error (message and data). */
  async function attempt(
    url: string,
    token: string,
    headers?: Record<string, string>,
  ): Promise<{ message: string; data?: unknown }> {
    const socket = headers
      ? io(`${url}/video-calls`, {
          auth: { token },
          transports: ['websocket'],
          reconnection: false,
          forceNew: true,
          extraHeaders: headers,
        })
      : connectRoom(url, token);
    sockets.push(socket);
    return handshakeOutcome(socket);
  }

  const openSockets = async (t: TestApp) =>
    Number(/^video_call_open_sockets (\d+)$/m.exec((await t.api.get('/metrics')).text)?.[1]);

  it('refuses the attempt past the limit with connect_error RATE_LIMITED, good token or bad, and records nothing', async () => {
    const t = await startTestApp({ env: { WS_CONNECT_RATE_LIMIT: String(CONNECT_LIMIT) } });
    try {
      const user = await registerUser(t, 'client');
      const first: string[] = [];
      for (let i = 0; i < CONNECT_LIMIT; i++) {
        first.push((await attempt(t.url, user.token)).message);
      }
      expect(first).toEqual(Array(CONNECT_LIMIT).fill('connected'));

      const refused = await attempt(t.url, user.token);
      expect(refused).toEqual({
        message: 'RATE_LIMITED',
        data: { code: 'RATE_LIMITED', retryAfter: expect.any(Number) },
      });
      expect((refused.data as { retryAfter: number }).retryAfter).toBeGreaterThanOrEqual(1);
      // Counted before the token check: a bad token is refused for the rate, not the token.
      expect((await attempt(t.url, 'not-a-jwt')).message).toBe('RATE_LIMITED');
      // Without TRUST_PROXY a forged X-Forwarded-For does not buy a fresh budget.
      expect((await attempt(t.url, user.token, { 'x-forwarded-for': '203.0.113.7' })).message).toBe(
        'RATE_LIMITED',
      );

      // Only the admitted sockets exist, and they still work; REST is not throttled by it.
      expect(await openSockets(t)).toBe(CONNECT_LIMIT);
      const admitted = sockets.slice(0, CONNECT_LIMIT);
      expect(admitted.every((s) => s.connected)).toBe(true);
      const ack = await request(admitted[0], 'leave-room', {
        sessionId: '00000000-0000-4000-8000-000000000000',
      });
      expect(ack).toEqual({ ok: true });
      await t.api.get('/api/auth/me').set('Authorization', user.auth).expect(200);
    } finally {
      await t.close();
    }
  });

  it('counts attempts with bad tokens too', async () => {
    const t = await startTestApp({ env: { WS_CONNECT_RATE_LIMIT: String(CONNECT_LIMIT) } });
    try {
      const user = await registerUser(t, 'client');
      const outcomes: string[] = [];
      for (let i = 0; i < CONNECT_LIMIT; i++) {
        outcomes.push((await attempt(t.url, i % 2 === 0 ? 'not-a-jwt' : '')).message);
      }
      expect(outcomes).toEqual(Array(CONNECT_LIMIT).fill('UNAUTHENTICATED'));
      expect((await attempt(t.url, user.token)).message).toBe('RATE_LIMITED');
      expect(await openSockets(t)).toBe(0);
    } finally {
      await t.close();
    }
  });

  it('keys on the X-Forwarded-For client address with TRUST_PROXY', async () => {
    const t = await startTestApp({ env: { WS_CONNECT_RATE_LIMIT: '1', TRUST_PROXY: 'true' } });
    try {
      const user = await registerUser(t, 'client');
      const from = (address: string) =>
        attempt(t.url, user.token, { 'x-forwarded-for': `${address}, 10.0.0.2` });
      expect((await from('198.51.100.1')).message).toBe('connected');
      expect((await from('198.51.100.1')).message).toBe('RATE_LIMITED');
      expect((await from('198.51.100.2')).message).toBe('connected');
    } finally {
      await t.close();
    }
  });
});
