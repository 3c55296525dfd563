import { randomUUID } from 'node:crypto';
import { bookSession, confirmedSession, createParty } from '../factories/sessions.js';
import { registerUser, type TestUser } from '../factories/users.js';
import { expectError } from '../utils/expect-error.js';
import { at, DAY, SESSION_FIELDS, transition, useSessionApp } from '../utils/session-rest.js';

describe('POST /api/sessions/:id/cancel', () => {
  const app = useSessionApp();

  const cancelBy = (who: TestUser, id: string, body?: object) => {
    const req = app.t.api.post(`/api/sessions/${id}/cancel`).set('Authorization', who.auth);
    return body === undefined ? req : req.send(body);
  };

  it('lets the client cancel a Pending session, recording who and why', async () => {
    const party = await createParty(app.t);
    const session = await bookSession(app.t, party);
    const res = await cancelBy(party.client, session.id, { reason: 'feeling better' });
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(SESSION_FIELDS);
    expect(res.body).toMatchObject({
      id: session.id,
      status: 'Cancelled',
      paymentStatus: 'Pending',
    });
    expect(await app.history(session.id)).toEqual([
      transition('Pending', 'Cancelled', 'cancel', party.client.id),
    ]);
    const [row] = await app.t.dataSource.query('SELECT cancel_reason FROM sessions WHERE id = $1', [
      session.id,
    ]);
    expect(row.cancel_reason).toBe('feeling better');
  });

  it('lets the psychologist cancel a Confirmed session, without a body', async () => {
    const { party, id } = await confirmedSession(app.t);
    const res = await cancelBy(party.psychologist, id);
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('Cancelled');
    const rows = await app.history(id);
    expect(rows.map((r) => [r.from, r.to, r.cause, r.actorId])).toEqual([
      ['Pending', 'Confirmed', 'payment', app.admin.id],
      ['Confirmed', 'Cancelled', 'cancel', party.psychologist.id],
    ]);
  });

  it('lets an admin cancel', async () => {
    const party = await createParty(app.t);
    const session = await bookSession(app.t, party);
    const res = await cancelBy(app.admin, session.id, {});
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('Cancelled');
    expect((await app.history(session.id))[0]).toMatchObject({
      actorId: app.admin.id,
      cause: 'cancel',
    });
  });

  it('refuses a stranger with 403 NOT_PARTICIPANT', async () => {
    const party = await createParty(app.t);
    const session = await bookSession(app.t, party);
    const stranger = await registerUser(app.t, 'client');
    expectError(await cancelBy(stranger, session.id, {}), 403, 'NOT_PARTICIPANT');
    expect(await app.statusOf(session.id)).toBe('Pending');
  });

  it('refuses In Progress, Completed and Cancelled sessions with 409 INVALID_TRANSITION', async () => {
    const { party, id } = await confirmedSession(app.t);
    expect((await app.videoCall('start', id, party.client)).status).toBe(200);
    expectError(await cancelBy(party.client, id, {}), 409, 'INVALID_TRANSITION');
    expectError(await cancelBy(app.admin, id, {}), 409, 'INVALID_TRANSITION');
    expect(await app.statusOf(id)).toBe('In Progress');

    expect((await app.videoCall('end', id, party.client)).status).toBe(200);
    expectError(await cancelBy(party.psychologist, id, {}), 409, 'INVALID_TRANSITION');
    expect(await app.statusOf(id)).toBe('Completed');

    const other = await bookSession(app.t, party, { scheduledStart: at(3 * DAY) });
    expect((await cancelBy(party.client, other.id, {})).status).toBe(200);
    expectError(await cancelBy(party.client, other.id, {}), 409, 'INVALID_TRANSITION');
    expect((await app.history(other.id)).filter((r) => r.cause === 'cancel')).toHaveLength(1);
  });

  it.each([{ reason: 'x'.repeat(501) }, { reason: 5 }, { why: 'no' }])(
    'refuses the body %j with 400',
    async (body) => {
      const party = await createParty(app.t);
      const session = await bookSession(app.t, party);
      expectError(await cancelBy(party.client, session.id, body), 400, 'VALIDATION_FAILED');
      expect(await app.statusOf(session.id)).toBe('Pending');
    },
  );

  it('answers 404 for an unknown session', async () => {
    expectError(await cancelBy(app.admin, randomUUID(), {}), 404, 'NOT_FOUND');
  });
});
