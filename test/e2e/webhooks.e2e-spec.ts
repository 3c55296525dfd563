import { Client } from 'pg';
import { Webhook } from 'standardwebhooks';
import request from 'supertest';
import { bookSession, confirmedSession, createParty, pay } from '../factories/sessions.js';
import { loginAdmin, registerUser, type TestUser } from '../factories/users.js';
import { spawnApp, type AppProcess } from '../utils/app-process.js';
import { expectError } from '../utils/expect-error.js';
import { connectAs, eventually, request as emit, sleep } from '../utils/socket-client.js';
import { startTestApp, type TestApp } from '../utils/test-app.js';
import { createTestDatabase } from '../utils/test-database.js';
import { startWebhookReceiver, type WebhookReceiver } from '../utils/webhook-receiver.js';

/** `eventually` for a condition that needs no I/O. */
const until = <T>(
  check: () => T | undefined | null | false,
  timeoutMs?: number,
  everyMs?: number,
) => eventually(() => Promise.resolve(check()), timeoutMs, everyMs);

const ALL_EVENTS = ['session.status_changed', 'participant.joined', 'participant.left'];

interface Delivery {
  id: string;
  eventId: string;
  type: string;
  state: string;
  attempts: { at: string; responseStatus: number | null; error: string | null }[];
}

