import { randomUUID } from 'node:crypto';
import type { Socket } from 'socket.io-client';
import type { Response } from 'supertest';
import {
  bookSession,
  confirmedSession,
  createParty,
  pay,
  type Party,
} from '../factories/sessions.js';
import { registerUser, type TestUser } from '../factories/users.js';
import { expectError } from '../utils/expect-error.js';
import { connectAs, eventually, nextEvent, request, sleep } from '../utils/socket-client.js';
import { startTestApp, type TestApp } from '../utils/test-app.js';

/**
 * OWASP API1 (broken object-level authorization): for every REST route and WebSocket event that
 * takes a session id, what each kind of caller gets (PRODUCT.md sections 4 to 6). Checks apply in
 * the contract's order: authentication 401, ids 400, existence 404, role FORBIDDEN, membership
 * NOT_PARTICIPANT. A refused call must leave the session exactly as it was.
 */

const ACTORS = [
  'stranger client',
  'stranger psychologist',
  'client',
  'psychologist',
  'admin',
] as const;
type Actor = (typeof ACTORS)[number];

type SessionState = 'Pending' | 'Confirmed' | 'In Progress';

interface RouteSpec {
  body?: object | (() => object);
  /** State-changing routes run every cell on a fresh session in this state; others share one. */
  fresh?: SessionState;
  /** The fresh session starts after the (day-long) join window: a reschedule needs it closed. */
  farAhead?: boolean;
  /** What a successful call of a state-changing route leaves behind. */
  leaves?: { status: string; cause: string };
}

/** Keyed by `METHOD path` exactly as the OpenAPI document spells the path. */
const ROUTES = {
  'GET /api/sessions/{id}': {},
  'POST /api/sessions/{id}/payment': {
    body: { paymentStatus: 'Paid' },
    fresh: 'Pending',
    leaves: { status: 'Confirmed', cause: 'payment' },
  },
  'POST /api/sessions/{id}/cancel': {
    body: { reason: 'matrix' },
    fresh: 'Confirmed',
    leaves: { status: 'Cancelled', cause: 'cancel' },
  },
  'POST /api/sessions/{id}/reschedule': {
    body: () => ({ scheduledStart: farSlot() }),
    fresh: 'Confirmed',
    farAhead: true,
    leaves: { status: 'Confirmed', cause: 'reschedule' },
  },
  'GET /api/sessions/{id}/history': {},
  'GET /api/sessions/{id}/attendance': {},
  'POST /api/video-calls/start/{sessionId}': {
    fresh: 'Confirmed',
    leaves: { status: 'In Progress', cause: 'start' },
  },
  'POST /api/video-calls/end/{sessionId}': {
    fresh: 'In Progress',
    leaves: { status: 'Completed', cause: 'end' },
  },
  'GET /api/video-calls/session/{sessionId}': {},
  'GET /api/video-calls/ice-servers/{sessionId}': {},
} satisfies Record<string, RouteSpec>;
type Route = keyof typeof ROUTES;
const ROUTE_KEYS = Object.keys(ROUTES) as Route[];

/** Path parameters of the OpenAPI document that are not session ids (so not in the matrix). */
const NOT_SESSION_IDS = [
  'DELETE /api/webhooks/{id}',
  'GET /api/webhooks/{id}/deliveries',
  // A service key's id (admin only); what keys may do to sessions: service-keys.e2e-spec.ts.
  'DELETE /api/service-keys/{id}',
  // A psychologist's id: public to every signed-in user (see "psychologist routes" below).
  'GET /api/psychologists/{id}/availability',
  'GET /api/psychologists/{id}/slots',
];

const OK = '-';

