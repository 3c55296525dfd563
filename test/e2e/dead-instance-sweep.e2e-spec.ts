import { randomUUID } from 'node:crypto';
import { confirmedSession } from '../factories/sessions.js';
import { eventually, sleep } from '../utils/socket-client.js';
import { retrack } from '../utils/session-tracking.js';
import { startTestApp, type TestApp } from '../utils/test-app.js';
import { startWebhookReceiver, type WebhookReceiver } from '../utils/webhook-receiver.js';

const HEARTBEAT_S = 1;
const GRACE_S = 2;

/**
 * The sweep of a dead instance closes its stays, sets the room's emptied time and writes the
 * `participant.left` events in one transaction: interrupted anywhere, it leaves everything as it
 * was and the next sweep does it all. (Split over transactions, an error after the stays were
 * closed left `room_emptied_at` NULL for good, and the call ran to the length cap.)
 */
describe('the sweep of a dead instance', () => {
  let t: TestApp;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    t = await startTestApp({
      env: {
        PRESENCE_HEARTBEAT_SECONDS: String(HEARTBEAT_S),
        EMPTY_ROOM_TIMEOUT_SECONDS: String(GRACE_S),
        WEBHOOK_ALLOW_PRIVATE: 'true',
      },
    });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await receiver?.close();
  });

  it('is all or nothing: interrupted after closing the stays it leaves them open, and the next sweep ends the call as of the last heartbeat', async () => {
    const { party, id } = await confirmedSession(t);
    await t.api
      .post('/api/webhooks')
      .set('Authorization', party.admin.auth)
      .send({ url: receiver.url, events: ['participant.left'] })
      .expect(201);
    await t.api
      .post(`/api/video-calls/start/${id}`)
      .set('Authorization', party.client.auth)
      .expect(200);

    // The call started two minutes ago; an instance that stopped beating a minute ago holds both
    // participants in the room.
    await t.dataSource.query(
      `UPDATE sessions SET video_call_started = now() - interval '2 minutes' WHERE id = $1`,
      [id],
    );
    await retrack(t.dataSource, id);
    const dead = randomUUID();
    const lastBeat: Date = (await t.dataSource.query(`SELECT now() - interval '1 minute' AS at`))[0]
      .at;
    await t.dataSource.query(
      `INSERT INTO instances (id, heartbeat_seconds, started_at, heartbeat_at) VALUES ($1, 1, $2, $2)`,
      [dead, lastBeat],
    );
    // The fault: the room's emptied time cannot be written (the step after closing the stays).
    await t.dataSource.query(`
      CREATE FUNCTION refuse_emptied() RETURNS trigger LANGUAGE plpgsql AS
        $$ BEGIN RAISE EXCEPTION 'injected fault: room_emptied_at'; END $$;
      CREATE TRIGGER refuse_emptied BEFORE UPDATE OF room_emptied_at ON sessions
        FOR EACH ROW WHEN (NEW.room_emptied_at IS NOT NULL) EXECUTE FUNCTION refuse_emptied();`);
    for (const [user, role] of [
      [party.client.id, 'client'],
      [party.psychologist.id, 'psychologist'],
    ]) {
      await t.dataSource.query(
        `INSERT INTO room_presence (session_id, user_id, role, socket_id, instance_id, joined_at)
         VALUES ($1, $2, $3, $4, $5, $6)`,
        [id, user, role, `socket-${role}`, dead, lastBeat],
      );
    }

    // Sweeps run every beat (this app may judge once its own beats span three of them) and fail.
    await sleep((4 * HEARTBEAT_S + 1) * 1000);
    const during = await t.dataSource.query(
      `SELECT (SELECT count(*)::int FROM room_presence WHERE session_id = $1 AND left_at IS NULL) AS open,
              (SELECT stopped_at FROM instances WHERE id = $2) AS stopped_at,
              (SELECT room_emptied_at FROM sessions WHERE id = $1) AS emptied_at`,
      [id, dead],
    );
    expect(during[0]).toEqual({ open: 2, stopped_at: null, emptied_at: null });

    await t.dataSource.query(
      `DROP TRIGGER refuse_emptied ON sessions; DROP FUNCTION refuse_emptied()`,
    );
    const ended = await eventually(
      async () => {
        const res = await t.api.get(`/api/sessions/${id}`).set('Authorization', party.client.auth);
        return res.body.status === 'Completed' ? res.body : undefined;
      },
      (2 * HEARTBEAT_S + GRACE_S + 4) * 1000,
      200,
    );
    expect(new Date(ended.videoCallEnded).getTime()).toBe(lastBeat.getTime());
    const stays = await t.dataSource.query(
      `SELECT left_at, left_reason FROM room_presence WHERE session_id = $1`,
      [id],
    );
    expect(stays).toEqual([
      { left_at: lastBeat, left_reason: 'instance-lost' },
      { left_at: lastBeat, left_reason: 'instance-lost' },
    ]);
    const events = await t.dataSource.query(
      `SELECT data->>'userId' AS user_id FROM webhook_events WHERE session_id = $1 AND type = 'participant.left' ORDER BY 1`,
      [id],
    );
    expect(events.map((e: { user_id: string }) => e.user_id)).toEqual(
      [party.client.id, party.psychologist.id].sort(),
    );
  }, 60_000);
});
