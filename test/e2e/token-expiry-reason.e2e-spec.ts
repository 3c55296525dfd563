import jwt from 'jsonwebtoken';
import type { Socket } from 'socket.io-client';
import { registerUser, type TestUser } from '../factories/users.js';
import { expectError } from '../utils/expect-error.js';
import { connectRoom, handshakeOutcome, request } from '../utils/socket-client.js';
import { startTestApp, TEST_JWT_SECRET, type TestApp } from '../utils/test-app.js';

/** A 401 says whether the token expired, so a client refreshes it rather than logging out. */
describe('token expiry reason (REST 401 and WebSocket connect_error)', () => {
  let t: TestApp;
  let user: TestUser;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    t = await startTestApp();
    user = await registerUser(t, 'client');
  });
  afterEach(() => {
    sockets.splice(0).forEach((s) => s.disconnect());
  });
  afterAll(() => t.close());

  const sign = (options: jwt.SignOptions, secret = TEST_JWT_SECRET) =>
    jwt.sign({ role: 'client' }, secret, {
      subject: user.id,
      algorithm: 'HS256',
      issuer: t.config.jwt.issuer,
      audience: t.config.jwt.audience,
      ...options,
    });
  const expired = () => sign({ expiresIn: -60 });

  /** The handshake's connect_error (message and data), or 'connected'. */
  function handshake(token: unknown): Promise<{ message: string; data?: unknown }> {
    const socket = connectRoom(t.url, token as string);
    sockets.push(socket);
    return handshakeOutcome(socket);
  }

  describe('REST', () => {
    it('answers an expired token with 401 reason "expired"', async () => {
      const res = await t.api.get('/api/auth/me').set('Authorization', `Bearer ${expired()}`);
      expectError(res, 401, 'UNAUTHENTICATED');
      expect(res.body.reason).toBe('expired');
    });

    it.each([
      ['a malformed token', () => 'not-a-jwt'],
      ['a token signed with another key', () => sign({}, 'another-secret-of-at-least-32-bytes!!')],
      [
        'an expired token signed with another key',
        () => sign({ expiresIn: -60 }, 'another-secret-of-at-least-32-bytes!!'),
      ],
      ['an expired token of another issuer', () => sign({ expiresIn: -60, issuer: 'someone' })],
      ['a token not valid yet', () => sign({ notBefore: 600 })],
    ])('does not say "expired" for %s', async (_label, token) => {
      const res = await t.api.get('/api/auth/me').set('Authorization', `Bearer ${token()}`);
      expectError(res, 401, 'UNAUTHENTICATED');
      expect(res.body.reason).toBeUndefined();
    });

    it('does not say "expired" without a token', async () => {
      const res = await t.api.get('/api/auth/me');
      expectError(res, 401, 'UNAUTHENTICATED');
      expect(res.body.reason).toBeUndefined();
    });
  });

  describe('WebSocket', () => {
    it('refuses an expired token with connect_error data { code, reason: "expired" }', async () => {
      expect(await handshake(expired())).toEqual({
        message: 'UNAUTHENTICATED',
        data: { code: 'UNAUTHENTICATED', reason: 'expired' },
      });
      expect(await handshake(`Bearer ${expired()}`)).toEqual({
        message: 'UNAUTHENTICATED',
        data: { code: 'UNAUTHENTICATED', reason: 'expired' },
      });
    });

    it.each([
      ['no token', undefined],
      ['a malformed token', 'not-a-jwt'],
      ['a bare "Bearer "', 'Bearer '],
      ['a token of another issuer', 'issuer'],
    ])('refuses %s with connect_error data { code } only', async (_label, token) => {
      const sent = token === 'issuer' ? sign({ issuer: 'someone' }) : token;
      expect(await handshake(sent)).toEqual({
        message: 'UNAUTHENTICATED',
        data: { code: 'UNAUTHENTICATED' },
      });
    });

    it('accepts the token with a "Bearer " prefix, as in the Authorization header', async () => {
      expect(await handshake(`Bearer ${user.token}`)).toEqual({ message: 'connected' });
      expect(await handshake(`bearer ${user.token}`)).toEqual({ message: 'connected' });
      const socket = sockets[sockets.length - 1];
      // A working socket: its messages are answered.
      expect(await request(socket, 'leave-room', { sessionId: crypto.randomUUID() })).toEqual({
        ok: true,
      });
    });

    it('answers renew-token with an expired token with reason "expired"', async () => {
      expect(await handshake(user.token)).toEqual({ message: 'connected' });
      const socket = sockets[sockets.length - 1];
      expect(await request(socket, 'renew-token', { token: expired() })).toEqual({
        ok: false,
        error: { code: 'UNAUTHENTICATED', message: expect.any(String), reason: 'expired' },
      });
    });
  });
});