// prettier-ignore
const MATRIX: Array<[Route, Actor, number, string]> = [
  ['GET /api/sessions/{id}', 'stranger client', 403, 'NOT_PARTICIPANT'],
  ['GET /api/sessions/{id}', 'stranger psychologist', 403, 'NOT_PARTICIPANT'],
  ['GET /api/sessions/{id}', 'client', 200, OK],
  ['GET /api/sessions/{id}', 'psychologist', 200, OK],
  ['GET /api/sessions/{id}', 'admin', 200, OK],

  // Admin only: the role is checked before membership, so nobody else learns more than FORBIDDEN.
  ['POST /api/sessions/{id}/payment', 'stranger client', 403, 'FORBIDDEN'],
  ['POST /api/sessions/{id}/payment', 'stranger psychologist', 403, 'FORBIDDEN'],
  ['POST /api/sessions/{id}/payment', 'client', 403, 'FORBIDDEN'],
  ['POST /api/sessions/{id}/payment', 'psychologist', 403, 'FORBIDDEN'],
  ['POST /api/sessions/{id}/payment', 'admin', 200, OK],

  ['POST /api/sessions/{id}/cancel', 'stranger client', 403, 'NOT_PARTICIPANT'],
  ['POST /api/sessions/{id}/cancel', 'stranger psychologist', 403, 'NOT_PARTICIPANT'],
  ['POST /api/sessions/{id}/cancel', 'client', 200, OK],
  ['POST /api/sessions/{id}/cancel', 'psychologist', 200, OK],
  ['POST /api/sessions/{id}/cancel', 'admin', 200, OK],

  ['POST /api/sessions/{id}/reschedule', 'stranger client', 403, 'NOT_PARTICIPANT'],
  ['POST /api/sessions/{id}/reschedule', 'stranger psychologist', 403, 'NOT_PARTICIPANT'],
  ['POST /api/sessions/{id}/reschedule', 'client', 200, OK],
  ['POST /api/sessions/{id}/reschedule', 'psychologist', 200, OK],
  ['POST /api/sessions/{id}/reschedule', 'admin', 200, OK],

  ['GET /api/sessions/{id}/history', 'stranger client', 403, 'NOT_PARTICIPANT'],
  ['GET /api/sessions/{id}/history', 'stranger psychologist', 403, 'NOT_PARTICIPANT'],
  ['GET /api/sessions/{id}/history', 'client', 200, OK],
  ['GET /api/sessions/{id}/history', 'psychologist', 200, OK],
  ['GET /api/sessions/{id}/history', 'admin', 200, OK],

  ['GET /api/sessions/{id}/attendance', 'stranger client', 403, 'NOT_PARTICIPANT'],
  ['GET /api/sessions/{id}/attendance', 'stranger psychologist', 403, 'NOT_PARTICIPANT'],
  ['GET /api/sessions/{id}/attendance', 'client', 200, OK],
  ['GET /api/sessions/{id}/attendance', 'psychologist', 200, OK],
  ['GET /api/sessions/{id}/attendance', 'admin', 200, OK],

  // Only the session's client and psychologist start a call; an admin is the wrong role.
  ['POST /api/video-calls/start/{sessionId}', 'stranger client', 403, 'NOT_PARTICIPANT'],
  ['POST /api/video-calls/start/{sessionId}', 'stranger psychologist', 403, 'NOT_PARTICIPANT'],
  ['POST /api/video-calls/start/{sessionId}', 'client', 200, OK],
  ['POST /api/video-calls/start/{sessionId}', 'psychologist', 200, OK],
  ['POST /api/video-calls/start/{sessionId}', 'admin', 403, 'FORBIDDEN'],

  // An admin may end a call (to close a stuck one).
  ['POST /api/video-calls/end/{sessionId}', 'stranger client', 403, 'NOT_PARTICIPANT'],
  ['POST /api/video-calls/end/{sessionId}', 'stranger psychologist', 403, 'NOT_PARTICIPANT'],
  ['POST /api/video-calls/end/{sessionId}', 'client', 200, OK],
  ['POST /api/video-calls/end/{sessionId}', 'psychologist', 200, OK],
  ['POST /api/video-calls/end/{sessionId}', 'admin', 200, OK],

  ['GET /api/video-calls/session/{sessionId}', 'stranger client', 403, 'NOT_PARTICIPANT'],
  ['GET /api/video-calls/session/{sessionId}', 'stranger psychologist', 403, 'NOT_PARTICIPANT'],
  ['GET /api/video-calls/session/{sessionId}', 'client', 200, OK],
  ['GET /api/video-calls/session/{sessionId}', 'psychologist', 200, OK],
  ['GET /api/video-calls/session/{sessionId}', 'admin', 200, OK],

  // A relay credential only for whoever may join the call: join-room's checks, in its order.
  ['GET /api/video-calls/ice-servers/{sessionId}', 'stranger client', 403, 'NOT_PARTICIPANT'],
  ['GET /api/video-calls/ice-servers/{sessionId}', 'stranger psychologist', 403, 'NOT_PARTICIPANT'],
  ['GET /api/video-calls/ice-servers/{sessionId}', 'client', 200, OK],
  ['GET /api/video-calls/ice-servers/{sessionId}', 'psychologist', 200, OK],
  ['GET /api/video-calls/ice-servers/{sessionId}', 'admin', 403, 'FORBIDDEN'],
];

/** Slots two days ahead and on (past the day-long join window below), 16 minutes apart. */
let farSlotNo = 0;
const farSlot = () =>
  new Date(Date.now() + 2 * 24 * 60 * 60_000 + farSlotNo++ * 16 * 60_000).toISOString();

/** A relay of the test's own name; nothing connects to it here, credentials are only issued. */
const TURN_URL = 'turn:turn.test.local:3478';

/** Client -> server events that name a session (PRODUCT.md section 5). */
const WS_EVENTS = ['join-room', 'leave-room', 'signal'] as const;
type WsEvent = (typeof WS_EVENTS)[number];

