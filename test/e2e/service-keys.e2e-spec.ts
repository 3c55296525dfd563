import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Socket } from 'socket.io-client';
import request from 'supertest';
import { KEY_CACHE_TTL_MS } from '../../src/service-keys/service-key-verifier.js';
import { bookSession, createParty, type Party } from '../factories/sessions.js';
import { loginAdmin, type TestUser } from '../factories/users.js';
import { spawnApp, type AppProcess } from '../utils/app-process.js';
import { expectError } from '../utils/expect-error.js';
import { transition } from '../utils/session-rest.js';
import { connectRoom, eventually, handshakeOutcome, sleep } from '../utils/socket-client.js';
import { startTestApp, type TestApp } from '../utils/test-app.js';
import { createTestDatabase, type TestDatabase } from '../utils/test-database.js';
import { startWebhookReceiver, type WebhookReceiver } from '../utils/webhook-receiver.js';

/**
 * Service keys (PRODUCT.md section 12): created by an admin, shown once, stored as a hash, good
 * only on the routes of their scopes, refused once revoked, on every instance within the cache's
 * bound, and never on the WebSocket.
 */

interface CreatedKey {
  id: string;
  name: string;
  scopes: string[];
  key: string;
  createdAt: string;
}

const KEY_FORMAT = /^svc_[A-Za-z0-9_-]{43}$/;
const bearer = (key: string) => `Bearer ${key}`;

async function createKey(t: TestApp, admin: TestUser, scopes: string[], name = 'billing') {
  const res = await t.api
    .post('/api/service-keys')
    .set('Authorization', admin.auth)
    .send({ name, scopes });
  expect(res.status).toBe(201);
  return res.body as CreatedKey;
}

