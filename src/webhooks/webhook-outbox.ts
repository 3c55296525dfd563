import { randomUUID } from 'node:crypto';
import type { Queryable } from '../database/sql.js';
import type { WebhookEventType } from './webhook-events.js';

export interface OutboxEvent {
  type: WebhookEventType;
  sessionId: string;
  data: Record<string, unknown>;
}

/**
 * Writes an event to the outbox inside the caller's transaction, so it commits with the change
 * it reports (or not at all), and queues one delivery per endpoint subscribed to its type. One
 * statement; nothing is written when no endpoint wants the event. Events of one session are
 * written under that session's row lock, so their `seq` follows the order of the changes.
 */
export async function recordWebhookEvent(m: Queryable, event: OutboxEvent): Promise<void> {
  await m.query(
    `WITH subscribers AS (
       SELECT id FROM webhook_endpoints WHERE $2 = ANY(events)
     ), ev AS (
       INSERT INTO webhook_events (id, type, session_id, data)
       SELECT $1, $2, $3, $4::jsonb WHERE EXISTS (SELECT 1 FROM subscribers)
       RETURNING id, seq
     )
     INSERT INTO webhook_deliveries (endpoint_id, event_id, event_seq, session_id)
     SELECT s.id, ev.id, ev.seq, $3 FROM subscribers s CROSS JOIN ev`,
    [randomUUID(), event.type, event.sessionId, JSON.stringify(event.data)],
  );
}
