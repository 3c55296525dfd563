import type request from 'supertest';
import { loginAdmin, type TestUser } from '../factories/users.js';
import { startTestApp, type TestApp } from './test-app.js';

/** The keys of a session in every answer of the contract, sorted. */
export const SESSION_FIELDS = [
  'id',
  'clientId',
  'psychologistId',
  'client',
  'psychologist',
  'scheduledStart',
  'durationMinutes',
  'status',
  'paymentStatus',
  'videoCallStarted',
  'videoCallEnded',
  'duration',
  'noShow',
  'createdAt',
  'updatedAt',
].sort();

export interface HistoryRow {
  from: string;
  to: string;
  at: string;
  actorId: string | null;
  actorKeyId: string | null;
  cause: string;
  /** A reschedule's old and new start; null on every status change. */
  previousStart: string | null;
  scheduledStart: string | null;
}

export const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

export const MINUTE = 60_000;
export const DAY = 24 * 60 * MINUTE;

/** A status change in a session's history as the API lists it, at any time. */
export function transition(
  from: string,
  to: string,
  cause: string,
  actorId: string | null,
  actorKeyId: string | null = null,
) {
  return {
    from,
    to,
    at: expect.stringMatching(ISO_UTC),
    actorId,
    actorKeyId,
    cause,
    previousStart: null,
    scheduledStart: null,
  };
}

/** The instant `offsetMs` from now, as the ISO text a request carries. */
export function at(offsetMs: number): string {
  return new Date(Date.now() + offsetMs).toISOString();
}

/** The app a sessions-* spec talks to, its admin, and the reads its checks share. */
export interface SessionApp {
  t: TestApp;
  admin: TestUser;
  /** The session's status changes as `GET /api/sessions/:id/history` lists them (as admin). */
  history(sessionId: string, who?: TestUser): Promise<HistoryRow[]>;
  /** The status stored in the database, whatever the API says. */
  statusOf(sessionId: string): Promise<string>;
  /** `POST /api/video-calls/start|end/:sessionId` by `who`. */
  videoCall(action: 'start' | 'end', sessionId: string, who: TestUser): request.Test;
}

/**
 * Starts the app (a fresh database) before the spec's tests and closes it after them. `t` and
 * `admin` are set by that beforeAll: read them in tests and hooks, not while the spec is declared.
 */
export function useSessionApp(): SessionApp {
  const app: SessionApp = {
    t: undefined as unknown as TestApp,
    admin: undefined as unknown as TestUser,
    async history(sessionId, who = app.admin) {
      const res = await app.t.api
        .get(`/api/sessions/${sessionId}/history`)
        .set('Authorization', who.auth);
      expect(res.status).toBe(200);
      return res.body;
    },
    async statusOf(sessionId) {
      const [row] = await app.t.dataSource.query('SELECT status FROM sessions WHERE id = $1', [
        sessionId,
      ]);
      return row.status;
    },
    videoCall(action, sessionId, who) {
      return app.t.api
        .post(`/api/video-calls/${action}/${sessionId}`)
        .set('Authorization', who.auth);
    },
  };
  beforeAll(async () => {
    app.t = await startTestApp();
    app.admin = await loginAdmin(app.t);
  });
  afterAll(() => app.t.close());
  return app;
}
