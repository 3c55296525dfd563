import { randomBytes, randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { Response } from 'supertest';
import { loginAdmin, PASSWORD, registerUser } from '../factories/users.js';
import { startTestApp, TEST_ADMIN, TEST_JWT_SECRET, type TestApp } from '../utils/test-app.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const uniqueEmail = (prefix = 'user') => `${prefix}-${randomBytes(5).toString('hex')}@test.local`;

function registration(overrides: Record<string, unknown> = {}) {
  return {
    email: uniqueEmail(),
    password: PASSWORD,
    name: 'Ana Ramos',
    role: 'client',
    ...overrides,
  };
}

/** Every key anywhere in a JSON value. */
function keysOf(value: unknown): string[] {
  if (Array.isArray(value)) {
    return value.flatMap(keysOf);
  }
  if (typeof value === 'object' && value !== null) {
    return Object.entries(value).flatMap(([k, v]) => [k, ...keysOf(v)]);
  }
  return [];
}

describe('auth', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  function expectError(res: Response, status: number, code: string) {
    expect(res.status).toBe(status);
    expect(res.body).toEqual(
      expect.objectContaining({ statusCode: status, code, message: expect.any(String) }),
    );
    expect(typeof res.body.error).toBe('string');
  }

  describe('POST /api/auth/register', () => {
    it('creates an account and returns a bearer token and the user, and nothing secret', async () => {
      const input = registration({ role: 'psychologist', name: 'Dr. Who' });
      const res = await t.api.post('/api/auth/register').send(input);
      expect(res.status).toBe(201);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.body).toEqual({
        accessToken: expect.any(String),
        tokenType: 'Bearer',
        expiresIn: t.config.jwt.expiresInSeconds,
        refreshToken: expect.stringMatching(/^[\w-]{43}$/),
        user: {
          id: expect.stringMatching(UUID),
          email: input.email,
          name: 'Dr. Who',
          role: 'psychologist',
        },
      });
      // Contract-optional extra fields (refreshToken) are fine; a password or hash is not.
      for (const key of keysOf(res.body)) {
        expect(key.toLowerCase()).not.toMatch(/password|hash/);
      }
      expect(res.text).not.toContain(PASSWORD);
      expect(res.text).not.toContain('$argon2');
    });

    it('issues an HS256 token with sub, role, iat, exp, iss and aud', async () => {
      const res = await t.api.post('/api/auth/register').send(registration());
      expect(res.status).toBe(201);
      const decoded = jwt.decode(res.body.accessToken, { complete: true });
      expect(decoded?.header.alg).toBe('HS256');
      const claims = decoded?.payload as jwt.JwtPayload;
      expect(claims).toMatchObject({
        sub: res.body.user.id,
        role: 'client',
        iss: t.config.jwt.issuer,
        aud: t.config.jwt.audience,
      });
      expect(claims.exp! - claims.iat!).toBe(t.config.jwt.expiresInSeconds);
      expect(Math.abs(claims.iat! - Date.now() / 1000)).toBeLessThan(60);
      // It really is signed with the configured key.
      expect(() =>
        jwt.verify(res.body.accessToken, TEST_JWT_SECRET, { algorithms: ['HS256'] }),
      ).not.toThrow();
    });

    it('stores the email lower-cased and trimmed', async () => {
      const email = uniqueEmail('MiXeD').toUpperCase();
      const res = await t.api
        .post('/api/auth/register')
        .send(registration({ email: `  ${email} ` }));
      expect(res.status).toBe(201);
      expect(res.body.user.email).toBe(email.toLowerCase());
    });

    it('refuses a password shorter than 8 characters, naming the field', async () => {
      const res = await t.api
        .post('/api/auth/register')
        .send(registration({ password: 'seven77' }));
      expectError(res, 400, 'VALIDATION_FAILED');
      expect(res.body.error).toBe('Bad Request');
      expect(res.body.details).toEqual([
        { field: 'password', messages: [expect.stringContaining('password')] },
      ]);
    });

    it('accepts a password of exactly 8 characters', async () => {
      const res = await t.api
        .post('/api/auth/register')
        .send(registration({ password: 'eight888' }));
      expect(res.status).toBe(201);
    });

    it('refuses to register an admin', async () => {
      const email = uniqueEmail('would-be-admin');
      const res = await t.api
        .post('/api/auth/register')
        .send(registration({ email, role: 'admin' }));
      expectError(res, 400, 'VALIDATION_FAILED');
      expect(res.body.details.map((d: { field: string }) => d.field)).toEqual(['role']);
      const rows = await t.dataSource.query('SELECT 1 FROM users WHERE email = $1', [email]);
      expect(rows).toHaveLength(0);
    });

    it('refuses unknown fields (no mass assignment)', async () => {
      const email = uniqueEmail('extra');
      const res = await t.api
        .post('/api/auth/register')
        .send(registration({ email, isAdmin: true, id: randomUUID() }));
      expectError(res, 400, 'VALIDATION_FAILED');
      const fields = res.body.details.map((d: { field: string }) => d.field).sort();
      expect(fields).toEqual(['id', 'isAdmin']);
      const rows = await t.dataSource.query('SELECT 1 FROM users WHERE email = $1', [email]);
      expect(rows).toHaveLength(0);
    });

    it('names every bad field at once', async () => {
      const res = await t.api
        .post('/api/auth/register')
        .send({ email: 'not-an-email', password: 5, role: 'client' });
      expectError(res, 400, 'VALIDATION_FAILED');
      const fields = res.body.details.map((d: { field: string }) => d.field).sort();
      expect(fields).toEqual(['email', 'name', 'password']);
    });

    it.each([
      ['an empty object', {}],
      ['an array', [registration()]],
      ['null', null],
    ])('refuses %s as the body', async (_, body) => {
      const res = await t.api
        .post('/api/auth/register')
        .set('content-type', 'application/json')
        .send(JSON.stringify(body));
      expectError(res, 400, 'VALIDATION_FAILED');
    });

    it('refuses a duplicate email with 409 EMAIL_TAKEN, also in another case', async () => {
      const email = uniqueEmail('dup');
      const first = await t.api.post('/api/auth/register').send(registration({ email }));
      expect(first.status).toBe(201);

      const again = await t.api.post('/api/auth/register').send(registration({ email }));
      expectError(again, 409, 'EMAIL_TAKEN');
      expect(again.body.error).toBe('Conflict');

      const upper = await t.api
        .post('/api/auth/register')
        .send(registration({ email: email.toUpperCase(), role: 'psychologist' }));
      expectError(upper, 409, 'EMAIL_TAKEN');

      const rows = await t.dataSource.query('SELECT role FROM users WHERE email = $1', [email]);
      expect(rows).toEqual([{ role: 'client' }]);
    });

    it('lets exactly one of simultaneous registrations of one email win', async () => {
      const email = uniqueEmail('race');
      const results = await Promise.all(
        Array.from({ length: 5 }, () =>
          t.api.post('/api/auth/register').send(registration({ email })),
        ),
      );
      const statuses = results.map((r) => r.status).sort();
      expect(statuses).toEqual([201, 409, 409, 409, 409]);
      for (const r of results.filter((x) => x.status === 409)) {
        expect(r.body.code).toBe('EMAIL_TAKEN');
      }
    });

    it('stores the password as an argon2id hash', async () => {
      const user = await registerUser(t, 'client');
      const [row] = await t.dataSource.query('SELECT password_hash FROM users WHERE id = $1', [
        user.id,
      ]);
      expect(row.password_hash).toMatch(/^\$argon2id\$/);
      expect(row.password_hash).not.toContain(PASSWORD);
    });
  });

  describe('POST /api/auth/login', () => {
    it('returns the same body shape as registration', async () => {
      const user = await registerUser(t, 'psychologist');
      const res = await t.api
        .post('/api/auth/login')
        .send({ email: user.email, password: PASSWORD });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        accessToken: expect.any(String),
        tokenType: 'Bearer',
        expiresIn: t.config.jwt.expiresInSeconds,
        refreshToken: expect.stringMatching(/^[\w-]{43}$/),
        user: { id: user.id, email: user.email, name: user.name, role: 'psychologist' },
      });
      for (const key of keysOf(res.body)) {
        expect(key.toLowerCase()).not.toMatch(/password|hash/);
      }
      const me = await t.api
        .get('/api/auth/me')
        .set('Authorization', `Bearer ${res.body.accessToken}`);
      expect(me.status).toBe(200);
      expect(me.body.id).toBe(user.id);
    });

    it('accepts the email in another case', async () => {
      const user = await registerUser(t, 'client');
      const res = await t.api
        .post('/api/auth/login')
        .send({ email: user.email.toUpperCase(), password: PASSWORD });
      expect(res.status).toBe(200);
      expect(res.body.user.id).toBe(user.id);
    });

    it('answers an unknown email and a wrong password with the same 401', async () => {
      const user = await registerUser(t, 'client');
      const unknown = await t.api
        .post('/api/auth/login')
        .send({ email: uniqueEmail('nobody'), password: PASSWORD });
      const wrong = await t.api
        .post('/api/auth/login')
        .send({ email: user.email, password: `${PASSWORD}-not` });
      expectError(unknown, 401, 'UNAUTHENTICATED');
      expect(wrong.status).toBe(401);
      expect(wrong.body).toEqual(unknown.body);
      expect(unknown.body.error).toBe('Unauthorized');
    });

    it('refuses a login without a password as a validation error', async () => {
      const res = await t.api.post('/api/auth/login').send({ email: uniqueEmail() });
      expectError(res, 400, 'VALIDATION_FAILED');
      expect(res.body.details.map((d: { field: string }) => d.field)).toEqual(['password']);
    });
  });

  describe('GET /api/auth/me', () => {
    it('returns the user of the token', async () => {
      const user = await registerUser(t, 'client');
      const res = await t.api.get('/api/auth/me').set('Authorization', user.auth);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ id: user.id, email: user.email, name: user.name, role: 'client' });
    });

    it('accepts the scheme in any case', async () => {
      const user = await registerUser(t, 'client');
      const res = await t.api.get('/api/auth/me').set('Authorization', `bearer ${user.token}`);
      expect(res.status).toBe(200);
    });

    describe('refuses with 401 UNAUTHENTICATED', () => {
      let user: { id: string; token: string };
      // What the app demands (JWT_ISSUER / JWT_AUDIENCE as configured).
      let issuer: string;
      let audience: string;

      beforeAll(async () => {
        ({ issuer, audience } = t.config.jwt);
        user = await registerUser(t, 'client');
      });

      /** A token like the app's own, with `options` changed. */
      function sign(
        options: jwt.SignOptions = {},
        key: string = TEST_JWT_SECRET,
        claims: object = {},
      ) {
        return jwt.sign({ role: 'client', ...claims }, key, {
          algorithm: 'HS256',
          expiresIn: 600,
          issuer,
          audience,
          subject: user.id,
          ...options,
        });
      }

      async function expectRefused(authorization: string | undefined) {
        let req = t.api.get('/api/auth/me');
        if (authorization !== undefined) {
          req = req.set('Authorization', authorization);
        }
        const res = await req;
        expectError(res, 401, 'UNAUTHENTICATED');
        expect(res.body.error).toBe('Unauthorized');
        expect(res.body.user).toBeUndefined();
        expect(res.body.id).toBeUndefined();
      }

      it('a token signed here is accepted (the helpers are sound)', async () => {
        const res = await t.api.get('/api/auth/me').set('Authorization', `Bearer ${sign()}`);
        expect(res.status).toBe(200);
        expect(res.body.id).toBe(user.id);
      });

      it('without an Authorization header', () => expectRefused(undefined));

      it('with an empty Authorization header', () => expectRefused(''));

      it('with "Bearer" and no token', () => expectRefused('Bearer'));

      it('with a garbage token', () => expectRefused('Bearer not.a.jwt'));

      it('with random bytes as the token', () =>
        expectRefused(`Bearer ${randomBytes(64).toString('base64url')}`));

      it('with another scheme', async () => {
        const token = sign();
        await expectRefused(`Basic ${token}`);
        await expectRefused(`Token ${token}`);
        await expectRefused(token);
      });

      it('with an expired token', async () => {
        const now = Math.floor(Date.now() / 1000);
        const expired = jwt.sign(
          {
            sub: user.id,
            role: 'client',
            iat: now - 700,
            exp: now - 10,
            iss: issuer,
            aud: audience,
          },
          TEST_JWT_SECRET,
          { algorithm: 'HS256' },
        );
        await expectRefused(`Bearer ${expired}`);
        // The same token, still valid, is accepted: the expiry is what is refused.
        const fresh = jwt.sign(
          {
            sub: user.id,
            role: 'client',
            iat: now - 700,
            exp: now + 60,
            iss: issuer,
            aud: audience,
          },
          TEST_JWT_SECRET,
          { algorithm: 'HS256' },
        );
        const ok = await t.api.get('/api/auth/me').set('Authorization', `Bearer ${fresh}`);
        expect(ok.status).toBe(200);
      });

      it('with an unsigned token (alg: none)', async () => {
        const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString(
          'base64url',
        );
        const now = Math.floor(Date.now() / 1000);
        const payload = Buffer.from(
          JSON.stringify({
            sub: user.id,
            role: 'admin',
            iat: now,
            exp: now + 600,
            iss: issuer,
            aud: audience,
          }),
        ).toString('base64url');
        await expectRefused(`Bearer ${header}.${payload}.`);
        await expectRefused(`Bearer ${header}.${payload}`);
      });

      it('with a token signed with another key', () =>
        expectRefused(`Bearer ${sign({}, 'another-secret-that-is-also-32-bytes-long!!')}`));

      it('with a token for another audience', () =>
        expectRefused(`Bearer ${sign({ audience: 'someone-else' })}`));

      it('with a token from another issuer', () =>
        expectRefused(`Bearer ${sign({ issuer: 'someone-else' })}`));

      it('with a token without iss or aud', async () => {
        const now = Math.floor(Date.now() / 1000);
        const bare = jwt.sign(
          { sub: user.id, role: 'client', iat: now, exp: now + 600 },
          TEST_JWT_SECRET,
          {
            algorithm: 'HS256',
          },
        );
        await expectRefused(`Bearer ${bare}`);
      });

      it('with an HS512 token signed with the right key (the algorithm is pinned)', () =>
        expectRefused(`Bearer ${sign({ algorithm: 'HS512' })}`));

      it('with an HS384 token signed with the right key', () =>
        expectRefused(`Bearer ${sign({ algorithm: 'HS384' })}`));

      it('with a token whose signature was tampered with', async () => {
        const [h, p, s] = sign().split('.');
        const flipped = `${s.slice(0, -2)}${s.endsWith('AA') ? 'BB' : 'AA'}`;
        await expectRefused(`Bearer ${h}.${p}.${flipped}`);
      });

      it('with a payload changed after signing (role raised to admin)', async () => {
        const [h, p, s] = sign().split('.');
        const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
        const raised = Buffer.from(JSON.stringify({ ...claims, role: 'admin' })).toString(
          'base64url',
        );
        await expectRefused(`Bearer ${h}.${raised}.${s}`);
      });

      it('with a token that has no expiry', async () => {
        const now = Math.floor(Date.now() / 1000);
        const forever = jwt.sign({ sub: user.id, role: 'client', iat: now }, TEST_JWT_SECRET, {
          algorithm: 'HS256',
          issuer,
          audience,
        });
        await expectRefused(`Bearer ${forever}`);
      });

      it('with a token without a subject or with an unknown role', async () => {
        const now = Math.floor(Date.now() / 1000);
        const anonymous = jwt.sign({ role: 'client', iat: now, exp: now + 600 }, TEST_JWT_SECRET, {
          algorithm: 'HS256',
          issuer,
          audience,
        });
        await expectRefused(`Bearer ${anonymous}`);
        await expectRefused(`Bearer ${sign({}, TEST_JWT_SECRET, { role: 'superuser' })}`);
      });

      it('with a token whose subject is not a user id', () =>
        expectRefused(`Bearer ${sign({ subject: 'not-a-uuid' })}`));

      it('with a valid token of an account that no longer exists', () =>
        expectRefused(`Bearer ${sign({ subject: randomUUID() })}`));
    });
  });

  describe('the admin of ADMIN_EMAIL / ADMIN_PASSWORD', () => {
    it('can log in and has the role admin', async () => {
      const admin = await loginAdmin(t);
      expect(admin.role).toBe('admin');
      expect(admin.email).toBe(TEST_ADMIN.email);
      const me = await t.api.get('/api/auth/me').set('Authorization', admin.auth);
      expect(me.status).toBe(200);
      expect(me.body).toMatchObject({ email: TEST_ADMIN.email, role: 'admin' });
      const claims = jwt.decode(admin.token) as jwt.JwtPayload;
      expect(claims.role).toBe('admin');
    });

    it('is stored with an argon2id hash of its password', async () => {
      const rows = await t.dataSource.query(
        'SELECT role, password_hash FROM users WHERE email = $1',
        [TEST_ADMIN.email],
      );
      expect(rows).toHaveLength(1);
      expect(rows[0].role).toBe('admin');
      expect(rows[0].password_hash).toMatch(/^\$argon2id\$/);
      expect(rows[0].password_hash).not.toContain(TEST_ADMIN.password);
    });

    it('cannot log in with another password', async () => {
      const res = await t.api
        .post('/api/auth/login')
        .send({ email: TEST_ADMIN.email, password: `${TEST_ADMIN.password}x` });
      expectError(res, 401, 'UNAUTHENTICATED');
    });

    it('cannot be taken over by registering its email', async () => {
      const res = await t.api
        .post('/api/auth/register')
        .send(registration({ email: TEST_ADMIN.email.toUpperCase() }));
      expectError(res, 409, 'EMAIL_TAKEN');
    });
  });
});

