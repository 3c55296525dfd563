import { randomUUID } from 'node:crypto';
import { confirmedSession } from '../factories/sessions.js';
import { registerUser } from '../factories/users.js';
import { expectError } from '../utils/expect-error.js';
import { transition, useSessionApp } from '../utils/session-rest.js';

describe('GET /api/sessions/:id/history', () => {
  const app = useSessionApp();

  it('lists every change oldest first, with who and why', async () => {
    const { party, id } = await confirmedSession(app.t);
    expect((await app.videoCall('start', id, party.client)).status).toBe(200);
    expect((await app.videoCall('end', id, party.psychologist)).status).toBe(200);

    for (const who of [party.client, party.psychologist, app.admin]) {
      const rows = await app.history(id, who);
      expect(rows).toEqual([
        transition('Pending', 'Confirmed', 'payment', app.admin.id),
        transition('Confirmed', 'In Progress', 'start', party.client.id),
        transition('In Progress', 'Completed', 'end', party.psychologist.id),
      ]);
      const times = rows.map((r) => Date.parse(r.at));
      expect(times).toEqual([...times].sort((a, b) => a - b));
    }
  });

  it('refuses a stranger, answers 404 for an unknown session and 400 for a malformed id', async () => {
    const { id } = await confirmedSession(app.t);
    const stranger = await registerUser(app.t, 'psychologist');
    expectError(
      await app.t.api.get(`/api/sessions/${id}/history`).set('Authorization', stranger.auth),
      403,
      'NOT_PARTICIPANT',
    );
    expectError(
      await app.t.api
        .get(`/api/sessions/${randomUUID()}/history`)
        .set('Authorization', app.admin.auth),
      404,
      'NOT_FOUND',
    );
    expectError(
      await app.t.api.get('/api/sessions/zzz/history').set('Authorization', app.admin.auth),
      400,
      'VALIDATION_FAILED',
    );
  });
});
