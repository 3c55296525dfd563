import type { Socket } from 'socket.io-client';
import { confirmedSession } from '../factories/sessions.js';
import { PASSWORD, registerUser } from '../factories/users.js';
import { expectError } from '../utils/expect-error.js';
import { sameRequestTogether } from '../utils/simultaneous-requests.js';
import {
  connectAs,
  connected,
  connectRoom,
  nextEvent,
  request,
  sleep,
} from '../utils/socket-client.js';
import { startTestApp, type TestApp } from '../utils/test-app.js';

describe('refresh tokens', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  const login = async (email: string) =>
    (await t.api.post('/api/auth/login').send({ email, password: PASSWORD }).expect(200)).body;
  const refresh = (refreshToken: string) => t.api.post('/api/auth/refresh').send({ refreshToken });

  it('login and register return a refresh token; refresh rotates it and the old one stops working', async () => {
    const user = await registerUser(t, 'client');
    const first = await login(user.email);
    expect(first.refreshToken).toEqual(expect.stringMatching(/^[\w-]{40,}$/));

    const rotated = await refresh(first.refreshToken).expect(200);
    expect(rotated.body).toMatchObject({
      tokenType: 'Bearer',
      user: { id: user.id, role: 'client' },
    });
    expect(rotated.body.refreshToken).not.toBe(first.refreshToken);
    await t.api
      .get('/api/auth/me')
      .set('Authorization', `Bearer ${rotated.body.accessToken}`)
      .expect(200);

    // Stored only as a hash.
    const stored = await t.dataSource.query(
      `SELECT encode(token_hash, 'hex') AS h FROM refresh_tokens WHERE user_id = $1`,
      [user.id],
    );
    expect(JSON.stringify(stored)).not.toContain(first.refreshToken);
    expect(stored.length).toBeGreaterThanOrEqual(3); // register, login, rotation

    expectError(await refresh(first.refreshToken), 401, 'UNAUTHENTICATED');
  });

  it('reusing a rotated token revokes its whole family, and only that family', async () => {
    const user = await registerUser(t, 'psychologist');
    const phone = await login(user.email);
    const laptop = await login(user.email);
    const next = (await refresh(phone.refreshToken).expect(200)).body.refreshToken;

    expectError(await refresh(phone.refreshToken), 401, 'UNAUTHENTICATED'); // the thief's replay
    expectError(await refresh(next), 401, 'UNAUTHENTICATED'); // the family is gone
    await refresh(laptop.refreshToken).expect(200); // another login is untouched
  });

  it('of 10 simultaneous refreshes with one token, one at most succeeds', async () => {
    const user = await registerUser(t, 'client');
    const { refreshToken } = await login(user.email);
    const answers = await sameRequestTogether(
      t.url,
      { method: 'POST', path: '/api/auth/refresh', body: { refreshToken } },
      10,
    );
    expect(answers.filter((a) => a.status === 200).length).toBeLessThanOrEqual(1);
    expect(answers.every((a) => a.status === 200 || a.status === 401)).toBe(true);
  });

  it('logout revokes the token (204 also for unknown or revoked tokens)', async () => {
    const user = await registerUser(t, 'client');
    const { refreshToken } = await login(user.email);
    await t.api.post('/api/auth/logout').send({ refreshToken }).expect(204);
    expectError(await refresh(refreshToken), 401, 'UNAUTHENTICATED');
    await t.api.post('/api/auth/logout').send({ refreshToken }).expect(204);
    await t.api
      .post('/api/auth/logout')
      .send({ refreshToken: 'x'.repeat(43) })
      .expect(204);
    expectError(await t.api.post('/api/auth/logout').send({}), 400, 'VALIDATION_FAILED');
  });

  it('refuses an expired refresh token and a garbage one', async () => {
    const user = await registerUser(t, 'client');
    const { refreshToken } = await login(user.email);
    await t.dataSource.query(
      `UPDATE refresh_tokens SET expires_at = now() - interval '1 second' WHERE user_id = $1`,
      [user.id],
    );
    expectError(await refresh(refreshToken), 401, 'UNAUTHENTICATED');
    expectError(await refresh('y'.repeat(43)), 401, 'UNAUTHENTICATED');
    expectError(await refresh(''), 400, 'VALIDATION_FAILED');
  });
});

describe('a call that outlives its access tokens', () => {
  const LIFETIME_S = 5;
  let t: TestApp;
  const sockets: Socket[] = [];
  beforeAll(async () => {
    t = await startTestApp({ env: { JWT_EXPIRES_IN: String(LIFETIME_S) } });
  });
  afterAll(async () => {
    sockets.forEach((s) => s.disconnect());
    await t.close();
  });

  it('renews the socket three times with refreshed tokens and stays connected and in the room', async () => {
    const { party, id } = await confirmedSession(t);
    const login = async (email: string) =>
      (await t.api.post('/api/auth/login').send({ email, password: PASSWORD }).expect(200)).body;
    let { refreshToken, accessToken } = await login(party.client.email);
    const pending = connectRoom(t.url, accessToken);
    // Short-lived tokens: the warning comes at once (less than 60 s are left).
    const warning = nextEvent<{ expiresAt: string }>(pending, 'token-expiring');
    const client = await connected(pending);
    sockets.push(client);
    await request(client, 'join-room', { sessionId: id });
    expect(new Date((await warning).expiresAt).getTime()).toBeGreaterThan(Date.now());

    let disconnected = false;
    client.on('disconnect', () => (disconnected = true));
    for (let i = 0; i < 3; i++) {
      await sleep(LIFETIME_S * 500);
      const renewed = (await t.api.post('/api/auth/refresh').send({ refreshToken }).expect(200))
        .body;
      refreshToken = renewed.refreshToken;
      accessToken = renewed.accessToken;
      const ack = await request(client, 'renew-token', { token: accessToken });
      expect(ack).toMatchObject({ ok: true, expiresAt: expect.any(String) });
    }
    // Well past the first token's expiry: still connected, still in the room.
    expect(disconnected).toBe(false);
    expect(client.connected).toBe(true);
    const { accessToken: psychToken } = await login(party.psychologist.email);
    const psych = await connectAs(t.url, psychToken);
    sockets.push(psych);
    await request(psych, 'join-room', { sessionId: id });
    const relayed = nextEvent(psych, 'signal');
    expect(
      await request(client, 'signal', { sessionId: id, type: 'offer', data: 'still here' }),
    ).toEqual({ ok: true });
    expect((await relayed).data).toBe('still here');

    // Renewing with another user's token is refused.
    expect(await request(client, 'renew-token', { token: psychToken })).toMatchObject({
      ok: false,
      error: { code: 'UNAUTHENTICATED' },
    });
  }, 30_000);
});