// prettier-ignore
const WS_MATRIX: Array<[WsEvent, Actor, string]> = [
  // "Only the session's client and psychologist": an admin is the wrong role, as on REST start.
  ['join-room', 'stranger client', 'NOT_PARTICIPANT'],
  ['join-room', 'stranger psychologist', 'NOT_PARTICIPANT'],
  ['join-room', 'client', 'ok'],
  ['join-room', 'psychologist', 'ok'],
  ['join-room', 'admin', 'FORBIDDEN'],

  // Leaving is idempotent and answers alike for every session: it takes out only the caller's
  // own socket, so a stranger's leave-room must not remove anyone else.
  ['leave-room', 'stranger client', 'ok'],
  ['leave-room', 'stranger psychologist', 'ok'],
  ['leave-room', 'client', 'ok'],
  ['leave-room', 'psychologist', 'ok'],
  ['leave-room', 'admin', 'ok'],

  // Only a member of the room: the participants in it; nobody who could not join.
  ['signal', 'stranger client', 'NOT_IN_ROOM'],
  ['signal', 'stranger psychologist', 'NOT_IN_ROOM'],
  ['signal', 'client', 'ok'],
  ['signal', 'psychologist', 'ok'],
  ['signal', 'admin', 'NOT_IN_ROOM'],
];

interface Snapshot {
  row: Record<string, unknown>;
  changes: number;
  stays: number;
}

