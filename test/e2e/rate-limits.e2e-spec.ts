import { confirmedSession } from '../factories/sessions.js';
import { PASSWORD, registerUser } from '../factories/users.js';
import { expectError } from '../utils/expect-error.js';
import { connectAs, eventually, request } from '../utils/socket-client.js';
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