describe('webhooks', () => {
  let t: TestApp;
  let admin: TestUser;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    t = await startTestApp({ env: { WEBHOOK_ALLOW_PRIVATE: 'true' } });
    admin = await loginAdmin(t);
  });
  beforeEach(async () => {
    receiver = await startWebhookReceiver();
  });
  afterEach(async () => {
    // Endpoints of one test must not receive the next test's events.
    await t.dataSource.query(`DELETE FROM webhook_endpoints`);
    await receiver.close();
  });
  afterAll(() => t.close());

  const createWebhook = (who: TestUser, body: unknown, app: TestApp = t) =>
    app.api
      .post('/api/webhooks')
      .set('Authorization', who.auth)
      .send(body as object);
  const deliveries = async (webhookId: string): Promise<Delivery[]> => {
    const res = await t.api
      .get(`/api/webhooks/${webhookId}/deliveries`)
      .set('Authorization', admin.auth);
    expect(res.status).toBe(200);
    return res.body;
  };

  describe('management', () => {
    it('creates an endpoint with a secret shown once, lists it without, and deletes it', async () => {
      const created = await createWebhook(admin, { url: receiver.url, events: ALL_EVENTS });
      expect(created.status).toBe(201);
      expect(created.body).toEqual({
        id: expect.any(String),
        url: receiver.url,
        events: ALL_EVENTS,
        secret: expect.stringMatching(/^whsec_[A-Za-z0-9+/]+={0,2}$/),
        createdAt: expect.any(String),
      });
      const keyBytes = Buffer.from(created.body.secret.slice('whsec_'.length), 'base64').length;
      expect(keyBytes).toBeGreaterThanOrEqual(24);
      expect(keyBytes).toBeLessThanOrEqual(64);

      const listed = await t.api.get('/api/webhooks').set('Authorization', admin.auth);
      expect(listed.status).toBe(200);
      expect(listed.body).toEqual([
        {
          id: created.body.id,
          url: receiver.url,
          events: ALL_EVENTS,
          createdAt: created.body.createdAt,
        },
      ]);
      expect(await deliveries(created.body.id)).toEqual([]);

      const removed = await t.api
        .delete(`/api/webhooks/${created.body.id}`)
        .set('Authorization', admin.auth);
      expect(removed.status).toBe(204);
      expect((await t.api.get('/api/webhooks').set('Authorization', admin.auth)).body).toEqual([]);
      expectError(
        await t.api.delete(`/api/webhooks/${created.body.id}`).set('Authorization', admin.auth),
        404,
        'NOT_FOUND',
      );
      expectError(
        await t.api
          .get(`/api/webhooks/${created.body.id}/deliveries`)
          .set('Authorization', admin.auth),
        404,
        'NOT_FOUND',
      );
    });

    it('is for admins, and refuses bad urls and unknown events', async () => {
      const client = await registerUser(t, 'client');
      expectError(
        await createWebhook(client, { url: receiver.url, events: ALL_EVENTS }),
        403,
        'FORBIDDEN',
      );
      expectError(
        await t.api.get('/api/webhooks').set('Authorization', client.auth),
        403,
        'FORBIDDEN',
      );
      expectError(await t.api.get('/api/webhooks'), 401, 'UNAUTHENTICATED');
      expectError(
        await createWebhook(admin, { url: 'ftp://127.0.0.1/x', events: ALL_EVENTS }),
        400,
        'VALIDATION_FAILED',
      );
      expectError(
        await createWebhook(admin, { url: 'not a url', events: ALL_EVENTS }),
        400,
        'VALIDATION_FAILED',
      );
      expectError(
        await createWebhook(admin, { url: receiver.url, events: ['session.deleted'] }),
        400,
        'VALIDATION_FAILED',
      );
      expectError(
        await createWebhook(admin, { url: receiver.url, events: [] }),
        400,
        'VALIDATION_FAILED',
      );
      expectError(
        await t.api.delete('/api/webhooks/not-a-uuid').set('Authorization', admin.auth),
        400,
        'VALIDATION_FAILED',
      );
    });
  });

  it('signs each event the Standard Webhooks way, verifiable by its published library', async () => {
    const created = await createWebhook(admin, {
      url: receiver.url,
      events: ['session.status_changed'],
    });
    const party = await createParty(t);
    const session = await bookSession(t, party);
    await pay(t, party, session.id);

    const [got] = await until(() => (receiver.accepted().length ? receiver.accepted() : undefined));
    const verifier = new Webhook(created.body.secret);
    expect(
      verifier.verify(got.body, {
        'webhook-id': String(got.headers['webhook-id']),
        'webhook-timestamp': String(got.headers['webhook-timestamp']),
        'webhook-signature': String(got.headers['webhook-signature']),
      }),
    ).toEqual(got.json);
    expect(got.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+={0,2}$/);
    expect(Math.abs(Number(got.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(
      120,
    );
    expect(got.json).toEqual({
      id: got.headers['webhook-id'],
      type: 'session.status_changed',
      timestamp: expect.any(String),
      data: {
        sessionId: session.id,
        from: 'Pending',
        to: 'Confirmed',
        cause: 'payment',
        actorId: party.admin.id,
        actorKeyId: null,
        at: expect.any(String),
      },
    });
    // A tampered body or another secret does not verify.
    expect(() =>
      verifier.verify(got.body.replace('Confirmed', 'Cancelled'), {
        'webhook-id': String(got.headers['webhook-id']),
        'webhook-timestamp': String(got.headers['webhook-timestamp']),
        'webhook-signature': String(got.headers['webhook-signature']),
      }),
    ).toThrow();
    const other = await createWebhook(admin, { url: receiver.url, events: ['participant.left'] });
    expect(() =>
      new Webhook(other.body.secret).verify(got.body, {
        'webhook-id': String(got.headers['webhook-id']),
        'webhook-timestamp': String(got.headers['webhook-timestamp']),
        'webhook-signature': String(got.headers['webhook-signature']),
      }),
    ).toThrow();
  });

  it('retries while the receiver is down and then delivers every event once, in order per session', async () => {
    const created = await createWebhook(admin, { url: receiver.url, events: ALL_EVENTS });
    receiver.respond = () => 503;
    const a = await confirmedSession(t);
    const b = await confirmedSession(t);
    // Session a: Pending->Confirmed (already written), joined, left, cancelled.
    const socket = await connectAs(t.url, a.party.client.token);
    expect(await emit(socket, 'join-room', { sessionId: a.id })).toMatchObject({ ok: true });
    expect(await emit(socket, 'leave-room', { sessionId: a.id })).toEqual({ ok: true });
    socket.disconnect();
    const cancel = await t.api
      .post(`/api/sessions/${b.id}/cancel`)
      .set('Authorization', b.party.client.auth)
      .send({});
    expect(cancel.status).toBe(200);

    // Down: only each session's first event is tried; the later ones wait behind it.
    await until(() => {
      const ids = new Set(receiver.received.map((r) => r.json.data.sessionId));
      return ids.has(a.id) && ids.has(b.id);
    });
    await sleep(1000);
    const triedWhileDown = receiver.received.map((r) => `${r.json.data.sessionId}:${r.json.type}`);
    expect(new Set(triedWhileDown)).toEqual(
      new Set([`${a.id}:session.status_changed`, `${b.id}:session.status_changed`]),
    );
    expect(receiver.received.every((r) => r.json.data.to === 'Confirmed')).toBe(true);

    // Up again; the backoff is shortened by moving the next attempts to now.
    receiver.respond = () => 200;
    await t.dataSource.query(
      `UPDATE webhook_deliveries SET next_attempt_at = now() WHERE state = 'pending'`,
    );
    const all = await eventually(async () => {
      const list = await deliveries(created.body.id);
      return list.length === 5 && list.every((d) => d.state === 'delivered') ? list : undefined;
    });

    const bySession = (id: string) =>
      receiver
        .accepted()
        .filter((r) => r.json.data.sessionId === id)
        .map((r) =>
          r.json.type === 'session.status_changed'
            ? `${r.json.data.from}->${r.json.data.to}`
            : r.json.type,
        );
    expect(bySession(a.id)).toEqual([
      'Pending->Confirmed',
      'participant.joined',
      'participant.left',
    ]);
    expect(bySession(b.id)).toEqual(['Pending->Confirmed', 'Confirmed->Cancelled']);
    // Exactly one successful delivery per event, and every retry carried the same id.
    const acceptedIds = receiver.accepted().map((r) => r.json.id);
    expect(new Set(acceptedIds).size).toBe(5);
    expect(acceptedIds).toHaveLength(5);
    for (const d of all) {
      expect(d.attempts.filter((x) => x.responseStatus === 200)).toHaveLength(1);
      expect(d.attempts.at(-1)).toMatchObject({ responseStatus: 200, error: null });
      const sent = receiver.received.filter((r) => r.headers['webhook-id'] === d.eventId);
      expect(sent).toHaveLength(d.attempts.length);
      sent.forEach((r) => expect(r.json.id).toBe(d.eventId));
    }
    const retried = all.find((d) => d.attempts.length > 1);
    expect(retried?.attempts[0]).toMatchObject({ responseStatus: 503, error: expect.any(String) });
    // Newest first.
    expect(all.map((d) => d.type)[0]).toBe('session.status_changed');
    const [{ next }] = await t.dataSource.query(
      `SELECT count(*)::int AS next FROM webhook_deliveries WHERE state <> 'delivered'`,
    );
    expect(next).toBe(0);
  });

  it('backs off exponentially after a failure', async () => {
    await createWebhook(admin, { url: receiver.url, events: ['session.status_changed'] });
    receiver.respond = () => 500;
    const { id } = await confirmedSession(t);
    const after = (attempts: number) =>
      eventually(async () => {
        const [row]: { attempt_count: number; wait: number }[] = await t.dataSource.query(
          `SELECT attempt_count, extract(epoch FROM next_attempt_at - now())::float AS wait
             FROM webhook_deliveries WHERE session_id = $1`,
          [id],
        );
        return row?.attempt_count === attempts ? row : undefined;
      });
    const first = await after(1);
    expect(first.wait).toBeGreaterThan(0);
    expect(first.wait).toBeLessThanOrEqual(5);
    await t.dataSource.query(
      `UPDATE webhook_deliveries SET next_attempt_at = now() WHERE session_id = $1`,
      [id],
    );
    const second = await after(2);
    expect(second.wait).toBeGreaterThan(5);
    expect(second.wait).toBeLessThanOrEqual(15);
    expect(receiver.received).toHaveLength(2);
  });

  it('purges events older than WEBHOOK_RETENTION_DAYS with nothing left to send', async () => {
    const created = await createWebhook(admin, { url: receiver.url, events: ALL_EVENTS });
    const { id } = await confirmedSession(t);
    await eventually(async () => {
      const list = await deliveries(created.body.id);
      return list.length === 1 && list[0].state === 'delivered';
    });
    // A second event whose delivery stays pending: its receiver is gone.
    await t.dataSource.query(`DELETE FROM webhook_endpoints`);
    const again = await createWebhook(admin, { url: receiver.url, events: ALL_EVENTS });
    await receiver.close();
    const party = await createParty(t);
    const other = await bookSession(t, party);
    await pay(t, party, other.id);
    const [pending] = await t.dataSource.query(
      `SELECT event_id FROM webhook_deliveries WHERE session_id = $1 AND state = 'pending'`,
      [other.id],
    );
    expect(pending).toBeDefined();
    const [delivered] = await t.dataSource.query(
      `SELECT id FROM webhook_events WHERE session_id = $1`,
      [id],
    );
    await t.dataSource.query(
      `UPDATE webhook_events SET created_at = now() - interval '31 days' WHERE id = ANY($1)`,
      [[delivered.id, pending.event_id]],
    );
    const ids = async () =>
      (await t.dataSource.query(`SELECT id FROM webhook_events`)).map((r: { id: string }) => r.id);
    const before: string[] = await ids();
    const { WebhookDispatcher } = await import('../../src/webhooks/webhook-dispatcher.service.js');
    expect(await t.app.get(WebhookDispatcher).purgeExpired()).toBe(1);
    // Only the old event with nothing left to send is gone (with its delivery and attempts); the
    // old pending one and every recent one (earlier tests') stay.
    expect((await ids()).sort()).toEqual(before.filter((e) => e !== delivered.id).sort());
    expect(before).toContain(pending.event_id);
    expect(
      await t.dataSource.query(
        `SELECT 1 FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id
          WHERE d.event_id = $1`,
        [delivered.id],
      ),
    ).toEqual([]);
    expect(again.status).toBe(201);
    receiver = await startWebhookReceiver();
  });

  it('sends each delivery once when two instances dispatch together', async () => {
    const second = await startTestApp({ db: t.db, env: { WEBHOOK_ALLOW_PRIVATE: 'true' } });
    try {
      const created = await createWebhook(admin, { url: receiver.url, events: ALL_EVENTS });
      const sessions = await Promise.all(
        [0, 1, 2, 3].map((i) => confirmedSession(i % 2 ? second : t)),
      );
      await Promise.all(
        sessions.map((s) =>
          t.api.post(`/api/video-calls/start/${s.id}`).set('Authorization', s.party.client.auth),
        ),
      );
      // Per session: Pending->Confirmed, Confirmed->In Progress.
      const all = await eventually(async () => {
        const list = await deliveries(created.body.id);
        return list.length === 8 && list.every((d) => d.state === 'delivered') ? list : undefined;
      });
      expect(receiver.received).toHaveLength(8);
      expect(new Set(receiver.received.map((r) => r.json.id)).size).toBe(8);
      all.forEach((d) => expect(d.attempts).toHaveLength(1));
    } finally {
      await second.close({ keepDatabase: true });
    }
  });

  describe('private targets (WEBHOOK_ALLOW_PRIVATE=false)', () => {
    let strict: TestApp;
    beforeAll(async () => {
      strict = await startTestApp();
    });
    afterAll(() => strict.close());

    it('refuses loopback targets at creation', async () => {
      const strictAdmin = await loginAdmin(strict);
      for (const url of [
        receiver.url,
        'http://localhost:9/hooks',
        'http://[::1]:9/hooks',
        'http://[::ffff:127.0.0.1]:9/hooks',
        'https://127.1.2.3/hooks',
      ]) {
        const res = await createWebhook(strictAdmin, { url, events: ALL_EVENTS }, strict);
        expectError(res, 400, 'VALIDATION_FAILED');
      }
      const [{ n }] = await strict.dataSource.query(
        `SELECT count(*)::int AS n FROM webhook_endpoints`,
      );
      expect(n).toBe(0);
    });

    it('re-checks the address when delivering, and sends nothing there', async () => {
      // An endpoint that got in anyway (e.g. its name resolved elsewhere at creation).
      const [{ id: webhookId }] = await strict.dataSource.query(
        `INSERT INTO webhook_endpoints (url, events, secret) VALUES ($1, $2, 'whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA') RETURNING id`,
        [receiver.url.replace('127.0.0.1', 'localhost'), ['session.status_changed']],
      );
      await confirmedSession(strict);
      const attempt = await eventually(async () => {
        const rows: { error: string }[] = await strict.dataSource.query(
          `SELECT a.error FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id
            WHERE d.endpoint_id = $1`,
          [webhookId],
        );
        return rows[0];
      });
      expect(attempt.error).toMatch(/private or loopback/);
      expect(receiver.received).toHaveLength(0);
    });
  });
});

describe('webhooks when an instance dies mid-delivery', () => {
  it('delivers the committed event after a restart', async () => {
    const receiver = await startWebhookReceiver();
    const db = await createTestDatabase();
    const env = { DATABASE_URL: db.url, WEBHOOK_ALLOW_PRIVATE: 'true' };
    let a: AppProcess | undefined;
    let b: AppProcess | undefined;
    const pg = new Client({ connectionString: db.url });
    try {
      a = await spawnApp(env);
      const viaA = { api: request(a.url) } as unknown as TestApp;
      const admin = await loginAdmin(viaA);
      const created = await viaA.api
        .post('/api/webhooks')
        .set('Authorization', admin.auth)
        .send({ url: receiver.url, events: ['session.status_changed'] });
      expect(created.status).toBe(201);
      // The first send is held open: the instance dies after the commit, before any answer.
      receiver.respond = () => 'hang';
      const { id } = await confirmedSession(viaA);
      await until(() => receiver.received.length === 1, 15_000);
      a.kill('SIGKILL');
      await a.exited;

      receiver.respond = () => 200;
      b = await spawnApp(env);
      await until(() => receiver.accepted().length === 1, 20_000, 200);
      const got = receiver.accepted()[0];
      expect(got.json.data).toMatchObject({ sessionId: id, to: 'Confirmed', cause: 'payment' });
      expect(got.headers['webhook-id']).toBe(receiver.received[0].headers['webhook-id']);
      await pg.connect();
      const rows: { state: string; attempts: number }[] = await pg
        .query(
          `SELECT d.state, (SELECT count(*)::int FROM webhook_attempts a WHERE a.delivery_id = d.id) AS attempts
           FROM webhook_deliveries d`,
        )
        .then((r) => r.rows);
      // The killed attempt left no record; the one after the restart is the one success.
      expect(rows).toEqual([{ state: 'delivered', attempts: 1 }]);
    } finally {
      a?.kill('SIGKILL');
      b?.kill('SIGKILL');
      await Promise.all([a?.exited, b?.exited]);
      await pg.end().catch(() => undefined);
      await receiver.close();
      await db.drop();
    }
  }, 90_000);
});
