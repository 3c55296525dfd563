import type pg from 'pg';
import {
  ABANDONED_CALLS,
  dueSessions,
  LOCKED_IF_ABANDONED,
  lockedIfDue,
} from '../../src/video-call/call-deadlines.sql.js';
import {
  LOCK_SESSIONS_OF_INSTANCES,
  SELECT_DEAD_INSTANCES,
  STOP_INSTANCES,
  stopInstancesValues,
} from '../../src/video-call/presence-instances.sql.js';
import {
  joinStatement,
  leaveStatement,
  OPEN_STAYS_OF_INSTANCE,
} from '../../src/video-call/presence-stays.sql.js';
import { SESSION_STAYS } from '../../src/video-call/attendance.sql.js';
import {
  listSessions,
  SESSION_RECORD,
  STATUS_HISTORY,
  transitionStatement,
} from '../../src/sessions/sessions.sql.js';
import { CALL_DEADLINES } from '../../src/sessions/session-policies.js';
import { LIVE_BOOKINGS_BETWEEN } from '../../src/psychologists/psychologists.sql.js';
import {
  ANY_DELIVERY_DUE,
  PURGE_EXPIRED_EVENTS,
  TAKE_DUE_DELIVERY,
} from '../../src/webhooks/webhooks.sql.js';

/**
 * The project's hot statements, taken from its `*.sql.ts` files (never copied), with arguments
 * that fit a database: what S8 runs against the empty and the filled database, and explains.
 */
export interface Probe {
  name: string;
  text: string;
  values: unknown[];
  /** Run inside a transaction that is rolled back (it writes), after these statements. */
  rollback?: Array<{ text: string; values: unknown[] }>;
}

/** The settings the bench's servers run with (run.ts, and the app's defaults). */
const EMPTY_ROOM_SECONDS = 3600;
const MAX_CALL_MINUTES = 240;
const NO_SHOW_MINUTES = 15;

const minutesOf = (cause: string) =>
  cause === 'max-duration' ? MAX_CALL_MINUTES : NO_SHOW_MINUTES;

/**
 * One tick of the background loops when nothing is due, as an instance runs it every 500 ms:
 * the reconciler's three searches and the presence sweep's (dead instances, its own open stays).
 */
export function tickProbes(instanceId: string): Probe[] {
  return [
    {
      name: 'reconciler: abandoned calls',
      text: ABANDONED_CALLS.text,
      values: [EMPTY_ROOM_SECONDS],
    },
    ...CALL_DEADLINES.map((d) => ({
      name: `reconciler: ${d.cause} due`,
      text: dueSessions(d).text,
      values: [minutesOf(d.cause)],
    })),
    {
      name: 'presence sweep: dead instances',
      text: SELECT_DEAD_INSTANCES.text,
      values: SELECT_DEAD_INSTANCES.values(instanceId),
    },
    {
      name: 'presence: own open stays',
      text: OPEN_STAYS_OF_INSTANCE.text,
      values: [instanceId],
    },
  ];
}

export interface PlanSamples {
  /** A past, completed session with its participants. */
  completed: { id: string; client_id: string; psychologist_id: string };
  /** A live, paid Confirmed session with its participants. */
  live: { id: string; client_id: string; psychologist_id: string };
  /** A stopped instance that held stays. */
  oldInstance: string;
  /** The running server's instance. */
  liveInstance: string;
  /** A week of the live session's psychologist's bookings. */
  week: { from: Date; to: Date };
}

export async function planSamples(pool: pg.Pool): Promise<PlanSamples> {
  const one = async <T>(sql: string, values: unknown[] = []) => {
    const { rows } = await pool.query(sql, values);
    if (!rows[0]) {
      throw new Error(`no sample for: ${sql}`);
    }
    return rows[0] as T;
  };
  type Row = PlanSamples['completed'];
  const completed = await one<Row>(
    `SELECT id, client_id, psychologist_id FROM sessions
      WHERE status = 'Completed' AND scheduled_start < now() - interval '1 day'
      ORDER BY scheduled_start DESC LIMIT 1`,
  );
  const live = await one<Row>(
    `SELECT id, client_id, psychologist_id FROM sessions
      WHERE status = 'Confirmed' AND payment_status = 'Paid' AND scheduled_start > now() + interval '1 day'
      ORDER BY scheduled_start LIMIT 1`,
  );
  const { instance_id: oldInstance } = await one<{ instance_id: string }>(
    `SELECT instance_id FROM room_presence WHERE session_id = $1 LIMIT 1`,
    [completed.id],
  );
  const { id: liveInstance } = await one<{ id: string }>(
    `SELECT id FROM instances WHERE stopped_at IS NULL ORDER BY started_at DESC LIMIT 1`,
  );
  const from = new Date(Date.now() + 86_400_000);
  from.setUTCHours(0, 0, 0, 0);
  return {
    completed,
    live,
    oldInstance,
    liveInstance,
    week: { from, to: new Date(from.getTime() + 7 * 86_400_000) },
  };
}

