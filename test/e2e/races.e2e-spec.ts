import { confirmedSession, createParty, bookSession, type Party } from '../factories/sessions.js';
import type { TestUser } from '../factories/users.js';
import { simultaneousRequests, type RawResponse } from '../utils/simultaneous-requests.js';
import { startTestApp, type TestApp } from '../utils/test-app.js';

const N = 20;
/** Each race is run on this many sessions in turn: a narrow race window does not show every time. */
const ROUNDS = 3;

/**
 * Many requests on one session that reach the server at the same instant (see
 * simultaneous-requests.ts): the status guard in the database must let exactly one through.
 */
describe('races', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  // Opens the app's whole connection pool first: otherwise the first requests wait for new
  // connections one by one, which spreads them out again.
  beforeEach(async () => {
    await Promise.all(Array.from({ length: N }, () => t.dataSource.query('SELECT pg_sleep(0.05)')));
  });

  /** `N` POSTs to `path`, taking turns among `users`, all released together. */
  function together(path: string, users: TestUser[], body?: unknown): Promise<RawResponse[]> {
    return simultaneousRequests(
      t.url,
      Array.from({ length: N }, (_, i) => ({
        method: 'POST',
        path,
        headers: { Authorization: users[i % users.length].auth },
        body,
      })),
    );
  }

  async function changes(
    id: string,
  ): Promise<Array<{ from_status: string; to_status: string; cause: string }>> {
    return t.dataSource.query(
      'SELECT from_status, to_status, cause FROM session_status_changes WHERE session_id = $1 ORDER BY id',
      [id],
    );
  }

  async function startCall(party: Party, id: string): Promise<void> {
    const res = await t.api
      .post(`/api/video-calls/start/${id}`)
      .set('Authorization', party.client.auth);
    expect(res.status).toBe(200);
  }

  it.each(Array.from({ length: ROUNDS }, (_, i) => i + 1))(
    `${N} simultaneous starts, round %i: all 200, one start time, one transition`,
    async () => {
      const { party, id } = await confirmedSession(t);
      const responses = await together(`/api/video-calls/start/${id}`, [
        party.client,
        party.psychologist,
      ]);

      expect(responses.map((r) => r.status)).toEqual(Array(N).fill(200));
      expect(new Set(responses.map((r) => r.body.status))).toEqual(new Set(['In Progress']));
      const startedValues = new Set(responses.map((r) => r.body.videoCallStarted));
      expect(startedValues.size).toBe(1);
      expect([...startedValues][0]).toEqual(expect.any(String));

      const rows = await changes(id);
      expect(rows.filter((r) => r.to_status === 'In Progress')).toEqual([
        { from_status: 'Confirmed', to_status: 'In Progress', cause: 'start' },
      ]);
      const [stored] = await t.dataSource.query(
        'SELECT video_call_started FROM sessions WHERE id = $1',
        [id],
      );
      expect((stored.video_call_started as Date).toISOString()).toBe([...startedValues][0]);
    },
  );

  it.each(Array.from({ length: ROUNDS }, (_, i) => i + 1))(
    `${N} simultaneous ends, round %i: all 200, one end time, one transition`,
    async () => {
      const { party, id } = await confirmedSession(t);
      await startCall(party, id);
      const responses = await together(`/api/video-calls/end/${id}`, [
        party.client,
        party.psychologist,
        party.admin,
      ]);

      expect(responses.map((r) => r.status)).toEqual(Array(N).fill(200));
      expect(new Set(responses.map((r) => r.body.status))).toEqual(new Set(['Completed']));
      const endedValues = new Set(responses.map((r) => r.body.videoCallEnded));
      expect(endedValues.size).toBe(1);
      expect([...endedValues][0]).toEqual(expect.any(String));
      expect(new Set(responses.map((r) => r.body.duration))).toEqual(new Set([0]));

      const rows = await changes(id);
      expect(rows.filter((r) => r.to_status === 'Completed')).toEqual([
        { from_status: 'In Progress', to_status: 'Completed', cause: 'end' },
      ]);
    },
  );

  it.each(Array.from({ length: ROUNDS }, (_, i) => i + 1))(
    `${N} simultaneous cancels, round %i: exactly one 200, the rest 409 INVALID_TRANSITION`,
    async () => {
      const { party, id } = await confirmedSession(t);
      const responses = await together(
        `/api/sessions/${id}/cancel`,
        [party.client, party.psychologist, party.admin],
        {},
      );

      const ok = responses.filter((r) => r.status === 200);
      expect(ok).toHaveLength(1);
      expect(ok[0].body.status).toBe('Cancelled');
      const refused = responses.filter((r) => r.status !== 200);
      expect(refused.map((r) => [r.status, r.body.code])).toEqual(
        Array(N - 1).fill([409, 'INVALID_TRANSITION']),
      );

      const rows = await changes(id);
      expect(rows.filter((r) => r.cause === 'cancel')).toEqual([
        { from_status: 'Confirmed', to_status: 'Cancelled', cause: 'cancel' },
      ]);
    },
  );

  it(`${N} simultaneous confirming payments: one transition to Confirmed`, async () => {
    const party = await createParty(t);
    const session = await bookSession(t, party);
    const responses = await together(`/api/sessions/${session.id}/payment`, [party.admin], {
      paymentStatus: 'Paid',
    });

    expect(responses.map((r) => r.status)).toEqual(Array(N).fill(200));
    expect(new Set(responses.map((r) => r.body.status))).toEqual(new Set(['Confirmed']));
    expect(await changes(session.id)).toEqual([
      { from_status: 'Pending', to_status: 'Confirmed', cause: 'payment' },
    ]);
  });

  it('simultaneous starts and cancels: one kind wins, the state and history agree', async () => {
    const { party, id } = await confirmedSession(t);
    const responses = await simultaneousRequests(
      t.url,
      Array.from({ length: N }, (_, i) =>
        i % 2 === 0
          ? {
              method: 'POST',
              path: `/api/video-calls/start/${id}`,
              headers: { Authorization: party.client.auth },
            }
          : {
              method: 'POST',
              path: `/api/sessions/${id}/cancel`,
              headers: { Authorization: party.psychologist.auth },
              body: {},
            },
      ),
    );
    const starts = responses.filter((_, i) => i % 2 === 0);
    const cancels = responses.filter((_, i) => i % 2 === 1);
    const rows = (await changes(id)).slice(1);
    expect(rows).toHaveLength(1);
    const [{ status }] = await t.dataSource.query('SELECT status FROM sessions WHERE id = $1', [
      id,
    ]);

    if (rows[0].cause === 'start') {
      expect(status).toBe('In Progress');
      expect(starts.map((r) => r.status)).toEqual(Array(N / 2).fill(200));
      expect(cancels.map((r) => r.status)).toEqual(Array(N / 2).fill(409));
    } else {
      expect(rows[0]).toEqual({
        from_status: 'Confirmed',
        to_status: 'Cancelled',
        cause: 'cancel',
      });
      expect(status).toBe('Cancelled');
      expect(cancels.filter((r) => r.status === 200)).toHaveLength(1);
      expect(cancels.filter((r) => r.status === 409)).toHaveLength(N / 2 - 1);
      expect(starts.map((r) => [r.status, r.body.code])).toEqual(
        Array(N / 2).fill([409, 'INVALID_TRANSITION']),
      );
    }
  });
});
