import { bookSession, pay, type SessionJson } from '../factories/sessions.js';
import { registerUser, type TestUser } from '../factories/users.js';
import { expectError } from '../utils/expect-error.js';
import { at, DAY, SESSION_FIELDS, useSessionApp } from '../utils/session-rest.js';

describe('GET /api/sessions (listing)', () => {
  const app = useSessionApp();

  let c1: TestUser;
  let c2: TestUser;
  let p1: TestUser;
  let p2: TestUser;
  /** c1's sessions, newest scheduledStart first. */
  let c1Ids: string[];
  let p1Ids: string[];
  let cancelledId: string;
  let confirmedId: string;

  beforeAll(async () => {
    [c1, c2, p1, p2] = await Promise.all([
      registerUser(app.t, 'client'),
      registerUser(app.t, 'client'),
      registerUser(app.t, 'psychologist'),
      registerUser(app.t, 'psychologist'),
    ]);
    const mk = (client: TestUser, psychologist: TestUser, days: number) =>
      bookSession(
        app.t,
        { client, psychologist, admin: app.admin },
        { scheduledStart: at(days * DAY) },
      ).then((s) => s.id);
    // Booked out of order, so the order of the list comes from scheduledStart, not insertion.
    const a = await mk(c1, p1, 3);
    const b = await mk(c1, p1, 1);
    const c = await mk(c1, p2, 5);
    const d = await mk(c1, p1, 2);
    const e = await mk(c2, p1, 4);
    await mk(c2, p2, 6);
    c1Ids = [c, a, d, b];
    p1Ids = [e, a, d, b];
    cancelledId = d;
    confirmedId = a;
    const cancel = await app.t.api
      .post(`/api/sessions/${d}/cancel`)
      .set('Authorization', c1.auth)
      .send({});
    expect(cancel.status).toBe(200);
    await pay(app.t, { client: c1, psychologist: p1, admin: app.admin }, a);
  });

  const list = (who: TestUser, query = '') =>
    app.t.api.get(`/api/sessions${query}`).set('Authorization', who.auth);

  it('shows a client their own sessions only, newest scheduledStart first, page 1 of 20 by default', async () => {
    const res = await list(c1);
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(['items', 'limit', 'page', 'total']);
    expect(res.body.items.map((s: SessionJson) => s.id)).toEqual(c1Ids);
    expect(res.body).toMatchObject({ total: 4, page: 1, limit: 20 });
    for (const s of res.body.items) {
      expect(Object.keys(s).sort()).toEqual(SESSION_FIELDS);
      expect(s.clientId).toBe(c1.id);
      expect(s.client).toEqual({ id: c1.id, name: c1.name });
      expect(s.psychologist.name).toBe(s.psychologistId === p1.id ? p1.name : p2.name);
    }
  });

  it('shows a psychologist their own sessions only', async () => {
    const res = await list(p1);
    expect(res.status).toBe(200);
    expect(res.body.items.map((s: SessionJson) => s.id)).toEqual(p1Ids);
    expect(res.body.total).toBe(4);
    expect(res.body.items.every((s: SessionJson) => s.psychologistId === p1.id)).toBe(true);
  });

  it('shows a user with no sessions nothing', async () => {
    const lonely = await registerUser(app.t, 'client');
    const res = await list(lonely);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ items: [], total: 0, page: 1, limit: 20 });
  });

  it('shows an admin every session, newest scheduledStart first', async () => {
    const [{ n }] = await app.t.dataSource.query('SELECT count(*)::int AS n FROM sessions');
    const res = await list(app.admin, '?limit=100');
    expect(res.status).toBe(200);
    expect(res.body.total).toBe(n);
    expect(res.body.items).toHaveLength(Math.min(n, 100));
    const ids = res.body.items.map((s: SessionJson) => s.id);
    expect(ids).toEqual(expect.arrayContaining([...c1Ids, ...p1Ids]));
    const starts = res.body.items.map((s: SessionJson) => Date.parse(s.scheduledStart));
    expect(starts).toEqual([...starts].sort((x, y) => y - x));
    const clients = new Set(res.body.items.map((s: SessionJson) => s.clientId));
    expect(clients.has(c1.id) && clients.has(c2.id)).toBe(true);
  });

  it('filters by status', async () => {
    const cancelled = await list(c1, '?status=Cancelled');
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.items.map((s: SessionJson) => s.id)).toEqual([cancelledId]);
    expect(cancelled.body.total).toBe(1);

    const confirmed = await list(p1, '?status=Confirmed');
    expect(confirmed.body.items.map((s: SessionJson) => s.id)).toEqual([confirmedId]);

    const pending = await list(c1, '?status=Pending');
    expect(pending.body.items.map((s: SessionJson) => s.id)).toEqual(
      c1Ids.filter((id) => id !== cancelledId && id !== confirmedId),
    );
    expect(pending.body.items.every((s: SessionJson) => s.status === 'Pending')).toBe(true);

    const running = await list(c1, `?status=${encodeURIComponent('In Progress')}`);
    expect(running.status).toBe(200);
    expect(running.body).toMatchObject({ items: [], total: 0 });
  });

  it('pages with page and limit', async () => {
    const first = await list(c1, '?page=1&limit=3');
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ total: 4, page: 1, limit: 3 });
    expect(first.body.items.map((s: SessionJson) => s.id)).toEqual(c1Ids.slice(0, 3));

    const second = await list(c1, '?page=2&limit=3');
    expect(second.body).toMatchObject({ total: 4, page: 2, limit: 3 });
    expect(second.body.items.map((s: SessionJson) => s.id)).toEqual(c1Ids.slice(3));

    const beyond = await list(c1, '?page=3&limit=3');
    expect(beyond.status).toBe(200);
    expect(beyond.body).toEqual({ items: [], total: 4, page: 3, limit: 3 });

    const filtered = await list(c1, '?status=Pending&limit=1&page=2');
    expect(filtered.body).toMatchObject({ total: 2, page: 2, limit: 1 });
    expect(filtered.body.items).toHaveLength(1);
  });

  it('accepts limit 100', async () => {
    const res = await list(c1, '?limit=100');
    expect(res.status).toBe(200);
    expect(res.body.limit).toBe(100);
  });

  it.each([
    '?limit=101',
    '?limit=0',
    '?limit=-1',
    '?limit=abc',
    '?limit=2.5',
    '?page=0',
    '?page=-1',
    '?page=abc',
    '?page=1.5',
    '?status=Bogus',
    '?status=pending',
    '?sort=asc',
  ])('refuses %s with 400', async (query) => {
    expectError(await list(c1, query), 400, 'VALIDATION_FAILED');
  });

  it('needs authentication', async () => {
    expectError(await app.t.api.get('/api/sessions'), 401, 'UNAUTHENTICATED');
  });
});