/** Every hot statement with arguments from `s`: what s8-plans.txt explains. */
export function hotProbes(s: PlanSamples): Probe[] {
  const client = listSessions(
    { scope: 'client', userId: s.completed.client_id },
    { limit: 20, offset: 0 },
  );
  const psychologist = listSessions(
    { scope: 'psychologist', userId: s.completed.psychologist_id },
    { limit: 20, offset: 0 },
  );
  const start = transitionStatement({
    sessionId: s.live.id,
    cause: 'start',
    actorId: s.live.client_id,
  });
  const end = transitionStatement({
    sessionId: s.live.id,
    cause: 'end',
    actorId: s.live.client_id,
  });
  const stay = { sessionId: s.live.id, socketId: 'bench-plan-socket' };
  const join = joinStatement({
    ...stay,
    userId: s.live.client_id,
    instanceId: s.liveInstance,
    opensBy: new Date(Date.now() + 60 * 86_400_000),
    at: new Date(),
    restore: false,
  });
  const leave = leaveStatement({ ...stay, reason: 'leave', secondsAgo: 0 });
  // The app PREPAREs these with one text[] parameter (Sql.underSessionLock); here it is typed inline.
  for (const st of [join, leave]) {
    st.text = st.text.replaceAll('($1)[', '($1::text[])[');
  }
  const noShow = CALL_DEADLINES.find((d) => d.cause === 'no-show')!;
  return [
    { name: 'session read', text: SESSION_RECORD.text, values: [s.completed.id] },
    { name: 'sessions list: client page', text: client.page.text, values: client.page.values },
    { name: 'sessions list: client count', text: client.count.text, values: client.count.values },
    {
      name: 'sessions list: psychologist page',
      text: psychologist.page.text,
      values: psychologist.page.values,
    },
    {
      name: 'sessions list: psychologist count',
      text: psychologist.count.text,
      values: psychologist.count.values,
    },
    { name: 'session history', text: STATUS_HISTORY.text, values: [s.completed.id] },
    { name: 'attendance stays', text: SESSION_STAYS.text, values: [s.completed.id] },
    { name: 'start transition', text: start.text, values: start.values, rollback: [] },
    { name: 'end transition', text: end.text, values: end.values, rollback: [start] },
    { name: 'room join', text: join.text, values: [join.values], rollback: [] },
    {
      name: 'room leave',
      text: leave.text,
      values: [leave.values],
      rollback: [{ text: join.text, values: [join.values] }],
    },
    ...tickProbes(s.liveInstance),
    {
      name: 'reconciler: no-show re-check',
      text: lockedIfDue(noShow),
      values: [NO_SHOW_MINUTES, s.live.id],
      rollback: [],
    },
    {
      name: 'reconciler: abandoned re-check',
      text: LOCKED_IF_ABANDONED,
      values: [s.live.id, EMPTY_ROOM_SECONDS],
      rollback: [],
    },
    {
      name: 'presence sweep: lock sessions of a stopped instance',
      text: LOCK_SESSIONS_OF_INSTANCES,
      values: [[s.oldInstance]],
      rollback: [],
    },
    {
      name: 'presence sweep: stop an instance',
      text: STOP_INSTANCES,
      values: stopInstancesValues([{ id: s.oldInstance, stopped_at: new Date() }], 'instance-lost'),
      rollback: [],
    },
    {
      name: 'slot listing: live bookings of a week',
      text: LIVE_BOOKINGS_BETWEEN.text,
      values: [s.live.psychologist_id, s.week.from, s.week.to],
    },
    { name: 'webhooks: any delivery due', text: ANY_DELIVERY_DUE.text, values: [] },
    {
      name: 'webhooks: take a due delivery',
      text: TAKE_DUE_DELIVERY.text,
      values: [],
      rollback: [],
    },
    {
      name: 'webhooks: purge expired events',
      text: PURGE_EXPIRED_EVENTS.text,
      values: [30, 5000],
      rollback: [],
    },
  ];
}

interface PlanNode {
  'Shared Hit Blocks'?: number;
  'Shared Read Blocks'?: number;
}

/** Shared buffers (hit + read) and execution time of one probe, from EXPLAIN (ANALYZE, BUFFERS). */
export async function measureProbe(
  pool: pg.Pool,
  probe: Probe,
): Promise<{ buffers: number; ms: number }> {
  const [result] = (await explain(pool, probe, 'ANALYZE, BUFFERS, FORMAT JSON')) as Array<{
    'QUERY PLAN': Array<{ Plan: PlanNode; 'Execution Time': number }>;
  }>;
  const [plan] = result['QUERY PLAN'];
  return {
    buffers: (plan.Plan['Shared Hit Blocks'] ?? 0) + (plan.Plan['Shared Read Blocks'] ?? 0),
    ms: plan['Execution Time'],
  };
}

/** EXPLAIN (`options`) of a probe, rolled back when it writes; the result's rows. */
export async function explain(pool: pg.Pool, probe: Probe, options: string): Promise<unknown[]> {
  const c = await pool.connect();
  try {
    if (probe.rollback) {
      await c.query('BEGIN');
    }
    for (const before of probe.rollback ?? []) {
      await c.query(before.text, before.values);
    }
    const { rows } = await c.query(`EXPLAIN (${options}) ${probe.text}`, probe.values);
    return rows;
  } finally {
    if (probe.rollback) {
      await c.query('ROLLBACK').catch(() => undefined);
    }
    c.release();
  }
}
