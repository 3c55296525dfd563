import type { WebhookEventType } from './webhook-events.js';

/**
 * The webhooks' SQL: the outbox that other features' statements write into, the dispatcher's
 * delivery queries, and the endpoints admins manage.
 */

/**
 * The outbox as CTEs, for a statement that writes a change and the event reporting it together,
 * so the event commits with the change (or not at all): `subscribers`, `event` (one row into
 * webhook_events when an endpoint wants the type) and `queued` (one delivery per subscribed
 * endpoint). Every argument is SQL: `eventId`, `sessionId` and `data` are expressions over
 * `source` (a FROM list; the event is written once per row of it), `when` an extra condition for
 * subscribing at all. `prefix` is put before the three names, for a statement that writes two
 * events. Written under the session's row lock, so a session's events get `seq` in order.
 */
export function outboxCtes(
  type: WebhookEventType,
  sql: {
    eventId: string;
    sessionId: string;
    data: string;
    source?: string;
    when?: string;
    prefix?: string;
  },
): string {
  const [subscribers, event, queued] = ['subscribers', 'event', 'queued'].map(
    (name) => `${sql.prefix ?? ''}${name}`,
  );
  return `${subscribers} AS (
       SELECT id FROM webhook_endpoints
        WHERE '${type}' = ANY(events)${sql.when ? ` AND ${sql.when}` : ''}
     ), ${event} AS (
       INSERT INTO webhook_events (id, type, session_id, data)
       SELECT ${sql.eventId}, '${type}', ${sql.sessionId}, ${sql.data}
       ${sql.source ? `FROM ${sql.source}` : ''}
        WHERE EXISTS (SELECT 1 FROM ${subscribers})
       RETURNING id, seq, session_id
     ), ${queued} AS (
       INSERT INTO webhook_deliveries (endpoint_id, event_id, event_seq, session_id)
       SELECT sub.id, e.id, e.seq, e.session_id FROM ${subscribers} sub CROSS JOIN ${event} e
     )`;
}

/**
 * Events older than `$1` days with nothing left to send, at most `$2`, deleted with their
 * deliveries and attempts (ON DELETE CASCADE). SKIP LOCKED: instances purging together split them.
 */
export const PURGE_EXPIRED_EVENTS = {
  name: 'webhooks-purge-expired',
  text: `WITH expired AS (
         SELECT e.id FROM webhook_events e
          WHERE e.created_at < now() - make_interval(days => $1)
            AND NOT EXISTS (
                  SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id AND d.state = 'pending')
          ORDER BY e.created_at
          LIMIT $2
          FOR UPDATE SKIP LOCKED
       ), purged AS (
         DELETE FROM webhook_events e USING expired x WHERE e.id = x.id RETURNING e.id
       )
       SELECT id FROM purged`,
};

/** Whether any delivery is due: one look at the partial index of pending deliveries. */
export const ANY_DELIVERY_DUE = {
  name: 'webhooks-any-due',
  text: `SELECT EXISTS (SELECT 1 FROM webhook_deliveries WHERE state = 'pending' AND next_attempt_at <= now()) AS due`,
};

/**
 * The next due delivery, locked while it is sent (SKIP LOCKED: never sent by two instances at
 * once; a crash frees it for the next taker). Not while an earlier one of the same session to the
 * same endpoint is pending: each endpoint sees a session's events in order.
 */
export const TAKE_DUE_DELIVERY = {
  name: 'webhooks-take-due',
  text: `SELECT d.id, d.attempt_count, e.url, e.secret, ev.id AS event_id, ev.type, ev.data, ev.created_at
         FROM webhook_deliveries d
         JOIN webhook_endpoints e ON e.id = d.endpoint_id
         JOIN webhook_events ev ON ev.id = d.event_id
        WHERE d.state = 'pending' AND d.next_attempt_at <= now()
          AND NOT EXISTS (
                SELECT 1 FROM webhook_deliveries p
                 WHERE p.endpoint_id = d.endpoint_id AND p.session_id = d.session_id
                   AND p.state = 'pending' AND p.event_seq < d.event_seq)
        ORDER BY d.next_attempt_at, d.event_seq
        LIMIT 1
        FOR UPDATE OF d SKIP LOCKED`,
};

/** One attempt of a delivery: its answer (`$2`, null when none came) or its error. */
export const RECORD_ATTEMPT = `INSERT INTO webhook_attempts (delivery_id, response_status, error) VALUES ($1, $2, $3)`;

/** The delivery after an attempt: its count, its state and when it is due again (`$4` s). */
export const SCHEDULE_DELIVERY = `UPDATE webhook_deliveries
          SET attempt_count = $2, state = $3, next_attempt_at = now() + make_interval(secs => $4)
        WHERE id = $1`;

export const INSERT_ENDPOINT = {
  name: 'webhooks-insert-endpoint',
  text: `INSERT INTO webhook_endpoints (url, events, secret) VALUES ($1, $2, $3)
       RETURNING id, url, events, created_at`,
};

export const LIST_ENDPOINTS = {
  name: 'webhooks-list-endpoints',
  text: `SELECT id, url, events, created_at FROM webhook_endpoints ORDER BY created_at, id`,
};

/** Deleting an endpoint deletes its deliveries (ON DELETE CASCADE); no row: there was none. */
export const DELETE_ENDPOINT = {
  name: 'webhooks-delete-endpoint',
  text: `WITH gone AS (DELETE FROM webhook_endpoints WHERE id = $1 RETURNING id) SELECT id FROM gone`,
};

export const ENDPOINT_EXISTS = {
  name: 'webhooks-endpoint-exists',
  text: `SELECT 1 FROM webhook_endpoints WHERE id = $1`,
};

/** An endpoint's latest `$2` deliveries, newest first, each with its attempts in order. */
export const DELIVERIES_OF_ENDPOINT = {
  name: 'webhooks-deliveries-of-endpoint',
  text: `SELECT d.id, d.event_id, ev.type, d.state,
              COALESCE((SELECT json_agg(json_build_object(
                          'at', to_char(a.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                          'responseStatus', a.response_status, 'error', a.error) ORDER BY a.id)
                          FROM webhook_attempts a WHERE a.delivery_id = d.id), '[]') AS attempts
         FROM webhook_deliveries d JOIN webhook_events ev ON ev.id = d.event_id
        WHERE d.endpoint_id = $1
        ORDER BY d.event_seq DESC
        LIMIT $2`,
};
