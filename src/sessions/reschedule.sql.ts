import { randomUUID } from 'node:crypto';
import { PositionalArgs, sqlLiteral, sqlLiteralArray } from '../database/statement-args.js';
import { outboxCtes } from '../webhooks/webhooks.sql.js';
import { RESCHEDULABLE_STATUSES } from './session-transitions.js';
import { rescheduleTrackingCtes } from './session-tracking.sql.js';
import { SESSION_RECORD_COLUMNS } from './sessions.sql.js';

export interface RescheduleInput {
  sessionId: string;
  actorId: string;
  scheduledStart: Date;
  scheduledEnd: Date;
  durationMinutes: number;
  /** Sessions starting by then have an open room (`roomsOpenStartingBy`): too late to move. */
  opensBy: Date;
}

const CAUSE = sqlLiteral('reschedule');

const iso = (column: string) =>
  `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * The whole reschedule as one statement: lock the row, move it only while its status allows it
 * and its room has not opened, write its history row (the status kept, both starts) and, when an
 * endpoint wants it, its webhook event. The exclusion constraints decide collisions: the moved
 * live range raises 23P01 when it overlaps another live booking (its own old slot is the same
 * row, so it never does). No row back: the session was not reschedulable (or does not exist). Returned:
 * the session after the move with both names, the old start and the history row's time.
 */
export function rescheduleStatement(input: RescheduleInput): {
  name: string;
  text: string;
  values: unknown[];
} {
  const args = new PositionalArgs();
  const sessionId = args.add(input.sessionId, 'uuid');
  const actorId = args.add(input.actorId, 'uuid');
  const start = args.add(input.scheduledStart, 'timestamptz');
  const end = args.add(input.scheduledEnd, 'timestamptz');
  const duration = args.add(input.durationMinutes, 'int');
  const opensBy = args.add(input.opensBy, 'timestamptz');
  const eventId = args.add(randomUUID(), 'uuid');
  const text = `WITH prev AS (
       SELECT id, scheduled_start, GREATEST(now(), updated_at) AS changed_at FROM sessions
        WHERE id = ${sessionId} FOR UPDATE
     ), moved AS (
       UPDATE sessions s
          SET scheduled_start = ${start}, scheduled_end = ${end}, duration_minutes = ${duration},
              updated_at = prev.changed_at
         FROM prev
        WHERE s.id = prev.id AND s.status = ANY(${sqlLiteralArray(RESCHEDULABLE_STATUSES)})
          AND s.scheduled_start > ${opensBy}
        RETURNING ${SESSION_RECORD_COLUMNS}, prev.scheduled_start AS previous_start, prev.changed_at
     ), logged AS (
       INSERT INTO session_status_changes
              (session_id, from_status, to_status, at, actor_id, cause, previous_start, scheduled_start)
       SELECT id, status, status, changed_at, ${actorId}, ${CAUSE}, previous_start, scheduled_start
         FROM moved
       RETURNING at
     ), ${rescheduleTrackingCtes(sessionId, start, end)}
     -- The event commits with the move it reports, under the row lock (so its seq is in order).
     ${outboxCtes('session.rescheduled', {
       eventId,
       sessionId: 'm.id',
       data: `jsonb_build_object(
                'sessionId', m.id, 'previousStart', ${iso('m.previous_start')},
                'scheduledStart', ${iso('m.scheduled_start')},
                'durationMinutes', m.duration_minutes, 'actorId', ${actorId},
                'at', ${iso('l.at')})`,
       source: 'moved m CROSS JOIN logged l',
     })}
     SELECT m.*, l.at, c.name AS client_name, p.name AS psychologist_name
       FROM moved m
       CROSS JOIN logged l
       JOIN users c ON c.id = m.client_id
       JOIN users p ON p.id = m.psychologist_id`;
  return { name: 'session-reschedule', text, values: args.values };
}
