import { trackingInserts } from '../../src/sessions/session-tracking.sql.js';
import { slotSql, type FillShape } from './fill-shape.js';

/**
 * The filler's SQL. Everything is generated in the database (generate_series), a batch of
 * sessions at a time through the temporary table `fill_batch`, which decides each session's path
 * once; the sessions, their history rows, stays and webhook rows are then written from it. The
 * run's constants (its tag, service key, instant) are written into the texts: they are made here,
 * never taken from outside.
 */
export interface FillRun {
  /** Lower-case hex: part of every email, URL and hash of the run, so runs never clash. */
  tag: string;
  /** The run's "now", ISO-8601. */
  now: string;
  keyId: string;
  shape: FillShape;
}

const WEBHOOK_DAYS = 30;
/** Deterministic uuid of an SQL text expression (families of refresh tokens). */
const uuidOf = (expr: string) => `md5(${expr})::uuid`;
const iso = (expr: string) =>
  `to_char(${expr} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

function times(run: FillRun) {
  const now = `'${run.now}'::timestamptz`;
  return {
    now,
    pastFrom: `(date_trunc('day', ${now}) - interval '366 days')`,
    liveFrom: `(date_trunc('day', ${now}) + interval '2 days')`,
  };
}

export function tempTables(): string[] {
  return [
    `CREATE TEMP TABLE IF NOT EXISTS fill_psychologists (n int PRIMARY KEY, id uuid NOT NULL)`,
    `CREATE TEMP TABLE IF NOT EXISTS fill_clients (n int PRIMARY KEY, id uuid NOT NULL)`,
    `CREATE TEMP TABLE IF NOT EXISTS fill_instances (n int PRIMARY KEY, id uuid NOT NULL)`,
    `CREATE TEMP TABLE IF NOT EXISTS fill_endpoints (id uuid PRIMARY KEY, events text[] NOT NULL)`,
    `CREATE TEMP TABLE IF NOT EXISTS fill_batch (
       k bigint PRIMARY KEY, id uuid NOT NULL, client_id uuid NOT NULL, psychologist_id uuid NOT NULL,
       instance_n int NOT NULL, kind text NOT NULL, status text NOT NULL, payment_status text NOT NULL,
       start timestamptz NOT NULL, duration int NOT NULL, created_at timestamptz NOT NULL,
       paid_at timestamptz, rescheduled_at timestamptz, previous_start timestamptz,
       started timestamptz, start_cause text, start_actor uuid, ended timestamptz, end_cause text,
       cancelled_at timestamptz, cancel_reason text, no_show_at timestamptz,
       no_show_client boolean, no_show_psychologist boolean, recent boolean NOT NULL)`,
  ].concat(
    ['fill_psychologists', 'fill_clients', 'fill_instances', 'fill_endpoints', 'fill_batch'].map(
      (t) => `TRUNCATE ${t}`,
    ),
  );
}

/** Users, working hours, instances, endpoints and the payment service key; `$1`: a password hash. */
export function setupStatements(run: FillRun): string[] {
  const { tag, shape } = run;
  const { pastFrom, now } = times(run);
  const weekly = JSON.stringify(
    ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].map((day) => ({
      day,
      start: '09:00',
      end: '17:00',
    })),
  );
  return [
    `INSERT INTO fill_psychologists SELECT n, gen_random_uuid() FROM generate_series(0, ${shape.psychologists - 1}) n`,
    `INSERT INTO fill_clients SELECT n, gen_random_uuid() FROM generate_series(0, ${shape.clients - 1}) n`,
    `INSERT INTO users (id, email, name, role, password_hash, created_at, bio, time_zone)
     SELECT id, 'psychologist-' || n || '-${tag}@history.test', 'Dr. History ' || n || ' ${tag}',
            'psychologist', $1, ${pastFrom} - make_interval(days => n % 90),
            'Filled by fill-history', 'UTC'
       FROM fill_psychologists ORDER BY n`,
    `INSERT INTO users (id, email, name, role, password_hash, created_at)
     SELECT id, 'client-' || n || '-${tag}@history.test', 'Client ' || n || ' ${tag}', 'client', $1,
            ${pastFrom} + make_interval(days => n % 300)
       FROM fill_clients ORDER BY n`,
    // Half the psychologists set working hours (the others are bookable at any time).
    `INSERT INTO psychologist_availability (psychologist_id, weekly, overrides, updated_at)
     SELECT id, '${weekly}'::jsonb, '[]'::jsonb, ${pastFrom} FROM fill_psychologists WHERE n % 2 = 0`,
    // Two instances a month, each stopped at its month's end.
    `INSERT INTO fill_instances SELECT n, gen_random_uuid() FROM generate_series(0, 23) n`,
    `INSERT INTO instances (id, started_at, heartbeat_at, heartbeat_seconds, stopped_at, reachable_since, process)
     SELECT id, ${pastFrom} + (n / 2) * interval '30.5 days',
            ${pastFrom} + (n / 2 + 1) * interval '30.5 days', 5,
            ${pastFrom} + (n / 2 + 1) * interval '30.5 days',
            ${pastFrom} + (n / 2) * interval '30.5 days', 'history-${tag}:' || (1000 + n)
       FROM fill_instances`,
    `INSERT INTO service_keys (id, name, scopes, key_hash, created_at)
     VALUES ('${run.keyId}', 'payments ${tag}', ARRAY['payments:write'], sha256('${tag}'::bytea), ${pastFrom})`,
    `WITH e AS (
       INSERT INTO webhook_endpoints (url, events, secret, created_at)
       SELECT 'https://hooks.example.com/history-${tag}/' || n, events,
              'whsec_' || encode(sha256(('${tag}' || n)::bytea), 'base64'), ${pastFrom}
         FROM (VALUES (1, ARRAY['session.status_changed', 'participant.joined', 'participant.left', 'session.rescheduled']),
                      (2, ARRAY['session.status_changed']),
                      (3, ARRAY['participant.joined', 'participant.left'])) v(n, events)
       RETURNING id, events)
     INSERT INTO fill_endpoints SELECT id, events FROM e`,
    // Per user: a recent login (its first token rotated, the second still valid) and an old,
    // expired one (revoked for a third of the users).
    `INSERT INTO refresh_tokens (user_id, family_id, token_hash, created_at, expires_at, rotated_at, revoked_at)
     SELECT u.id, ${uuidOf(`u.id::text || f || '${tag}'`)},
            sha256((u.id::text || f || t || '${tag}')::bytea), login + (t - 1) * interval '15 minutes',
            login + (t - 1) * interval '15 minutes' + interval '30 days',
            CASE WHEN t = 1 THEN login + interval '15 minutes' END,
            CASE WHEN f = 2 AND u.n % 3 = 0 THEN login + interval '1 hour' END
       FROM (SELECT n, id FROM fill_clients UNION ALL SELECT n, id FROM fill_psychologists) u
      CROSS JOIN generate_series(1, 2) f CROSS JOIN generate_series(1, 2) t
      CROSS JOIN LATERAL (SELECT CASE f WHEN 1 THEN ${now} - make_interval(days => u.n % 20, hours => 1)
                                 ELSE ${now} - make_interval(days => 100 + u.n % 200) END AS login) l`,
  ];
}

/** One batch's sessions and their paths into `fill_batch` (`$1`, `$2`: first and last k). */
export function batchStatement(run: FillRun): string {
  const { now, pastFrom, liveFrom } = times(run);
  const slot = slotSql(run.shape, pastFrom, liveFrom);
  const salt = parseInt(run.tag.slice(0, 6), 16);
  return `INSERT INTO fill_batch
  WITH base AS (
    SELECT k, ${slot.live} AS live, ${slot.client} AS cn, ${slot.psychologist} AS pn, ${slot.start} AS start,
           (k * 2654435761 + ${salt}) % 4294967296 AS h
      FROM generate_series($1::bigint, $2::bigint) AS k
  ), digits AS (
    SELECT b.*, h % 100 AS r, (h / 100) % 100 AS g, (h / 10000) % 100 AS e,
           CASE (h / 1000000) % 10 WHEN 0 THEN 30 WHEN 1 THEN 45 WHEN 2 THEN 60 ELSE 50 END AS duration,
           (h / 7) % 20 = 0 AS moved
      FROM base b
  ), kinds AS (
    SELECT d.*,
           CASE WHEN live THEN CASE WHEN g < 50 THEN 'pending' ELSE 'confirmed' END
                WHEN r < 80 THEN 'completed' WHEN r < 86 THEN 'cancelled-unpaid'
                WHEN r < 92 THEN 'cancelled-paid' ELSE 'no-show' END AS kind,
           CASE WHEN live THEN ${now} - make_interval(days => (h / 10000000)::int % 5 + 1)
                ELSE start - make_interval(days => (h / 10000000)::int % 14 + 1, mins => g::int) END AS created_at
      FROM digits d
  ), paths AS (
    SELECT x.*,
           CASE WHEN kind IN ('completed', 'cancelled-paid', 'no-show', 'confirmed')
                THEN created_at + make_interval(mins => (e % 55 + 5)::int) END AS paid_at,
           CASE WHEN kind = 'completed' THEN start + make_interval(mins => (g % 7)::int) END AS started,
           CASE WHEN kind <> 'completed' THEN NULL WHEN e < 60 THEN 'end' WHEN e < 99 THEN 'auto-end'
                ELSE 'max-duration' END AS end_cause
      FROM kinds x
  ), timed AS (
    SELECT p.*,
           CASE WHEN moved THEN COALESCE(paid_at, created_at) + interval '30 minutes' END AS rescheduled_at,
           started + make_interval(mins => CASE WHEN end_cause = 'max-duration' THEN 240
                                                ELSE (duration - e % 10)::int END) AS ended
      FROM paths p
  )
  SELECT k, gen_random_uuid(), c.id, ps.id,
         LEAST(11, floor(extract(epoch FROM start - ${pastFrom}) / (30.5 * 86400)))::int * 2 + (k % 2)::int,
         kind,
         CASE kind WHEN 'completed' THEN 'Completed' WHEN 'no-show' THEN 'No Show'
                   WHEN 'pending' THEN 'Pending' WHEN 'confirmed' THEN 'Confirmed' ELSE 'Cancelled' END,
         CASE kind WHEN 'completed' THEN CASE WHEN e % 5 = 0 THEN 'Verified' ELSE 'Paid' END
                   WHEN 'cancelled-unpaid' THEN CASE WHEN g % 3 = 0 THEN 'Failed' ELSE 'Pending' END
                   WHEN 'cancelled-paid' THEN 'Refunded' WHEN 'pending' THEN 'Pending' ELSE 'Paid' END,
         start, duration, created_at, paid_at, rescheduled_at,
         CASE WHEN moved THEN start + interval '7 days' END,
         started,
         CASE WHEN started IS NULL THEN NULL WHEN g < 70 THEN 'auto-start' ELSE 'start' END,
         CASE WHEN started IS NULL OR g < 70 THEN NULL WHEN g % 2 = 0 THEN c.id ELSE ps.id END,
         ended, end_cause,
         CASE WHEN kind LIKE 'cancelled%' THEN COALESCE(rescheduled_at, paid_at, created_at) + interval '2 hours' END,
         CASE WHEN kind LIKE 'cancelled%'
              THEN (ARRAY['Schedule conflict', 'Feeling unwell', 'Travel', 'Other commitment'])[(e % 4)::int + 1] END,
         CASE WHEN kind = 'no-show' THEN start + interval '15 minutes' END,
         CASE WHEN kind = 'no-show' THEN g < 60 OR g >= 90 END,
         CASE WHEN kind = 'no-show' THEN g >= 60 END,
         start >= ${now} - interval '${WEBHOOK_DAYS} days'
    FROM timed t
    JOIN fill_clients c ON c.n = t.cn
    JOIN fill_psychologists ps ON ps.n = t.pn`;
}

export const INSERT_SESSIONS = `INSERT INTO sessions (id, client_id, psychologist_id, scheduled_start,
    scheduled_end, duration_minutes, status, payment_status, video_call_started, video_call_ended,
    call_duration_minutes, cancel_reason, no_show_client, no_show_psychologist, created_at, updated_at)
  SELECT id, client_id, psychologist_id, start, start + duration * interval '1 minute', duration,
         status, payment_status, started, ended,
         round(extract(epoch FROM ended - started) / 60), cancel_reason, no_show_client,
         no_show_psychologist, created_at,
         GREATEST(created_at, paid_at, rescheduled_at, ended, cancelled_at, no_show_at)
    FROM fill_batch ORDER BY k`;

/** The batch's live ranges and deadline rows, derived from its sessions (as the app keeps them). */
export const [INSERT_RANGES, INSERT_DEADLINES] = trackingInserts(
  'id IN (SELECT id FROM fill_batch)',
);

/** Each session's path as history rows, oldest first (their ids order them). */
export function historyStatement(run: FillRun): string {
  return `INSERT INTO session_status_changes (session_id, from_status, to_status, at, actor_id,
    actor_key_id, cause, previous_start, scheduled_start)
  SELECT b.id, x.from_status, x.to_status, x.at, x.actor_id, x.actor_key_id, x.cause, x.previous_start, x.new_start
    FROM fill_batch b CROSS JOIN LATERAL (VALUES
      ('Pending', 'Confirmed', b.paid_at, NULL::uuid, '${run.keyId}'::uuid, 'payment', NULL::timestamptz, NULL::timestamptz),
      (CASE WHEN b.paid_at IS NULL THEN 'Pending' ELSE 'Confirmed' END,
       CASE WHEN b.paid_at IS NULL THEN 'Pending' ELSE 'Confirmed' END,
       b.rescheduled_at, b.client_id, NULL, 'reschedule', b.previous_start, b.start),
      ('Confirmed', 'In Progress', b.started, b.start_actor, NULL, b.start_cause, NULL, NULL),
      ('In Progress', 'Completed', b.ended,
       CASE WHEN b.end_cause = 'end' THEN b.psychologist_id END, NULL, b.end_cause, NULL, NULL),
      (CASE WHEN b.paid_at IS NULL THEN 'Pending' ELSE 'Confirmed' END, 'Cancelled', b.cancelled_at,
       b.client_id, NULL, 'cancel', NULL, NULL),
      ('Confirmed', 'No Show', b.no_show_at, NULL, NULL, 'no-show', NULL, NULL)
    ) AS x(from_status, to_status, at, actor_id, actor_key_id, cause, previous_start, new_start)
   WHERE x.at IS NOT NULL
   ORDER BY b.k, x.at`;
}

/**
 * The stays: in a completed call the client drops and comes back, the psychologist opens a second
 * tab for a while; in a no-show the one who came waits 15 minutes. All closed.
 */
export const INSERT_STAYS = `INSERT INTO room_presence (session_id, user_id, role, socket_id, instance_id,
    joined_at, left_at, left_reason)
  SELECT b.id, x.user_id, x.role, left(md5(b.id::text || x.n), 20), i.id, x.joined, x.left_at, x.reason
    FROM fill_batch b
    JOIN fill_instances i ON i.n = b.instance_n
    CROSS JOIN LATERAL (SELECT b.started + make_interval(
        mins => (0.4 * extract(epoch FROM b.ended - b.started) / 60)::int) AS dropped,
        CASE WHEN b.end_cause = 'auto-end' THEN 'leave' ELSE 'session-ended' END AS last) m
    CROSS JOIN LATERAL (VALUES
      (1, b.client_id, 'client', b.started - interval '2 minutes', m.dropped, 'disconnect'),
      (2, b.client_id, 'client', m.dropped + interval '1 minute', b.ended, m.last),
      (3, b.psychologist_id, 'psychologist', b.started, b.ended, m.last),
      (4, b.psychologist_id, 'psychologist', b.started + interval '5 minutes',
          b.started + interval '10 minutes', 'leave'),
      (5, b.client_id, 'client', CASE WHEN NOT b.no_show_client THEN b.start - interval '1 minute' END,
          b.no_show_at, 'session-ended'),
      (6, b.psychologist_id, 'psychologist',
          CASE WHEN NOT b.no_show_psychologist THEN b.start - interval '1 minute' END,
          b.no_show_at, 'session-ended')
    ) AS x(n, user_id, role, joined, left_at, reason)
   WHERE x.joined IS NOT NULL
   ORDER BY b.k, x.joined`;

/**
 * The webhook rows the retention period keeps (WEBHOOK_RETENTION_DAYS' default, the last 30
 * days): an event per history row and per join and leave, delivered at the first attempt to every
 * endpoint that wants its type.
 */
export function webhooksStatement(run: FillRun): string {
  const retainedFrom = `${times(run).now} - interval '${WEBHOOK_DAYS} days'`;
  return `WITH source AS (
    SELECT h.session_id, h.at,
           CASE WHEN h.cause = 'reschedule' THEN 'session.rescheduled' ELSE 'session.status_changed' END AS type,
           CASE WHEN h.cause = 'reschedule'
                THEN jsonb_build_object('sessionId', h.session_id, 'previousStart', ${iso('h.previous_start')},
                       'scheduledStart', ${iso('h.scheduled_start')}, 'actorId', h.actor_id, 'at', ${iso('h.at')})
                ELSE jsonb_build_object('sessionId', h.session_id, 'from', h.from_status, 'to', h.to_status,
                       'cause', h.cause, 'actorId', h.actor_id, 'actorKeyId', h.actor_key_id, 'at', ${iso('h.at')})
           END AS data
      FROM fill_batch b JOIN session_status_changes h ON h.session_id = b.id WHERE b.recent
    UNION ALL
    SELECT p.session_id, x.at, x.type,
           jsonb_build_object('sessionId', p.session_id, 'userId', p.user_id, 'role', p.role, 'at', ${iso('x.at')})
      FROM fill_batch b JOIN room_presence p ON p.session_id = b.id
     CROSS JOIN LATERAL (VALUES ('participant.joined', p.joined_at), ('participant.left', p.left_at)) x(type, at)
     WHERE b.recent
  ), events AS (
    INSERT INTO webhook_events (id, type, session_id, data, created_at)
    SELECT gen_random_uuid(), type, session_id, data, at FROM source
     WHERE at >= ${retainedFrom} ORDER BY at
    RETURNING id, seq, type, session_id, created_at
  ), deliveries AS (
    INSERT INTO webhook_deliveries (endpoint_id, event_id, event_seq, session_id, state, attempt_count,
                                    next_attempt_at, created_at)
    SELECT e.id, ev.id, ev.seq, ev.session_id, 'delivered', 1, ev.created_at, ev.created_at
      FROM events ev JOIN fill_endpoints e ON ev.type = ANY (e.events)
    RETURNING id, created_at
  )
  INSERT INTO webhook_attempts (delivery_id, at, response_status)
  SELECT id, created_at + interval '300 milliseconds', 200 FROM deliveries`;
}

/** The tables the filler writes, for its closing count and ANALYZE. */
export const FILLED_TABLES = [
  'users',
  'psychologist_availability',
  'refresh_tokens',
  'instances',
  'sessions',
  'session_ranges',
  'session_deadlines',
  'session_status_changes',
  'room_presence',
  'webhook_events',
  'webhook_deliveries',
  'webhook_attempts',
] as const;