describe('service keys', () => {
  let t: TestApp;
  let admin: TestUser;
  let party: Party;
  let payKey: CreatedKey;
  let readKey: CreatedKey;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    t = await startTestApp({ env: { WEBHOOK_ALLOW_PRIVATE: 'true' } });
    party = await createParty(t);
    admin = party.admin;
    payKey = await createKey(t, admin, ['payments:write'], 'stripe-webhook-handler');
    readKey = await createKey(t, admin, ['sessions:read'], 'reporting');
  });
  afterEach(() => {
    sockets.splice(0).forEach((s) => s.disconnect());
  });
  afterAll(() => t.close());

  // One party books many sessions: each in a slot of its own (live bookings never overlap).
  let slots = 0;
  const book = () =>
    bookSession(t, party, {
      scheduledStart: new Date(Date.now() + 3600_000 + slots++ * 3600_000).toISOString(),
    });
  const history = async (id: string) =>
    (await t.api.get(`/api/sessions/${id}/history`).set('Authorization', admin.auth)).body;

  describe('creation and storage', () => {
    it('shows the key once, lists it without the key, and stores only its SHA-256', async () => {
      const created = await createKey(t, admin, ['payments:write', 'sessions:read'], 'both');
      expect(created).toEqual({
        id: expect.any(String),
        name: 'both',
        scopes: ['payments:write', 'sessions:read'],
        key: expect.stringMatching(KEY_FORMAT),
        createdAt: expect.any(String),
      });
      expect(Buffer.from(created.key.slice(4), 'base64url')).toHaveLength(32);

      const listed = await t.api.get('/api/service-keys').set('Authorization', admin.auth);
      expect(listed.status).toBe(200);
      expect(listed.body).toContainEqual({
        id: created.id,
        name: 'both',
        scopes: ['payments:write', 'sessions:read'],
        createdAt: created.createdAt,
        lastUsedAt: null,
      });
      expect(listed.text).not.toContain(created.key.slice(4));

      // Every column of every row, as text: neither the key nor its random bytes are there.
      const rows: { row: string; hash: string }[] = await t.dataSource.query(
        `SELECT to_jsonb(k)::text AS row, encode(k.key_hash, 'hex') AS hash FROM service_keys k`,
      );
      const all = rows.map((r) => r.row).join('\n');
      expect(all).not.toContain(created.key.slice(4));
      expect(all).not.toContain(Buffer.from(created.key.slice(4), 'base64url').toString('hex'));
      expect(all).not.toContain(Buffer.from(created.key.slice(4), 'base64url').toString('base64'));
      expect(rows.map((r) => r.hash)).toContain(
        createHash('sha256').update(created.key).digest('hex'),
      );
    });

    it('gives every key its own random text', async () => {
      const keys = await Promise.all([1, 2, 3].map(() => createKey(t, admin, ['sessions:read'])));
      expect(new Set(keys.map((k) => k.key)).size).toBe(3);
    });

    it.each([
      ['an unknown scope', { name: 'x', scopes: ['sessions:write'] }],
      ['no scope', { name: 'x', scopes: [] }],
      ['scopes not a list', { name: 'x', scopes: 'payments:write' }],
      ['a repeated scope', { name: 'x', scopes: ['sessions:read', 'sessions:read'] }],
      ['an empty name', { name: '', scopes: ['sessions:read'] }],
      ['a blank name', { name: '   ', scopes: ['sessions:read'] }],
      ['a name over 100 characters', { name: 'n'.repeat(101), scopes: ['sessions:read'] }],
      ['no name', { scopes: ['sessions:read'] }],
    ])('refuses %s with 400 VALIDATION_FAILED', async (_label, body) => {
      const res = await t.api.post('/api/service-keys').set('Authorization', admin.auth).send(body);
      expectError(res, 400, 'VALIDATION_FAILED');
    });

    it('accepts a name of exactly 100 characters', async () => {
      expect((await createKey(t, admin, ['sessions:read'], 'n'.repeat(100))).name).toHaveLength(
        100,
      );
    });

    it('lets only an admin manage keys', async () => {
      for (const who of [party.client, party.psychologist]) {
        const create = await t.api
          .post('/api/service-keys')
          .set('Authorization', who.auth)
          .send({ name: 'mine', scopes: ['payments:write'] });
        expectError(create, 403, 'FORBIDDEN');
        expectError(
          await t.api.get('/api/service-keys').set('Authorization', who.auth),
          403,
          'FORBIDDEN',
        );
        expectError(
          await t.api.delete(`/api/service-keys/${readKey.id}`).set('Authorization', who.auth),
          403,
          'FORBIDDEN',
        );
      }
      expectError(await t.api.get('/api/service-keys'), 401, 'UNAUTHENTICATED');
      // Nothing was revoked by the refused calls.
      const res = await t.api
        .get(`/api/sessions/${(await book()).id}`)
        .set('Authorization', bearer(readKey.key));
      expect(res.status).toBe(200);
    });
  });

  describe('use', () => {
    let receiver: WebhookReceiver;
    beforeAll(async () => {
      receiver = await startWebhookReceiver();
      const res = await t.api
        .post('/api/webhooks')
        .set('Authorization', admin.auth)
        .send({ url: receiver.url, events: ['session.status_changed'] });
      expect(res.status).toBe(201);
    });
    afterAll(() => receiver.close());

    it('confirms a payment; the history and the webhook name the key, not a person', async () => {
      const session = await book();
      const res = await t.api
        .post(`/api/sessions/${session.id}/payment`)
        .set('Authorization', bearer(payKey.key))
        .send({ paymentStatus: 'Paid' });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ status: 'Confirmed', paymentStatus: 'Paid' });
      expect(await history(session.id)).toEqual([
        transition('Pending', 'Confirmed', 'payment', null, payKey.id),
      ]);
      const got = await eventually(() =>
        Promise.resolve(receiver.accepted().find((r) => r.json.data.sessionId === session.id)),
      );
      expect(got.json.data).toEqual({
        sessionId: session.id,
        from: 'Pending',
        to: 'Confirmed',
        cause: 'payment',
        actorId: null,
        actorKeyId: payKey.id,
        at: expect.any(String),
      });
      // A person's change still names the person, and no key.
      const other = await book();
      await t.api
        .post(`/api/sessions/${other.id}/payment`)
        .set('Authorization', admin.auth)
        .send({ paymentStatus: 'Paid' })
        .expect(200);
      expect(await history(other.id)).toEqual([
        transition('Pending', 'Confirmed', 'payment', admin.id, null),
      ]);
    });

    it('records the last use, to within a minute', async () => {
      const key = await createKey(t, admin, ['sessions:read']);
      const session = await book();
      const before = Date.now();
      await t.api
        .get(`/api/sessions/${session.id}`)
        .set('Authorization', bearer(key.key))
        .expect(200);
      const listed = (await t.api.get('/api/service-keys').set('Authorization', admin.auth)).body;
      const lastUsedAt = listed.find((k: { id: string }) => k.id === key.id).lastUsedAt;
      expect(Math.abs(new Date(lastUsedAt).getTime() - before)).toBeLessThan(5000);
    });

    it('reads a session, its history and its attendance with sessions:read', async () => {
      const session = await book();
      for (const path of ['', '/history', '/attendance']) {
        const res = await t.api
          .get(`/api/sessions/${session.id}${path}`)
          .set('Authorization', bearer(readKey.key));
        expect({ path, status: res.status }).toEqual({ path, status: 200 });
      }
    });
  });

  describe('scopes', () => {
    let id: string;
    beforeAll(async () => {
      id = (await book()).id;
    });

    it('refuses a sessions:read key on the payment route, leaving the session as it was', async () => {
      const res = await t.api
        .post(`/api/sessions/${id}/payment`)
        .set('Authorization', bearer(readKey.key))
        .send({ paymentStatus: 'Paid' });
      expectError(res, 403, 'FORBIDDEN');
      const now = await t.api.get(`/api/sessions/${id}`).set('Authorization', admin.auth);
      expect(now.body).toMatchObject({ status: 'Pending', paymentStatus: 'Pending' });
      expect(await history(id)).toEqual([]);
    });

    it.each(['', '/history', '/attendance'])(
      'refuses a payments:write key on GET /api/sessions/:id%s',
      async (path) => {
        const res = await t.api
          .get(`/api/sessions/${id}${path}`)
          .set('Authorization', bearer(payKey.key));
        expectError(res, 403, 'FORBIDDEN');
      },
    );

    const elsewhere: Array<{ method: string; path: string; body?: object }> = [
      { method: 'GET', path: '/api/sessions' },
      { method: 'GET', path: '/api/auth/me' },
      {
        method: 'POST',
        path: '/api/sessions',
        // A well-formed booking (a start within the year ahead), so only the key is wrong.
        body: {
          psychologistId: randomUUID(),
          scheduledStart: new Date(Date.now() + 7 * 86_400_000).toISOString(),
        },
      },
      { method: 'GET', path: '/api/service-keys' },
      {
        method: 'POST',
        path: '/api/service-keys',
        body: { name: 'escalate', scopes: ['payments:write'] },
      },
      { method: 'GET', path: '/api/webhooks' },
      { method: 'POST', path: '/api/sessions/{id}/cancel', body: {} },
      { method: 'POST', path: '/api/video-calls/start/{id}' },
      { method: 'GET', path: '/api/video-calls/session/{id}' },
    ];
    it.each(elsewhere)(
      'refuses any key on $method $path with 403 FORBIDDEN',
      async ({ method, path, body }) => {
        for (const key of [payKey, readKey]) {
          const url = path.replace('{id}', id);
          const req = method === 'GET' ? t.api.get(url) : t.api.post(url).send(body ?? {});
          expectError(await req.set('Authorization', bearer(key.key)), 403, 'FORBIDDEN');
        }
      },
    );

    it('answers a key outside its scope 403 whether the session exists or not, after the 400 checks', async () => {
      const pay = (sessionId: string, body: object) =>
        t.api
          .post(`/api/sessions/${sessionId}/payment`)
          .set('Authorization', bearer(readKey.key))
          .send(body);
      expectError(await pay(randomUUID(), { paymentStatus: 'Paid' }), 403, 'FORBIDDEN');
      expectError(await pay('not-a-uuid', { paymentStatus: 'Paid' }), 400, 'VALIDATION_FAILED');
      expectError(await pay(id, { paymentStatus: 'Free' }), 400, 'VALIDATION_FAILED');
      // In scope, the contract's order as for an admin: unknown id 404.
      expectError(
        await t.api
          .post(`/api/sessions/${randomUUID()}/payment`)
          .set('Authorization', bearer(payKey.key))
          .send({ paymentStatus: 'Paid' }),
        404,
        'NOT_FOUND',
      );
    });
  });

  describe('refusals', () => {
    it.each([
      ['an unknown key', () => `svc_${randomBytes(32).toString('base64url')}`],
      ['a malformed key', () => 'svc_short'],
      [
        'a key with one character changed',
        () => payKey.key.slice(0, -1) + (payKey.key.endsWith('A') ? 'B' : 'A'),
      ],
    ])('answers %s with 401 UNAUTHENTICATED', async (_label, key) => {
      const res = await t.api.get('/api/auth/me').set('Authorization', bearer(key()));
      expectError(res, 401, 'UNAUTHENTICATED');
    });

    it('refuses a revoked key at once on the instance that revoked it', async () => {
      const key = await createKey(t, admin, ['sessions:read']);
      const { id } = await book();
      const read = () => t.api.get(`/api/sessions/${id}`).set('Authorization', bearer(key.key));
      expect((await read()).status).toBe(200); // now cached
      const revoked = await t.api
        .delete(`/api/service-keys/${key.id}`)
        .set('Authorization', admin.auth);
      expect(revoked.status).toBe(204);
      expectError(await read(), 401, 'UNAUTHENTICATED');
      const listed = (await t.api.get('/api/service-keys').set('Authorization', admin.auth)).body;
      expect(listed.map((k: { id: string }) => k.id)).not.toContain(key.id);
      // Revoking again, or an unknown id: 404; not an id: 400.
      const again = t.api.delete(`/api/service-keys/${key.id}`).set('Authorization', admin.auth);
      expectError(await again, 404, 'NOT_FOUND');
      expectError(
        await t.api.delete(`/api/service-keys/${randomUUID()}`).set('Authorization', admin.auth),
        404,
        'NOT_FOUND',
      );
      expectError(
        await t.api.delete('/api/service-keys/not-a-uuid').set('Authorization', admin.auth),
        400,
        'VALIDATION_FAILED',
      );
    });

    it.each([
      ['bare', (key: string) => key],
      ['as a Bearer header value', (key: string) => `Bearer ${key}`],
    ])('refuses a key on the WebSocket handshake (%s)', async (_label, as) => {
      const socket = connectRoom(t.url, as(payKey.key));
      sockets.push(socket);
      expect(await handshakeOutcome(socket)).toEqual({
        message: 'UNAUTHENTICATED',
        data: { code: 'UNAUTHENTICATED' },
      });
    });
  });
});

