import { randomUUID } from 'node:crypto';
import { bookSession, createParty, type Party, type SessionJson } from '../factories/sessions.js';
import { registerUser } from '../factories/users.js';
import { expectError } from '../utils/expect-error.js';
import { useSessionApp } from '../utils/session-rest.js';

describe('GET /api/sessions/:id', () => {
  const app = useSessionApp();

  let party: Party;
  let session: SessionJson;
  beforeAll(async () => {
    party = await createParty(app.t);
    session = await bookSession(app.t, party);
  });

  it('answers the client, the psychologist and an admin', async () => {
    for (const who of [party.client, party.psychologist, app.admin]) {
      const res = await app.t.api.get(`/api/sessions/${session.id}`).set('Authorization', who.auth);
      expect(res.status).toBe(200);
      expect(res.body).toEqual(session);
    }
  });

  it('refuses anyone else with 403 NOT_PARTICIPANT', async () => {
    for (const role of ['client', 'psychologist'] as const) {
      const stranger = await registerUser(app.t, role);
      const res = await app.t.api
        .get(`/api/sessions/${session.id}`)
        .set('Authorization', stranger.auth);
      expectError(res, 403, 'NOT_PARTICIPANT');
    }
  });

  it('answers 404 NOT_FOUND for an unknown id', async () => {
    const res = await app.t.api
      .get(`/api/sessions/${randomUUID()}`)
      .set('Authorization', app.admin.auth);
    expectError(res, 404, 'NOT_FOUND');
  });

  it.each(['not-a-uuid', '123', `${randomUUID()}x`])('answers 400 for the id %s', async (id) => {
    const res = await app.t.api.get(`/api/sessions/${id}`).set('Authorization', app.admin.auth);
    expectError(res, 400, 'VALIDATION_FAILED');
  });

  it('answers unknown routes with 404 NOT_FOUND', async () => {
    expectError(
      await app.t.api.get('/api/sessionz').set('Authorization', app.admin.auth),
      404,
      'NOT_FOUND',
    );
  });
});
