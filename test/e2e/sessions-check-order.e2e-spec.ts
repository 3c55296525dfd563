import { randomUUID } from 'node:crypto';
import { bookSession, confirmedSession, createParty, type Party } from '../factories/sessions.js';
import { registerUser, type TestUser } from '../factories/users.js';
import { expectError } from '../utils/expect-error.js';
import { at, DAY, useSessionApp } from '../utils/session-rest.js';

describe('the order of checks', () => {
  const app = useSessionApp();

  let party: Party;
  let stranger: TestUser;
  let pendingId: string;

  beforeAll(async () => {
    party = await createParty(app.t);
    stranger = await registerUser(app.t, 'client');
    pendingId = (await bookSession(app.t, party)).id;
  });

  it('authentication comes before a malformed id', async () => {
    expectError(await app.t.api.get('/api/sessions/not-a-uuid'), 401, 'UNAUTHENTICATED');
    expectError(await app.t.api.get('/api/sessions/not-a-uuid/history'), 401, 'UNAUTHENTICATED');
    expectError(
      await app.t.api.post('/api/sessions/not-a-uuid/cancel').send({ reason: 5 }),
      401,
      'UNAUTHENTICATED',
    );
    expectError(await app.t.api.post('/api/video-calls/start/not-a-uuid'), 401, 'UNAUTHENTICATED');
    expectError(
      await app.t.api.get('/api/sessions/not-a-uuid').set('Authorization', 'Bearer not.a.token'),
      401,
      'UNAUTHENTICATED',
    );
  });

  it('a malformed id or body comes before existence', async () => {
    expectError(
      await app.t.api.get('/api/sessions/not-a-uuid').set('Authorization', app.admin.auth),
      400,
      'VALIDATION_FAILED',
    );
    expectError(
      await app.t.api
        .post(`/api/sessions/${randomUUID()}/payment`)
        .set('Authorization', app.admin.auth)
        .send({ paymentStatus: 'x' }),
      400,
      'VALIDATION_FAILED',
    );
    expectError(
      await app.t.api
        .post(`/api/sessions/${randomUUID()}/cancel`)
        .set('Authorization', app.admin.auth)
        .send({ reason: 5 }),
      400,
      'VALIDATION_FAILED',
    );
    expectError(
      await app.t.api.post('/api/video-calls/end/not-a-uuid').set('Authorization', app.admin.auth),
      400,
      'VALIDATION_FAILED',
    );
  });

  it('a malformed body comes before the role', async () => {
    expectError(
      await app.t.api
        .post(`/api/sessions/${pendingId}/payment`)
        .set('Authorization', party.client.auth)
        .send({}),
      400,
      'VALIDATION_FAILED',
    );
    expectError(
      await app.t.api
        .post('/api/sessions')
        .set('Authorization', party.psychologist.auth)
        .send({ scheduledStart: 'soon' }),
      400,
      'VALIDATION_FAILED',
    );
  });

  it('existence comes before the role', async () => {
    expectError(
      await app.t.api
        .post(`/api/sessions/${randomUUID()}/payment`)
        .set('Authorization', party.client.auth)
        .send({ paymentStatus: 'Paid' }),
      404,
      'NOT_FOUND',
    );
    expectError(
      await app.t.api
        .post(`/api/video-calls/start/${randomUUID()}`)
        .set('Authorization', app.admin.auth),
      404,
      'NOT_FOUND',
    );
  });

  it('existence comes before membership', async () => {
    expectError(
      await app.t.api.get(`/api/sessions/${randomUUID()}`).set('Authorization', stranger.auth),
      404,
      'NOT_FOUND',
    );
    expectError(
      await app.t.api
        .post(`/api/video-calls/start/${randomUUID()}`)
        .set('Authorization', stranger.auth),
      404,
      'NOT_FOUND',
    );
  });

  it('the role comes before membership', async () => {
    // A stranger asking for an admin-only action is told about the role, not membership.
    expectError(
      await app.t.api
        .post(`/api/sessions/${pendingId}/payment`)
        .set('Authorization', stranger.auth)
        .send({ paymentStatus: 'Paid' }),
      403,
      'FORBIDDEN',
    );
    // An admin (not a participant) starting a call: FORBIDDEN.
    const { id } = await confirmedSession(app.t);
    expectError(
      await app.t.api.post(`/api/video-calls/start/${id}`).set('Authorization', app.admin.auth),
      403,
      'FORBIDDEN',
    );
  });

  it('membership comes before payment', async () => {
    expectError(
      await app.t.api
        .post(`/api/video-calls/start/${pendingId}`)
        .set('Authorization', stranger.auth),
      403,
      'NOT_PARTICIPANT',
    );
  });

  it('payment comes before the status', async () => {
    // Unpaid and Cancelled: the payment is reported, not the status.
    const other = await bookSession(app.t, party, { scheduledStart: at(5 * DAY) });
    expect(
      (
        await app.t.api
          .post(`/api/sessions/${other.id}/cancel`)
          .set('Authorization', party.client.auth)
          .send({})
      ).status,
    ).toBe(200);
    expectError(
      await app.t.api
        .post(`/api/video-calls/start/${other.id}`)
        .set('Authorization', party.client.auth),
      403,
      'PAYMENT_NOT_CONFIRMED',
    );
    // Paid, then Cancelled: now the status answers.
    const paidThenCancelled = await confirmedSession(app.t);
    await app.t.api
      .post(`/api/sessions/${paidThenCancelled.id}/cancel`)
      .set('Authorization', paidThenCancelled.party.client.auth)
      .send({});
    expectError(
      await app.t.api
        .post(`/api/video-calls/start/${paidThenCancelled.id}`)
        .set('Authorization', paidThenCancelled.party.client.auth),
      409,
      'INVALID_TRANSITION',
    );
  });

  it('a reschedule: body (with its bounds), existence, membership, status, working hours, slot', async () => {
    const move = (who: TestUser, id: string, body: object) =>
      app.t.api.post(`/api/sessions/${id}/reschedule`).set('Authorization', who.auth).send(body);
    expectError(
      await move(stranger, randomUUID(), { scheduledStart: 'soon' }),
      400,
      'VALIDATION_FAILED',
    );
    expectError(
      await move(stranger, randomUUID(), { scheduledStart: at(800 * DAY) }),
      400,
      'VALIDATION_FAILED',
    );
    expectError(
      await move(stranger, randomUUID(), { scheduledStart: at(40 * DAY) }),
      404,
      'NOT_FOUND',
    );

    // A psychologist working 09:00-17:00 UTC, with a session the admin booked at 20:00 UTC.
    const p = await createParty(app.t);
    const weekly = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].map((day) => ({
      day,
      start: '09:00',
      end: '17:00',
    }));
    await app.t.dataSource.query(
      `INSERT INTO psychologist_availability (psychologist_id, weekly, overrides)
       VALUES ($1, $2::jsonb, '[]'::jsonb)`,
      [p.psychologist.id, JSON.stringify(weekly)],
    );
    const dayAt = (n: number, hhmm: string) => `${at(n * DAY).slice(0, 10)}T${hhmm}:00.000Z`;
    const takenOutside = dayAt(41, '20:00');
    const byAdmin = await app.t.api
      .post('/api/sessions')
      .set('Authorization', app.admin.auth)
      .send({
        psychologistId: p.psychologist.id,
        clientId: p.client.id,
        scheduledStart: takenOutside,
      });
    expect(byAdmin.status).toBe(201);
    const cancelled = await bookSession(app.t, p, { scheduledStart: dayAt(42, '10:00') });
    await app.t.api
      .post(`/api/sessions/${cancelled.id}/cancel`)
      .set('Authorization', p.client.auth)
      .send({});
    const pending = await bookSession(app.t, p, { scheduledStart: dayAt(43, '10:00') });

    expectError(
      await move(stranger, cancelled.id, { scheduledStart: takenOutside }),
      403,
      'NOT_PARTICIPANT',
    );
    expectError(
      await move(p.client, cancelled.id, { scheduledStart: takenOutside }),
      409,
      'INVALID_TRANSITION',
    );
    expectError(
      await move(p.client, pending.id, { scheduledStart: takenOutside }),
      409,
      'OUTSIDE_WORKING_HOURS',
    );
    expectError(
      await move(app.admin, pending.id, { scheduledStart: takenOutside }),
      409,
      'SLOT_TAKEN',
    );
    // A booking too: the hours before the slot, and the role before both.
    const book = (who: TestUser) =>
      app.t.api
        .post('/api/sessions')
        .set('Authorization', who.auth)
        .send({ psychologistId: p.psychologist.id, scheduledStart: takenOutside });
    expectError(await book(p.psychologist), 403, 'FORBIDDEN');
    expectError(await book(p.client), 409, 'OUTSIDE_WORKING_HOURS');
  });
});