describe('service keys against guessing', () => {
  const LIMIT = 3;
  let t: TestApp;
  let admin: TestUser;

  beforeAll(async () => {
    t = await startTestApp({ env: { AUTH_RATE_LIMIT: String(LIMIT) } });
    admin = await loginAdmin(t);
  });
  afterAll(() => t.close());

  it('answers 429 RATE_LIMITED with Retry-After once an address has spent its failed attempts', async () => {
    const guess = () =>
      t.api
        .get('/api/auth/me')
        .set('Authorization', bearer(`svc_${randomBytes(32).toString('base64url')}`));
    for (let i = 0; i < LIMIT; i++) {
      expectError(await guess(), 401, 'UNAUTHENTICATED');
    }
    const refused = await guess();
    expectError(refused, 429, 'RATE_LIMITED');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    // The address's users are not locked out: access tokens are not service keys.
    expect((await t.api.get('/api/auth/me').set('Authorization', admin.auth)).status).toBe(200);
  });
});

describe('service key revocation across instances', () => {
  let db: TestDatabase;
  let a: TestApp;
  let b: AppProcess;

  beforeAll(async () => {
    db = await createTestDatabase();
    a = await startTestApp({ db });
    b = await spawnApp({ DATABASE_URL: db.url });
  }, 90_000);
  afterAll(async () => {
    b?.kill('SIGKILL');
    await b?.exited;
    await a?.close();
  });

  it(`refuses a key revoked on one instance on the other within ${KEY_CACHE_TTL_MS / 1000} s`, async () => {
    const party = await createParty(a);
    const key = await createKey(a, party.admin, ['sessions:read']);
    const { id } = await bookSession(a, party);
    const viaB = () =>
      request(b.url).get(`/api/sessions/${id}`).set('Authorization', bearer(key.key));
    expect((await viaB()).status).toBe(200);

    const revoked = await a.api
      .delete(`/api/service-keys/${key.id}`)
      .set('Authorization', party.admin.auth);
    expect(revoked.status).toBe(204);
    const revokedAt = Date.now();
    expectError(
      await a.api.get(`/api/sessions/${id}`).set('Authorization', bearer(key.key)),
      401,
      'UNAUTHENTICATED',
    );
    // B read the key a moment ago and trusts it without asking the database...
    expect((await viaB()).status).toBe(200);
    // ...until its entry runs out.
    let refused;
    for (;;) {
      const res = await viaB();
      if (res.status !== 200) {
        refused = res;
        break;
      }
      expect(Date.now() - revokedAt).toBeLessThan(KEY_CACHE_TTL_MS + 1000);
      await sleep(100);
    }
    expectError(refused, 401, 'UNAUTHENTICATED');
    expect(Date.now() - revokedAt).toBeLessThan(KEY_CACHE_TTL_MS + 1000);
    expectError(await viaB(), 401, 'UNAUTHENTICATED');
  });
});
