import { randomUUID } from 'node:crypto';
import type { Queryable } from '../database/sql.js';
import type { WebhookEventType } from './webhook-events.js';

export interface OutboxEvent {
  type: WebhookEventType;
  sessionId: string;
  data: Record<string, unknown>;
}

/**
 * The outbox as CTEs, for a statement that writes a change and the event reporting it together:
 * `subscribers`, `event` (one row into webhook_events when an endpoint wants the type) and
 * `queued` (one delivery per subscribed endpoint). Every argument is SQL: `eventId`, `sessionId`
 * and `data` are expressions over `source` (a FROM list; the event is written once per row of it,
 * so it must yield at most one), `when` an extra condition for subscribing at all. `prefix` is
 * put before the three names, for a statement that writes two events.
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
 * Writes an event to the outbox inside the caller's transaction, so it commits with the change
 * it reports (or not at all), and queues one delivery per endpoint subscribed to its type. One
 * statement; nothing is written when no endpoint wants the event. Events of one session are
 * written under that session's row lock, so their `seq` follows the order of the changes.
 */
export async function recordWebhookEvent(m: Queryable, event: OutboxEvent): Promise<void> {
  await m.query(
    `WITH ${outboxCtes(event.type, { eventId: '$1', sessionId: '$2::uuid', data: '$3::jsonb' })}
     SELECT 1`,
    [randomUUID(), event.sessionId, JSON.stringify(event.data)],
  );
}
