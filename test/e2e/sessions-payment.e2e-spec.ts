import { randomUUID } from 'node:crypto';
import { bookSession, confirmedSession, createParty, pay } from '../factories/sessions.js';
import { type TestUser } from '../factories/users.js';
import { expectError } from '../utils/expect-error.js';
import { SESSION_FIELDS, transition, useSessionApp } from '../utils/session-rest.js';

describe('POST /api/sessions/:id/payment', () => {
  const app = useSessionApp();

  const paymentBy = (who: TestUser, id: string, body: unknown) =>
    app.t.api
      .post(`/api/sessions/${id}/payment`)
      .set('Authorization', who.auth)
      .send(body as object);

  it('is admin only: participants get 403 FORBIDDEN and nothing changes', async () => {
    const party = await createParty(app.t);
    const session = await bookSession(app.t, party);
    for (const who of [party.client, party.psychologist]) {
      expectError(await paymentBy(who, session.id, { paymentStatus: 'Paid' }), 403, 'FORBIDDEN');
    }
    const [row] = await app.t.dataSource.query(
      'SELECT status, payment_status FROM sessions WHERE id = $1',
      [session.id],
    );
    expect(row).toEqual({ status: 'Pending', payment_status: 'Pending' });
    expect(await app.history(session.id)).toEqual([]);
  });

  it.each(['Paid', 'Confirmed', 'Verified'])(
    '%s moves Pending to Confirmed with one history row by the admin',
    async (paymentStatus) => {
      const party = await createParty(app.t);
      const session = await bookSession(app.t, party);
      const res = await paymentBy(app.admin, session.id, { paymentStatus });
      expect(res.status).toBe(200);
      expect(Object.keys(res.body).sort()).toEqual(SESSION_FIELDS);
      expect(res.body).toMatchObject({ id: session.id, status: 'Confirmed', paymentStatus });
      const rows = await app.history(session.id);
      expect(rows).toEqual([transition('Pending', 'Confirmed', 'payment', app.admin.id)]);

      // Another confirming status updates the payment but makes no second transition.
      const again = await paymentBy(app.admin, session.id, { paymentStatus: 'Verified' });
      expect(again.status).toBe(200);
      expect(again.body).toMatchObject({ status: 'Confirmed', paymentStatus: 'Verified' });
      expect(await app.history(session.id)).toHaveLength(1);
    },
  );

  it('Failed leaves a Pending session Pending, with no history', async () => {
    const party = await createParty(app.t);
    const session = await bookSession(app.t, party);
    const res = await paymentBy(app.admin, session.id, { paymentStatus: 'Failed' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'Pending', paymentStatus: 'Failed' });
    expect(await app.history(session.id)).toEqual([]);

    // A later confirmation still confirms it.
    const paid = await paymentBy(app.admin, session.id, { paymentStatus: 'Paid' });
    expect(paid.body).toMatchObject({ status: 'Confirmed', paymentStatus: 'Paid' });
  });

  it('Refunded leaves a Confirmed session Confirmed, but then the call cannot start', async () => {
    const { party, id } = await confirmedSession(app.t);
    const res = await paymentBy(app.admin, id, { paymentStatus: 'Refunded' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'Confirmed', paymentStatus: 'Refunded' });
    expect(await app.history(id)).toHaveLength(1);

    for (const who of [party.client, party.psychologist]) {
      const start = await app.t.api
        .post(`/api/video-calls/start/${id}`)
        .set('Authorization', who.auth);
      expectError(start, 403, 'PAYMENT_NOT_CONFIRMED');
    }
    expect(await app.statusOf(id)).toBe('Confirmed');

    // Paid again: the call can start.
    await pay(app.t, party, id, 'Paid');
    const start = await app.t.api
      .post(`/api/video-calls/start/${id}`)
      .set('Authorization', party.client.auth);
    expect(start.status).toBe(200);
    expect(start.body.status).toBe('In Progress');
  });

  it('Refunded does not interrupt a call in progress, which can still end', async () => {
    const { party, id } = await confirmedSession(app.t);
    expect((await app.videoCall('start', id, party.client)).status).toBe(200);
    const res = await paymentBy(app.admin, id, { paymentStatus: 'Refunded' });
    expect(res.body).toMatchObject({ status: 'In Progress', paymentStatus: 'Refunded' });
    const end = await app.t.api
      .post(`/api/video-calls/end/${id}`)
      .set('Authorization', party.psychologist.auth);
    expect(end.status).toBe(200);
    expect(end.body.status).toBe('Completed');
  });

  it('a confirming payment on a Cancelled session changes only the payment', async () => {
    const party = await createParty(app.t);
    const session = await bookSession(app.t, party);
    await app.t.api
      .post(`/api/sessions/${session.id}/cancel`)
      .set('Authorization', party.client.auth)
      .send({});
    const res = await paymentBy(app.admin, session.id, { paymentStatus: 'Paid' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'Cancelled', paymentStatus: 'Paid' });
    expect((await app.history(session.id)).map((r) => r.cause)).toEqual(['cancel']);
  });

  it.each([
    {},
    { paymentStatus: 'paid' },
    { paymentStatus: 'Bogus' },
    { paymentStatus: 1 },
    { paymentStatus: 'Paid', x: 1 },
  ])('refuses the body %j with 400', async (body) => {
    const party = await createParty(app.t);
    const session = await bookSession(app.t, party);
    expectError(await paymentBy(app.admin, session.id, body), 400, 'VALIDATION_FAILED');
    expect(await app.statusOf(session.id)).toBe('Pending');
  });

  it('answers 404 for an unknown session and 400 for a malformed id', async () => {
    expectError(
      await paymentBy(app.admin, randomUUID(), { paymentStatus: 'Paid' }),
      404,
      'NOT_FOUND',
    );
    expectError(
      await paymentBy(app.admin, 'nope', { paymentStatus: 'Paid' }),
      400,
      'VALIDATION_FAILED',
    );
  });
});
