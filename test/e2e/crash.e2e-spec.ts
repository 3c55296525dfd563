import type { Socket } from 'socket.io-client';
import { confirmedSession } from '../factories/sessions.js';
import { spawnApp, type AppProcess } from '../utils/app-process.js';
import { connectAs, eventually, request } from '../utils/socket-client.js';
import { startTestApp, type TestApp } from '../utils/test-app.js';
import { createTestDatabase, type TestDatabase } from '../utils/test-database.js';

const ENV = { PRESENCE_HEARTBEAT_SECONDS: '1', EMPTY_ROOM_TIMEOUT_SECONDS: '2' };

describe('an instance that crashes mid-call', () => {
  let db: TestDatabase;
  let a: AppProcess;
  let b: TestApp;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    a = await spawnApp({ ...ENV, DATABASE_URL: db.url });
    b = await startTestApp({ db, env: ENV });
  }, 120_000);
  afterAll(async () => {
    sockets.forEach((s) => s.disconnect());
    a.kill('SIGKILL');
    await b.close();
  });

  it('leaves no ghosts: a survivor closes its presence and ends the call at its last heartbeat', async () => {
    const { party, id } = await confirmedSession(b);
    const client = await connectAs(a.url, party.client.token);
    const psych = await connectAs(a.url, party.psychologist.token);
    sockets.push(client, psych);
    await request(client, 'join-room', { sessionId: id });
    expect(await request(psych, 'join-room', { sessionId: id })).toMatchObject({
      ok: true,
      status: 'In Progress',
    });

    const [{ id: instanceA }] = await b.dataSource.query(
      `SELECT DISTINCT instance_id AS id FROM room_presence WHERE session_id = $1`,
      [id],
    );
    a.kill('SIGKILL');
    const { signal } = await a.exited;
    expect(signal).toBe('SIGKILL');
    const [{ heartbeat_at: lastBeat }] = await b.dataSource.query(
      `SELECT heartbeat_at FROM instances WHERE id = $1`,
      [instanceA],
    );

    const ended = await eventually(
      async () => {
        const res = await b.api.get(`/api/sessions/${id}`).set('Authorization', party.client.auth);
        return res.body.status === 'Completed' ? res.body : undefined;
      },
      15_000,
      200,
    );
    // Closed as of the dead instance's last heartbeat (or the join, when that came after it), and
    // the call ended then, not when the survivor noticed.
    const presence: { joined_at: Date; left_at: Date; left_reason: string }[] =
      await b.dataSource.query(
        `SELECT joined_at, left_at, left_reason FROM room_presence WHERE session_id = $1`,
        [id],
      );
    expect(presence).toHaveLength(2);
    for (const row of presence) {
      expect(row.left_reason).toBe('instance-lost');
      expect(row.left_at.getTime()).toBe(Math.max(lastBeat.getTime(), row.joined_at.getTime()));
    }
    const lastSeen = Math.max(...presence.map((r) => r.left_at.getTime()));
    expect(new Date(ended.videoCallEnded).getTime()).toBe(lastSeen);
    expect(lastSeen - lastBeat.getTime()).toBeLessThan(3000); // the join came after the last beat, if at all
    const call = await b.api
      .get(`/api/video-calls/session/${id}`)
      .set('Authorization', party.client.auth);
    expect(call.body.participants.map((p: any) => p.present)).toEqual([false, false]);
    const history = await b.api
      .get(`/api/sessions/${id}/history`)
      .set('Authorization', party.client.auth);
    expect(history.body.at(-1)).toMatchObject({
      to: 'Completed',
      cause: 'auto-end',
      actorId: null,
    });
  });
});
