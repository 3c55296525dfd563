import type { Socket } from 'socket.io-client';
import { confirmedSession, type Party } from '../factories/sessions.js';
import { spawnApp, type AppProcess } from '../utils/app-process.js';
import {
  joinedSocket,
  presentUsers,
  queryDb,
  staysOfStoppedInstances,
  viaProcess,
} from '../utils/fault-rig.js';
import { PrivatePostgres } from '../utils/private-postgres.js';
import { MACHINE_REDIS_URL, redisAnswers } from '../utils/redis.js';
import { eventually, nextEvent, request as ask, sleep } from '../utils/socket-client.js';

const HEARTBEAT_S = 1;
const GRACE_S = 3;
const ENV = {
  PRESENCE_HEARTBEAT_SECONDS: String(HEARTBEAT_S),
  EMPTY_ROOM_TIMEOUT_SECONDS: String(GRACE_S),
};

const machineRedis = await redisAnswers(MACHINE_REDIS_URL);

/**
 * PostgreSQL stopped (a real fast shutdown of a server of the test's own) under live calls on two
 * instances (separate processes). Presence is the truth about who is in a call, so an outage must
 * neither bury anybody nor lose the leaves that happen during it.
 */
describe('a PostgreSQL outage under live calls on two instances', () => {
  let pg: PrivatePostgres;
  let dbUrl: string;
  let a: AppProcess;
  let b: AppProcess;
  const sockets: Socket[] = [];

  const outage = async (seconds: number, during?: () => Promise<void>) => {
    await pg.stop();
    const back = Date.now() + seconds * 1000;
    await during?.();
    await sleep(Math.max(0, back - Date.now()));
    await pg.start();
  };

  const call = async (
    party: Party,
    sessionId: string,
    clientOn: AppProcess,
    psychOn: AppProcess,
  ) => {
    const client = await joinedSocket(clientOn.url, party.client.token, sessionId);
    const psych = await joinedSocket(psychOn.url, party.psychologist.token, sessionId);
    sockets.push(client, psych);
    return { client, psych };
  };

  const statusOf = async (sessionId: string) =>
    (
      await queryDb<{ status: string }>(dbUrl, `SELECT status FROM sessions WHERE id = $1`, [
        sessionId,
      ])
    )[0].status;

  beforeAll(async () => {
    pg = await PrivatePostgres.start();
    dbUrl = await pg.createDatabase();
    const env = {
      ...ENV,
      DATABASE_URL: dbUrl,
      ...(machineRedis ? { REDIS_URL: MACHINE_REDIS_URL } : {}),
    };
    [a, b] = await Promise.all([spawnApp(env), spawnApp(env)]);
  }, 120_000);
  afterEach(() => {
    sockets.splice(0).forEach((s) => s.disconnect());
  });
  afterAll(async () => {
    a?.kill('SIGKILL');
    b?.kill('SIGKILL');
    await pg?.destroy();
  });

  it('buries nobody: after 8 s without PostgreSQL both stay present, and the call outlives a step-out', async () => {
    const { party, id } = await confirmedSession(viaProcess(a));
    const { client } = await call(party, id, a, b);
    expect(await statusOf(id)).toBe('In Progress');
    const both = [party.client.id, party.psychologist.id].sort();

    await outage(8);
    // Three beats and more after PostgreSQL is back: a burial for the beats nobody could write
    // would have happened by now.
    await sleep((3 * HEARTBEAT_S + 2) * 1000);
    expect(await presentUsers(b, party.client.auth, id)).toEqual(both);
    expect(await presentUsers(a, party.psychologist.auth, id)).toEqual(both);
    expect(await queryDb(dbUrl, `SELECT id FROM instances WHERE stopped_at IS NOT NULL`)).toEqual(
      [],
    );

    // The client steps out for a second: the psychologist is still in the room, so the grace
    // period never starts.
    expect(await ask(client, 'leave-room', { sessionId: id })).toEqual({ ok: true });
    await sleep(1000);
    expect(await ask(client, 'join-room', { sessionId: id })).toMatchObject({ ok: true });
    await ask(client, 'leave-room', { sessionId: id });
    await sleep((GRACE_S + 2) * 1000);
    expect(await statusOf(id)).toBe('In Progress');
    expect(await presentUsers(b, party.client.auth, id)).toEqual([party.psychologist.id]);
  }, 60_000);

  it('records the leaves of an outage with their real times, and the auto-end dates from the last of them', async () => {
    const { party, id } = await confirmedSession(viaProcess(a));
    const { client, psych } = await call(party, id, a, b);
    const stranger = await joinedSocket(a.url, party.client.token, id); // a second tab, left below
    sockets.push(stranger);
    let psychGone = 0;
    let clientLeft = 0;

    await outage(6, async () => {
      await sleep(1000);
      psychGone = Date.now();
      psych.disconnect();
      await sleep(1000);
      stranger.disconnect();
      await sleep(500);
      clientLeft = Date.now();
      // The leave takes effect at once (the socket hears the room no more); the database cannot
      // confirm it, and the acknowledgement says so.
      const left = await ask(client, 'leave-room', { sessionId: id });
      expect(left).toMatchObject({ ok: false, error: { code: 'UNAVAILABLE' } });
      // Nobody can enter a room while presence cannot be written.
      expect(await ask(client, 'join-room', { sessionId: id })).toMatchObject({
        ok: false,
        error: { code: 'UNAVAILABLE' },
      });
    });

    // Written within two heartbeats of PostgreSQL's return, and the grace period (3 s) has long
    // passed since the last leave: the call ends at once, as of that leave.
    const ended = await eventually(
      async () => {
        const [row] = await queryDb<{ status: string; video_call_ended: Date }>(
          dbUrl,
          `SELECT status, video_call_ended FROM sessions WHERE id = $1`,
          [id],
        );
        return row.status === 'Completed' ? row : undefined;
      },
      (2 * HEARTBEAT_S + 4) * 1000,
      200,
    );
    expect(Math.abs(ended.video_call_ended.getTime() - clientLeft)).toBeLessThan(500);
    const stays = await queryDb<{ user_id: string; left_at: Date; left_reason: string }>(
      dbUrl,
      `SELECT user_id, left_at, left_reason FROM room_presence WHERE session_id = $1 ORDER BY left_at`,
      [id],
    );
    expect(stays.map((s) => s.left_reason)).toEqual(['disconnect', 'disconnect', 'leave']);
    expect(stays[0].user_id).toBe(party.psychologist.id);
    expect(Math.abs(stays[0].left_at.getTime() - psychGone)).toBeLessThan(500);
    expect(Math.abs(stays[2].left_at.getTime() - clientLeft)).toBeLessThan(500);
    const history = await queryDb<{ cause: string }>(
      dbUrl,
      `SELECT cause FROM session_status_changes WHERE session_id = $1 ORDER BY at`,
      [id],
    );
    expect(history.map((h) => h.cause)).toEqual(['payment', 'auto-start', 'auto-end']);
    expect(await staysOfStoppedInstances(dbUrl)).toBe(0);
  }, 60_000);

  it('gives the people of an instance killed during the outage the whole grace period from its end', async () => {
    // A third instance, killed with SIGKILL while PostgreSQL is down: its last heartbeat was
    // written before the outage, but it held its sockets well into it. Its stays end when a
    // survivor could watch again, not at that last heartbeat, so the room's grace period starts
    // no sooner than PostgreSQL's return.
    const env = {
      ...ENV,
      DATABASE_URL: dbUrl,
      ...(machineRedis ? { REDIS_URL: MACHINE_REDIS_URL } : {}),
    };
    const c = await spawnApp(env);
    try {
      const { party, id } = await confirmedSession(viaProcess(a));
      await call(party, id, c, c);
      expect(await statusOf(id)).toBe('In Progress');
      const [{ id: doomed }] = await queryDb<{ id: string }>(
        dbUrl,
        `SELECT instance_id AS id FROM room_presence WHERE session_id = $1 LIMIT 1`,
        [id],
      );

      let killedAt = 0;
      await outage(6, async () => {
        await sleep(2000);
        c.kill('SIGKILL');
        killedAt = (await c.exited).at;
      });
      const backAt = Date.now();

      const ended = await eventually(
        async () => {
          const [row] = await queryDb<{ status: string; video_call_ended: Date }>(
            dbUrl,
            `SELECT status, video_call_ended FROM sessions WHERE id = $1`,
            [id],
          );
          return row.status === 'Completed' ? row : undefined;
        },
        (4 * HEARTBEAT_S + GRACE_S + 4) * 1000,
        200,
      );
      const endedAt = ended.video_call_ended.getTime();
      // Not the last heartbeat before the outage (more than 2 s before the kill), but the first
      // beat of a survivor after it, within a few beats of PostgreSQL's return.
      expect(endedAt).toBeGreaterThan(killedAt);
      expect(endedAt).toBeGreaterThanOrEqual(backAt - 200);
      expect(endedAt).toBeLessThan(backAt + 3 * HEARTBEAT_S * 1000);
      const [{ stopped_at }] = await queryDb<{ stopped_at: Date }>(
        dbUrl,
        `SELECT stopped_at FROM instances WHERE id = $1`,
        [doomed],
      );
      expect(stopped_at.getTime()).toBe(endedAt);
      const stays = await queryDb<{ left_at: Date; left_reason: string }>(
        dbUrl,
        `SELECT left_at, left_reason FROM room_presence WHERE session_id = $1`,
        [id],
      );
      expect(stays.map((s) => [s.left_reason, s.left_at.getTime()])).toEqual([
        ['instance-lost', endedAt],
        ['instance-lost', endedAt],
      ]);
      const [end] = await queryDb<{ at: Date }>(
        dbUrl,
        `SELECT at FROM session_status_changes WHERE session_id = $1 AND cause = 'auto-end'`,
        [id],
      );
      expect(end.at.getTime()).toBeGreaterThanOrEqual(endedAt + GRACE_S * 1000);
    } finally {
      c.kill('SIGKILL');
    }
  }, 60_000);

  it('keeps signaling between the members of a room going while PostgreSQL is down', async () => {
    const near = await confirmedSession(viaProcess(a));
    const pairs = [{ id: near.id, ...(await call(near.party, near.id, a, a)) }];
    if (machineRedis) {
      // Across instances too: a room's members are known in memory, the fan-out is Redis's.
      const far = await confirmedSession(viaProcess(a));
      pairs.push({ id: far.id, ...(await call(far.party, far.id, a, b)) });
    }
    await outage(4, async () => {
      await sleep(500);
      for (const { id, client, psych } of pairs) {
        const heard = nextEvent(psych, 'signal', undefined, 3000);
        expect(
          await ask(client, 'signal', { sessionId: id, type: 'offer', data: { sdp: 'v=0' } }),
        ).toEqual({ ok: true });
        expect(await heard).toMatchObject({ sessionId: id, type: 'offer', data: { sdp: 'v=0' } });
      }
    });
  }, 60_000);
});