describe('BOLA matrix: who may touch a session by its id', () => {
  let t: TestApp;
  let party: Party;
  let strangers: Party;
  let users: Record<Actor, TestUser>;
  /** The session every read-only cell looks at: In Progress, with a history. */
  let shared: string;
  const sockets: Socket[] = [];

  // A room normally opens 15 minutes ahead. A day's window lets one client and one psychologist
  // hold many non-overlapping sessions that can all start now, one per cell.
  const JOIN_EARLY_MINUTES = 24 * 60;
  let slot = 0;
  const nextSlot = () => new Date(Date.now() + 60_000 + slot++ * 16 * 60_000).toISOString();

  beforeAll(async () => {
    t = await startTestApp({
      env: {
        JOIN_EARLY_MINUTES: String(JOIN_EARLY_MINUTES),
        TURN_URLS: TURN_URL,
        TURN_SECRET: 'a-turn-secret-of-at-least-32-bytes!!',
      },
    });
    const [p, strangerClient, strangerPsychologist] = await Promise.all([
      createParty(t),
      registerUser(t, 'client'),
      registerUser(t, 'psychologist'),
    ]);
    party = p;
    strangers = { client: strangerClient, psychologist: strangerPsychologist, admin: p.admin };
    users = {
      'stranger client': strangerClient,
      'stranger psychologist': strangerPsychologist,
      client: p.client,
      psychologist: p.psychologist,
      admin: p.admin,
    };
    // The strangers have a session of their own, so that they are not merely users without data.
    await confirmedSession(t, strangers);
    shared = await sessionIn('In Progress');
  });
  afterEach(() => {
    sockets.splice(0).forEach((s) => s.disconnect());
  });
  afterAll(() => t.close());

  /** A new session of the party, in the given state, in a slot of its own. */
  async function sessionIn(
    state: SessionState,
    of: Party = party,
    farAhead = false,
  ): Promise<string> {
    const { id } = await bookSession(t, of, {
      scheduledStart: farAhead ? farSlot() : nextSlot(),
      durationMinutes: 15,
    });
    if (state !== 'Pending') {
      await pay(t, of, id);
    }
    if (state === 'In Progress') {
      const res = await t.api
        .post(`/api/video-calls/start/${id}`)
        .set('Authorization', of.client.auth);
      expect(res.status).toBe(200);
    }
    return id;
  }

  function call(route: Route, who: TestUser | undefined, id: string): Promise<Response> {
    const [method, template] = route.split(' ');
    const path = template.replace(/\{\w+\}/, id);
    const req = method === 'GET' ? t.api.get(path) : t.api.post(path);
    if (who) {
      req.set('Authorization', who.auth);
    }
    const body = (ROUTES[route] as RouteSpec).body;
    return method === 'GET' ? req : req.send((typeof body === 'function' ? body() : body) ?? {});
  }

  /** Everything a refused call could have changed: the row, its history, its presence. */
  async function snapshot(id: string): Promise<Snapshot> {
    const [found] = await t.dataSource.query(
      `SELECT to_jsonb(s) AS row,
              (SELECT count(*)::int FROM session_status_changes c WHERE c.session_id = s.id) AS changes,
              (SELECT count(*)::int FROM room_presence p WHERE p.session_id = s.id) AS stays
         FROM sessions s WHERE s.id = $1`,
      [id],
    );
    return found;
  }

  async function lastChange(id: string): Promise<{ to: string; cause: string; actorId: string }> {
    const [change] = await t.dataSource.query(
      `SELECT to_status AS "to", cause, actor_id AS "actorId" FROM session_status_changes
        WHERE session_id = $1 ORDER BY id DESC LIMIT 1`,
      [id],
    );
    return change;
  }

  async function presentUsers(id: string): Promise<string[]> {
    const rows: { user_id: string }[] = await t.dataSource.query(
      `SELECT DISTINCT user_id FROM room_presence WHERE session_id = $1 AND left_at IS NULL`,
      [id],
    );
    return rows.map((r) => r.user_id).sort();
  }

  async function socketOf(who: TestUser): Promise<Socket> {
    const socket = await connectAs(t.url, who.token);
    sockets.push(socket);
    return socket;
  }

  async function joined(who: TestUser, id: string): Promise<Socket> {
    const socket = await socketOf(who);
    expect(await request(socket, 'join-room', { sessionId: id })).toMatchObject({ ok: true });
    return socket;
  }

  const refused = (code: string) => ({ ok: false, error: expect.objectContaining({ code }) });

  /** The ICE servers of one user: the relay with a credential in their name. */
  const iceServersOf = (who: TestUser) => [
    {
      urls: [TURN_URL],
      username: expect.stringMatching(new RegExp(`^\\d+:${who.id}$`)),
      credential: expect.any(String),
    },
  ];

  /** The body a successful cell answers, about the session asked for and nothing else. */
  function expectAnswerAbout(route: Route, body: any, id: string, who: TestUser): void {
    if (route.includes('/ice-servers/')) {
      expect(body).toEqual({ iceServers: iceServersOf(who), expiresAt: expect.any(String) });
    } else if (route.endsWith('/history')) {
      expect(body.map((c: { cause: string }) => c.cause)).toEqual(['payment', 'start']);
    } else if (route.endsWith('/attendance')) {
      expect(body.map((a: { userId: string }) => a.userId)).toEqual([
        party.client.id,
        party.psychologist.id,
      ]);
    } else {
      expect(body).toMatchObject({
        id,
        clientId: party.client.id,
        psychologistId: party.psychologist.id,
      });
    }
  }

  describe('REST', () => {
    test.each(MATRIX)('%s by %s -> %i %s', async (route, actor, status, code) => {
      const spec: RouteSpec = ROUTES[route];
      const id = spec.fresh ? await sessionIn(spec.fresh, party, spec.farAhead) : shared;
      const before = await snapshot(id);
      const res = await call(route, users[actor], id);
      if (code !== OK) {
        expectError(res, status, code);
        expect(await snapshot(id)).toEqual(before);
        return;
      }
      expect(res.status).toBe(status);
      expectAnswerAbout(route, res.body, id, users[actor]);
      const after = await snapshot(id);
      if (spec.leaves) {
        expect(after.row.status).toBe(spec.leaves.status);
        expect(after.changes).toBe(before.changes + 1);
        expect(await lastChange(id)).toEqual({
          to: spec.leaves.status,
          cause: spec.leaves.cause,
          actorId: users[actor].id,
        });
      } else {
        expect(after).toEqual(before);
      }
    });

    test.each(ROUTE_KEYS.flatMap((route) => ACTORS.map((actor) => [route, actor] as const)))(
      '%s by %s with an unknown session id -> 404 NOT_FOUND',
      async (route, actor) => {
        expectError(await call(route, users[actor], randomUUID()), 404, 'NOT_FOUND');
      },
    );

    test.each(ROUTE_KEYS.flatMap((route) => ACTORS.map((actor) => [route, actor] as const)))(
      '%s by %s with a non-UUID id -> 400 VALIDATION_FAILED',
      async (route, actor) => {
        expectError(await call(route, users[actor], 'not-a-uuid'), 400, 'VALIDATION_FAILED');
      },
    );

    test.each(ROUTE_KEYS)('%s without a token -> 401 UNAUTHENTICATED', async (route) => {
      const before = await snapshot(shared);
      expectError(await call(route, undefined, shared), 401, 'UNAUTHENTICATED');
      expect(await snapshot(shared)).toEqual(before);
    });

    it('has a row for every actor of every operation in the OpenAPI document that takes a session id', async () => {
      const doc = (await t.api.get('/api/docs-json')).body;
      const sessionRoutes: string[] = [];
      const otherRoutes: string[] = [];
      for (const [path, item] of Object.entries<any>(doc.paths)) {
        for (const [method, operation] of Object.entries<any>(item)) {
          const params = [...(item.parameters ?? []), ...(operation?.parameters ?? [])].filter(
            (p: { in?: string }) => p.in === 'path',
          );
          if (params.length === 0) {
            continue;
          }
          const takesSessionId = params.some(
            (p: { name: string }) =>
              p.name === 'sessionId' || (p.name === 'id' && path.startsWith('/api/sessions/')),
          );
          (takesSessionId ? sessionRoutes : otherRoutes).push(`${method.toUpperCase()} ${path}`);
        }
      }
      expect(sessionRoutes.sort()).toEqual([...ROUTE_KEYS].sort());
      // A new kind of path id needs a decision: a session id (add its rows) or not (list it here).
      expect(otherRoutes.sort()).toEqual([...NOT_SESSION_IDS].sort());
      for (const route of ROUTE_KEYS) {
        expect(MATRIX.filter(([r]) => r === route).map(([, actor]) => actor)).toEqual([...ACTORS]);
      }
    });
  });

  describe('psychologist routes: a profile and hours are changed only by their owner', () => {
    // Round the clock: the party's later bookings (any time from now) stay inside the hours.
    const HOURS = {
      timeZone: 'Europe/Berlin',
      weekly: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].map((day) => ({
        day,
        start: '00:00',
        end: '24:00',
      })),
      overrides: [],
    };
    const BODIES: Record<string, object> = {
      'PATCH /api/psychologists/me': { bio: 'matrix' },
      'PUT /api/psychologists/me/availability': HOURS,
    };

    // prettier-ignore
    const OWN: Array<[string, Actor, number, string]> = [
      ['PATCH /api/psychologists/me', 'stranger client', 403, 'FORBIDDEN'],
      ['PATCH /api/psychologists/me', 'stranger psychologist', 200, OK],
      ['PATCH /api/psychologists/me', 'client', 403, 'FORBIDDEN'],
      ['PATCH /api/psychologists/me', 'psychologist', 200, OK],
      ['PATCH /api/psychologists/me', 'admin', 403, 'FORBIDDEN'],

      ['PUT /api/psychologists/me/availability', 'stranger client', 403, 'FORBIDDEN'],
      ['PUT /api/psychologists/me/availability', 'stranger psychologist', 200, OK],
      ['PUT /api/psychologists/me/availability', 'client', 403, 'FORBIDDEN'],
      ['PUT /api/psychologists/me/availability', 'psychologist', 200, OK],
      ['PUT /api/psychologists/me/availability', 'admin', 403, 'FORBIDDEN'],
    ];

    /** Every psychologist's profile and hours. */
    async function psychologistRows(): Promise<Record<string, unknown>[]> {
      return t.dataSource.query(
        `SELECT u.id, u.name, u.bio, u.time_zone, a.weekly, a.overrides
           FROM users u LEFT JOIN psychologist_availability a ON a.psychologist_id = u.id
          WHERE u.role = 'psychologist' ORDER BY u.id`,
      );
    }

    test.each(OWN)('%s by %s -> %i %s', async (route, actor, status, code) => {
      const [method, path] = route.split(' ');
      const body = BODIES[route];
      const who = users[actor];
      const before = await psychologistRows();
      const req = method === 'PATCH' ? t.api.patch(path) : t.api.put(path);
      const res = await req.set('Authorization', who.auth).send(body);
      const after = await psychologistRows();
      if (code !== OK) {
        expectError(res, status, code);
        expect(after).toEqual(before);
        return;
      }
      expect(res.status).toBe(status);
      // Only the caller's own row changed.
      expect(after.filter((r) => r.id !== who.id)).toEqual(before.filter((r) => r.id !== who.id));
      expect(res.body).toMatchObject(
        method === 'PATCH' ? { id: who.id, bio: 'matrix' } : { psychologistId: who.id },
      );
    });

    test.each(ACTORS)(
      "a psychologist's hours and slots by %s: the same answer, about that psychologist",
      async (actor) => {
        const id = party.psychologist.id;
        const range = 'from=2027-01-04T00:00:00Z&to=2027-01-05T00:00:00Z';
        const answers = [];
        for (const path of [
          `/api/psychologists/${id}/availability`,
          `/api/psychologists/${id}/slots?${range}`,
        ]) {
          const res = await t.api.get(path).set('Authorization', users[actor].auth);
          expect(res.status).toBe(200);
          expect(res.body.psychologistId).toBe(id);
          answers.push(res.body);
        }
        const asPsychologist = await t.api
          .get(`/api/psychologists/${id}/availability`)
          .set('Authorization', party.psychologist.auth);
        expect(answers[0]).toEqual(asPsychologist.body);
        // A client's id names no psychologist.
        const clientId = party.client.id;
        for (const path of [
          `/api/psychologists/${clientId}/availability`,
          `/api/psychologists/${clientId}/slots?${range}`,
        ]) {
          expectError(
            await t.api.get(path).set('Authorization', users[actor].auth),
            404,
            'NOT_FOUND',
          );
        }
      },
    );
  });

  describe('GET /api/video-calls/ice-servers/{sessionId}: the checks of join-room', () => {
    const TOO_EARLY_START = () => new Date(Date.now() + (JOIN_EARLY_MINUTES + 60) * 60_000);

    // prettier-ignore
    const ROOM_CASES: Array<[string, () => Promise<string>, number, string]> = [
      ['unpaid', () => sessionIn('Pending'), 403, 'PAYMENT_NOT_CONFIRMED'],
      ['too early', async () => {
        const { id } = await bookSession(t, party, { scheduledStart: TOO_EARLY_START().toISOString(), durationMinutes: 15 });
        await pay(t, party, id);
        return id;
      }, 409, 'TOO_EARLY'],
      ['finished', async () => {
        const id = await sessionIn('In Progress');
        const res = await t.api.post(`/api/video-calls/end/${id}`).set('Authorization', party.client.auth);
        expect(res.status).toBe(200);
        return id;
      }, 409, 'INVALID_TRANSITION'],
      ['cancelled', async () => {
        const id = await sessionIn('Confirmed');
        const res = await t.api.post(`/api/sessions/${id}/cancel`).set('Authorization', party.client.auth).send({ reason: 'matrix' });
        expect(res.status).toBe(200);
        return id;
      }, 409, 'INVALID_TRANSITION'],
    ];

    test.each(ROOM_CASES)(
      'a %s session -> %i %s, as join-room refuses it, and nothing changes',
      async (_name, make, status, code) => {
        const id = await make();
        const before = await snapshot(id);
        for (const who of [party.client, party.psychologist]) {
          const res = await t.api
            .get(`/api/video-calls/ice-servers/${id}`)
            .set('Authorization', who.auth);
          expectError(res, status, code);
          expect(JSON.stringify(res.body)).not.toContain('credential');
          const socket = await socketOf(who);
          expect(await request(socket, 'join-room', { sessionId: id })).toEqual(refused(code));
        }
        expect(await snapshot(id)).toEqual(before);
      },
    );

    it('a stranger learns no more of an unpaid session than NOT_PARTICIPANT', async () => {
      const id = await sessionIn('Pending');
      const res = await t.api
        .get(`/api/video-calls/ice-servers/${id}`)
        .set('Authorization', strangers.client.auth);
      expectError(res, 403, 'NOT_PARTICIPANT');
    });
  });

  describe('WebSocket /video-calls', () => {
    test.each(WS_MATRIX)('%s by %s -> %s', async (event, actor, expected) => {
      const who = users[actor];
      const isParticipant = actor === 'client' || actor === 'psychologist';
      const id = await sessionIn('Confirmed');
      switch (event) {
        case 'join-room': {
          const before = await snapshot(id);
          const socket = await socketOf(who);
          const ack = await request(socket, 'join-room', { sessionId: id });
          if (expected === 'ok') {
            expect(ack).toEqual({
              ok: true,
              sessionId: id,
              status: 'Confirmed',
              participants: [{ userId: who.id, role: actor }],
              iceServers: iceServersOf(who),
            });
            expect(await presentUsers(id)).toEqual([who.id]);
          } else {
            expect(ack).toEqual(refused(expected));
            expect(await snapshot(id)).toEqual(before);
            // Not in the Socket.io room either.
            expect(
              await request(socket, 'signal', { sessionId: id, type: 'offer', data: {} }),
            ).toEqual(refused('NOT_IN_ROOM'));
          }
          break;
        }
        case 'leave-room': {
          // A participant leaves their own stay; anyone else tries to end the client's.
          const inRoom = isParticipant ? who : party.client;
          const holder = await joined(inRoom, id);
          const socket = isParticipant ? holder : await socketOf(who);
          const before = await snapshot(id);
          expect(await request(socket, 'leave-room', { sessionId: id })).toEqual({ ok: true });
          if (isParticipant) {
            expect(await presentUsers(id)).toEqual([]);
          } else {
            expect(await presentUsers(id)).toEqual([party.client.id]);
            expect(await snapshot(id)).toEqual(before);
          }
          break;
        }
        case 'signal': {
          const client = await joined(party.client, id);
          const psychologist = await joined(party.psychologist, id);
          const socket =
            actor === 'client'
              ? client
              : actor === 'psychologist'
                ? psychologist
                : await socketOf(who);
          const heard: unknown[] = [];
          client.on('signal', (s) => heard.push(s));
          psychologist.on('signal', (s) => heard.push(s));
          const relayed = nextEvent(actor === 'client' ? psychologist : client, 'signal');
          const ack = await request(socket, 'signal', {
            sessionId: id,
            type: 'offer',
            data: { sdp: `from ${actor}` },
          });
          if (expected === 'ok') {
            expect(ack).toEqual({ ok: true });
            await relayed;
            expect(heard).toEqual([
              { sessionId: id, from: who.id, type: 'offer', data: { sdp: `from ${actor}` } },
            ]);
          } else {
            expect(ack).toEqual(refused(expected));
            relayed.catch(() => undefined);
            // A relay of the refused signal would have reached each side before these.
            const back = nextEvent(client, 'signal', (s) => s.data?.sdp === 'sentinel');
            const forth = nextEvent(psychologist, 'signal', (s) => s.data?.sdp === 'sentinel');
            await request(client, 'signal', {
              sessionId: id,
              type: 'offer',
              data: { sdp: 'sentinel' },
            });
            await request(psychologist, 'signal', {
              sessionId: id,
              type: 'answer',
              data: { sdp: 'sentinel' },
            });
            await Promise.all([back, forth]);
            expect(heard.filter((s: any) => s.from === who.id)).toEqual([]);
          }
          break;
        }
      }
    });

    test.each(ACTORS)('join-room by %s with an unknown session id -> NOT_FOUND', async (actor) => {
      const socket = await socketOf(users[actor]);
      expect(await request(socket, 'join-room', { sessionId: randomUUID() })).toEqual(
        refused('NOT_FOUND'),
      );
    });

    test.each(WS_EVENTS)('%s with a non-UUID session id -> VALIDATION_FAILED', async (event) => {
      const socket = await socketOf(party.client);
      const payload =
        event === 'signal'
          ? { sessionId: 'not-a-uuid', type: 'offer', data: {} }
          : { sessionId: 'not-a-uuid' };
      expect(await request(socket, event, payload)).toEqual(refused('VALIDATION_FAILED'));
    });

    it('has a row for every actor of every client event in the AsyncAPI document that takes a session id', async () => {
      const doc = (await t.api.get('/api/asyncapi.json')).body;
      const resolve = (node: any): any =>
        node?.$ref
          ? resolve(
              node.$ref
                .slice(2)
                .split('/')
                .reduce((at: any, key: string) => at[key], doc),
            )
          : node;
      const events = new Set<string>();
      for (const operation of Object.values<any>(doc.operations)) {
        if (operation.action !== 'receive') {
          continue;
        }
        for (const message of operation.messages.map(resolve)) {
          if ('sessionId' in (resolve(message.payload).properties ?? {})) {
            events.add(message.name);
          }
        }
      }
      expect([...events].sort()).toEqual([...WS_EVENTS].sort());
      for (const event of WS_EVENTS) {
        expect(WS_MATRIX.filter(([e]) => e === event).map(([, actor]) => actor)).toEqual([
          ...ACTORS,
        ]);
      }
    });

    it("a stranger in another room hears nothing of this room's and cannot signal into it", async () => {
      const theirs = await sessionIn('Confirmed', strangers);
      const strangerClient = await joined(strangers.client, theirs);
      const strangerPsychologist = await joined(strangers.psychologist, theirs);
      const leaked: Array<[string, unknown]> = [];
      for (const socket of [strangerClient, strangerPsychologist]) {
        for (const event of [
          'signal',
          'session-status',
          'participant-joined',
          'participant-left',
        ]) {
          socket.on(event, (payload: { sessionId?: string }) => {
            if (payload.sessionId !== theirs) {
              leaked.push([event, payload]);
            }
          });
        }
      }

      const id = await sessionIn('Confirmed');
      const client = await joined(party.client, id);
      const started = nextEvent(client, 'session-status', (s) => s.status === 'In Progress');
      const psychologistHere = nextEvent(client, 'participant-joined');
      const psychologist = await joined(party.psychologist, id);
      await Promise.all([started, psychologistHere]);
      const clientHeard: any[] = [];
      const psychologistHeard: any[] = [];
      client.on('signal', (s) => clientHeard.push(s));
      psychologist.on('signal', (s) => psychologistHeard.push(s));
      const psychologistGotOffer = nextEvent(psychologist, 'signal');

      const signal = (socket: Socket, payload: object) =>
        request(socket, 'signal', { type: 'offer', data: { sdp: 'x' }, ...payload });
      // Their own traffic, including a signal addressed to a stranger, stays in their room.
      expect(await signal(client, { sessionId: id })).toEqual({ ok: true });
      expect(await signal(psychologist, { sessionId: id, to: party.client.id })).toEqual({
        ok: true,
      });
      expect(await signal(client, { sessionId: id, to: strangers.client.id })).toEqual({
        ok: true,
      });
      // A stranger cannot signal into it, by its id or through their own room.
      expect(await signal(strangerClient, { sessionId: id })).toEqual(refused('NOT_IN_ROOM'));
      expect(await signal(strangerClient, { sessionId: id, to: party.client.id })).toEqual(
        refused('NOT_IN_ROOM'),
      );
      expect(
        await signal(strangerPsychologist, { sessionId: theirs, to: party.client.id }),
      ).toEqual({ ok: true });
      const completed = nextEvent(client, 'session-status', (s) => s.status === 'Completed');
      expect(
        (await t.api.post(`/api/video-calls/end/${id}`).set('Authorization', party.client.auth))
          .status,
      ).toBe(200);
      await Promise.all([completed, psychologistGotOffer]);

      // Anything this room sent the strangers would have come before these of their own room.
      const sentinels = [
        nextEvent(strangerClient, 'signal', (s) => s.data?.sdp === 'sentinel'),
        nextEvent(strangerPsychologist, 'signal', (s) => s.data?.sdp === 'sentinel'),
      ];
      await signal(strangerPsychologist, { sessionId: theirs, data: { sdp: 'sentinel' } });
      await signal(strangerClient, { sessionId: theirs, data: { sdp: 'sentinel' } });
      await Promise.all(sentinels);

      expect(leaked).toEqual([]);
      expect(clientHeard.map((s) => [s.sessionId, s.from])).toEqual([[id, party.psychologist.id]]);
      expect(psychologistHeard.map((s) => [s.sessionId, s.from])).toEqual([[id, party.client.id]]);
    });

    it('sockets of strangers and admins, in no room, hear none of the live events of a session', async () => {
      const id = await sessionIn('Pending');
      // Other sessions of these users may still be ending (rooms left by earlier cells).
      const about = (into: unknown[]) => (event: string, payload?: { sessionId?: string }) => {
        if (payload?.sessionId === id) {
          into.push(event);
        }
      };
      const others = [strangers.client, strangers.psychologist, party.admin];
      const leaked: unknown[] = [];
      for (const socket of await Promise.all(others.map((who) => socketOf(who)))) {
        socket.onAny(about(leaked));
      }
      const heard: string[] = [];
      (await socketOf(party.psychologist)).onAny(about(heard));
      await pay(t, party, id, 'Failed');
      await pay(t, party, id);
      const client = await joined(party.client, id);
      expect(await request(client, 'leave-room', { sessionId: id })).toEqual({ ok: true });
      expect((await call('POST /api/sessions/{id}/cancel', party.client, id)).status).toBe(200);
      await eventually(() => Promise.resolve(heard.length === 5));
      expect(heard).toEqual([
        'session-updated',
        'session-status',
        'participant-joined',
        'participant-left',
        'session-status',
      ]);
      await sleep(300); // time for a copy sent to the wrong sockets to arrive too
      expect(leaked).toEqual([]);
    });

    it('a stranger is not in the room even while its join-room is being decided', async () => {
      const id = await sessionIn('Confirmed');
      const client = await joined(party.client, id);
      const psychologist = await joined(party.psychologist, id);
      const stranger = await socketOf(strangers.client);
      const strangerHeard: unknown[] = [];
      stranger.on('signal', (s) => strangerHeard.push(s));
      stranger.on('session-status', (s) => strangerHeard.push(s));
      const psychologistHeard: any[] = [];
      psychologist.on('signal', (s) => psychologistHeard.push(s));

      // Another transaction holds the session's row, as a concurrent join or transition would:
      // the stranger's join is decided only once it is released.
      const lock = t.dataSource.createQueryRunner();
      await lock.connect();
      await lock.startTransaction();
      let join: Promise<unknown> | undefined;
      try {
        await lock.query(`SELECT id FROM sessions WHERE id = $1 FOR UPDATE`, [id]);
        let answered = false;
        join = request(stranger, 'join-room', { sessionId: id }).finally(() => {
          answered = true;
        });
        // Awaited below; a failure before that must not surface as an unhandled rejection.
        join.catch(() => undefined);
        await eventually(async () => {
          const [{ waiting }] = await t.dataSource.query(
            `SELECT count(*)::int AS waiting FROM pg_stat_activity
              WHERE datname = current_database() AND wait_event_type = 'Lock'`,
          );
          return answered || waiting > 0;
        });
        expect(
          await request(stranger, 'signal', { sessionId: id, type: 'offer', data: { sdp: 'in' } }),
        ).toEqual(refused('NOT_IN_ROOM'));
        const relayed = nextEvent(psychologist, 'signal', (s) => s.data?.sdp === 'sentinel');
        await request(client, 'signal', {
          sessionId: id,
          type: 'offer',
          data: { sdp: 'sentinel' },
        });
        await relayed;
      } finally {
        await lock.rollbackTransaction();
        await lock.release();
      }
      // The refusal is sent after anything the room sent the stranger meanwhile.
      expect(await join).toEqual(refused('NOT_PARTICIPANT'));
      expect(strangerHeard).toEqual([]);
      expect(psychologistHeard.map((s) => s.from)).toEqual([party.client.id]);
    });
  });

  describe('GET /api/sessions', () => {
    async function listAll(who: TestUser): Promise<Array<{ id: string }>> {
      const items: Array<{ id: string }> = [];
      for (let page = 1; ; page++) {
        const res = await t.api
          .get(`/api/sessions?page=${page}&limit=100`)
          .set('Authorization', who.auth);
        expect(res.status).toBe(200);
        items.push(...res.body.items);
        if (items.length >= res.body.total || res.body.items.length === 0) {
          expect(items).toHaveLength(res.body.total);
          return items;
        }
      }
    }

    async function idsInDatabase(userId?: string): Promise<string[]> {
      const rows: { id: string }[] = userId
        ? await t.dataSource.query(
            `SELECT id FROM sessions WHERE client_id = $1 OR psychologist_id = $1`,
            [userId],
          )
        : await t.dataSource.query(`SELECT id FROM sessions`);
      return rows.map((r) => r.id).sort();
    }

    test.each(['stranger client', 'stranger psychologist', 'client', 'psychologist'] as const)(
      'a %s sees their own sessions and nobody else',
      async (actor) => {
        const who = users[actor];
        const items = await listAll(who);
        const own = await idsInDatabase(who.id);
        expect(own.length).toBeGreaterThan(0);
        expect(items.map((s) => s.id).sort()).toEqual(own);
        const field = who.role === 'client' ? 'clientId' : 'psychologistId';
        expect(items.filter((s: any) => s[field] !== who.id)).toEqual([]);
      },
    );

    it('an admin sees every session', async () => {
      const all = await idsInDatabase();
      expect(all).toContain(shared);
      expect((await listAll(users.admin)).map((s) => s.id).sort()).toEqual(all);
    });
  });
});