describe('auth with ADMIN_EMAIL / ADMIN_PASSWORD changed between starts', () => {
  it('keeps one admin account and its latest password (start-up is idempotent)', async () => {
    const first = await startTestApp({
      env: { ADMIN_EMAIL: 'Root@Test.Local', ADMIN_PASSWORD: 'first-password' },
    });
    await first.close({ keepDatabase: true });
    const t = await startTestApp({
      db: first.db,
      env: { ADMIN_EMAIL: 'root@test.local', ADMIN_PASSWORD: 'second-password' },
    });
    try {
      const old = await t.api
        .post('/api/auth/login')
        .send({ email: 'root@test.local', password: 'first-password' });
      expect(old.status).toBe(401);
      const res = await t.api
        .post('/api/auth/login')
        .send({ email: 'ROOT@test.local', password: 'second-password' });
      expect(res.status).toBe(200);
      expect(res.body.user.role).toBe('admin');
      const rows = await t.dataSource.query(`SELECT email FROM users WHERE role = 'admin'`);
      expect(rows).toEqual([{ email: 'root@test.local' }]);
    } finally {
      await t.close();
    }
  });
});

describe('auth with JWT_ISSUER / JWT_AUDIENCE set', () => {
  it('issues tokens with them and refuses tokens with the defaults', async () => {
    const t = await startTestApp({
      env: { JWT_ISSUER: 'custom-issuer', JWT_AUDIENCE: 'custom-audience' },
    });
    try {
      const user = await registerUser(t, 'client');
      expect(jwt.decode(user.token)).toMatchObject({
        iss: 'custom-issuer',
        aud: 'custom-audience',
      });
      expect((await t.api.get('/api/auth/me').set('Authorization', user.auth)).status).toBe(200);

      const withDefaults = jwt.sign({ role: 'client' }, TEST_JWT_SECRET, {
        algorithm: 'HS256',
        expiresIn: 600,
        subject: user.id,
        issuer: 'session-video-api',
        audience: 'session-video-clients',
      });
      const res = await t.api.get('/api/auth/me').set('Authorization', `Bearer ${withDefaults}`);
      expect(res.status).toBe(401);
      expect(res.body.code).toBe('UNAUTHENTICATED');
    } finally {
      await t.close();
    }
  });
});
