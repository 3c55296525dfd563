import { randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import {
  confirmedSession,
  createParty,
  type Party,
  type SessionJson,
} from '../factories/sessions.js';
import { PASSWORD, type TestUser } from '../factories/users.js';
import type { Schema } from './fuzz.js';
import { startTestApp, TEST_ADMIN, TEST_JWT_SECRET, type TestApp } from './test-app.js';

// The world an input-fuzzing spec runs in (real users, real sessions), and the checks that the
// walk left the app healthy and its rows whole.

export interface World {
  t: TestApp;
  party: Party;
  /** The WebSocket walk's client and psychologist (and the same admin). */
  wsParty: Party;
  /** The session the HTTP walk aims its valid ids at. */
  httpSession: SessionJson;
  /** The WebSocket walk's session, so the HTTP walk's cancel cannot close its room. */
  wsSession: SessionJson;
  refreshToken: string;
  users: TestUser[];
  /** An id that no webhook nor service key has (the walk creates none on purpose). */
  missingWebhookId: string;
}

/** A unique future slot, so bookings the fuzzing happens to make valid do not collide. */
let slot = 0;
export const freeSlot = () =>
  new Date(Date.now() + 2 * 86_400_000 + ++slot * 3_600_000).toISOString();

/** A valid value for a body property, by name first, else from the schema. */
export function validProperty(w: World, name: string, s: Schema): unknown {
  switch (name) {
    case 'email':
      return `fuzz-${randomUUID().slice(0, 8)}@test.local`;
    case 'password':
      return PASSWORD;
    case 'psychologistId':
      return w.party.psychologist.id;
    case 'clientId':
      return w.party.client.id;
    case 'scheduledStart':
      return freeSlot();
    case 'refreshToken':
      return w.refreshToken;
    case 'url':
      // Refused (loopback) before any DNS lookup or delivery: the fuzzing must reach no network.
      return 'http://127.0.0.1:9/hook';
    default:
      return s.example ?? s.examples?.[0] ?? s.default ?? s.enum?.[0] ?? 'x';
  }
}

/** A valid body: the required properties of the schema with valid values. */
export function validBody(w: World, schema: Schema): Record<string, unknown> {
  const required = new Set(schema.required ?? []);
  return Object.fromEntries(
    Object.entries(schema.properties ?? {})
      .filter(([name]) => required.has(name))
      .map(([name, s]) => [name, validProperty(w, name, s)]),
  );
}

/** A token like the app's own (claims and options may override any part of it). */
export function signed(
  claims: object,
  key = TEST_JWT_SECRET,
  options: jwt.SignOptions = {},
): string {
  const now = Math.floor(Date.now() / 1000);
  return jwt.sign({ role: 'client', iat: now, exp: now + 600, ...claims }, key, {
    algorithm: 'HS256',
    issuer: 'session-video-api',
    audience: 'session-video-clients',
    ...options,
  });
}

export interface Tally {
  requests: number;
  /** 2xx answers per operationId: what the walk may have written on purpose. */
  accepted: Map<string, number>;
}

/** The tables whose rows a walk may write; their counts before it are the baseline. */
const TABLES = [
  'users',
  'sessions',
  'session_status_changes',
  'refresh_tokens',
  'webhook_endpoints',
  'service_keys',
];

const count = async (t: TestApp, table: string): Promise<number> =>
  Number((await t.dataSource.query(`SELECT count(*)::int AS n FROM ${table}`))[0].n);

export const countRows = (w: World, table: string) => count(w.t, table);

/** A spec's world (set before its tests), what its walk was answered, and the rows before it. */
export class Fuzzing {
  w!: World;
  readonly tally: Tally = { requests: 0, accepted: new Map() };
  rowsBefore!: Record<string, number>;
}

/** Starts the app and its world before the spec's tests (then `ready`), and closes it after them. */
export function useFuzzWorld<F extends Fuzzing>(fuzz: F, ready?: (f: F) => Promise<void>): F {
  beforeAll(async () => {
    fuzz.w = await startWorld();
    await ready?.(fuzz);
    fuzz.rowsBefore = Object.fromEntries(
      await Promise.all(TABLES.map(async (n) => [n, await count(fuzz.w.t, n)])),
    );
  });
  afterAll(async () => {
    await fuzz.w?.t.close();
  });
  return fuzz;
}

async function startWorld(): Promise<World> {
  const t = await startTestApp();
  // Two parties, each with a Confirmed session that starts now: the HTTP walk may cancel or
  // start its own, the WebSocket walk keeps a room open in the other.
  const [party, wsParty] = await Promise.all([createParty(t), createParty(t)]);
  const [{ session: httpSession }, { session: wsSession }] = await Promise.all([
    confirmedSession(t, party),
    confirmedSession(t, wsParty),
  ]);
  const login = await t.api
    .post('/api/auth/login')
    .send({ email: party.client.email, password: PASSWORD });
  expect(login.status).toBe(200);
  return {
    t,
    party,
    wsParty,
    httpSession,
    wsSession,
    refreshToken: login.body.refreshToken,
    users: [party.client, party.psychologist, party.admin],
    missingWebhookId: randomUUID(),
  };
}

/** The checks after a walk; `summary`, if given, is printed once they pass. */
export function describeAfterwards(fuzz: Fuzzing, summary?: () => string): void {
  describe('afterwards', () => {
    it('the process is healthy and still serves normal requests', async () => {
      const { w } = fuzz;
      expect((await w.t.api.get('/api/health/ready')).status).toBe(200);
      const me = await w.t.api.get('/api/auth/me').set('Authorization', w.party.client.auth);
      expect(me.status).toBe(200);
      expect(me.body.id).toBe(w.party.client.id);
      const list = await w.t.api
        .get('/api/sessions?limit=100')
        .set('Authorization', w.party.admin.auth);
      expect(list.status).toBe(200);
    });

    it('nothing was half-written: the rows are exactly what the accepted requests made', async () => {
      const { w, tally, rowsBefore: before } = fuzz;
      const accepted = (id: string) => tally.accepted.get(id) ?? 0;
      const after = Object.fromEntries(
        await Promise.all(TABLES.map(async (n) => [n, await count(w.t, n)])),
      );
      expect(after).toEqual({
        ...after,
        users: before.users + accepted('register'),
        sessions: before.sessions + accepted('bookSession'),
        refresh_tokens:
          before.refresh_tokens +
          accepted('register') +
          accepted('login') +
          accepted('refreshToken'),
        webhook_endpoints:
          before.webhook_endpoints + accepted('createWebhook') - accepted('deleteWebhook'),
        // Revoking keeps the row.
        service_keys: before.service_keys + accepted('createServiceKey'),
      });
      // No one became an admin.
      expect(await w.t.dataSource.query(`SELECT email FROM users WHERE role = 'admin'`)).toEqual([
        { email: TEST_ADMIN.email },
      ]);
      // Every session's history is an unbroken chain from Pending to its current status.
      const sessions: Array<{ id: string; status: string }> = await w.t.dataSource.query(
        `SELECT id, status FROM sessions`,
      );
      for (const s of sessions) {
        const history: Array<{ from_status: string; to_status: string }> =
          await w.t.dataSource.query(
            `SELECT from_status, to_status FROM session_status_changes WHERE session_id = $1 ORDER BY id`,
            [s.id],
          );
        let status = 'Pending';
        for (const h of history) {
          expect({ session: s.id, from: h.from_status }).toEqual({ session: s.id, from: status });
          status = h.to_status;
        }
        expect({ session: s.id, status: s.status }).toEqual({ session: s.id, status });
      }
      if (summary) {
        process.stdout.write(`${summary()}\n`);
      }
    });
  });
}
