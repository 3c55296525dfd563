import type { PaymentStatus, SessionStatus } from './session-transitions.js';
import type { Session } from './session.entity.js';

/**
 * A session with its two parties' names: what every session answer is built from. A `Session`
 * entity loaded with both relations is one; so is a row of `SESSION_RECORD` (sessions.sql.ts) mapped by
 * `sessionRecordOf`.
 */
export type SessionRecord = Omit<Session, 'client' | 'psychologist'> & {
  client?: { name: string };
  psychologist?: { name: string };
};

/** A row of `SESSION_RECORD` (sessions.sql.ts) or of a statement returning the same columns. */
export interface SessionRecordRow {
  id: string;
  client_id: string;
  psychologist_id: string;
  scheduled_start: Date;
  scheduled_end: Date;
  duration_minutes: number;
  status: SessionStatus;
  payment_status: PaymentStatus;
  video_call_started: Date | null;
  video_call_ended: Date | null;
  call_duration_minutes: number | null;
  cancel_reason: string | null;
  no_show_client: boolean | null;
  no_show_psychologist: boolean | null;
  created_at: Date;
  updated_at: Date;
  client_name: string;
  psychologist_name: string;
}

export function sessionRecordOf(row: SessionRecordRow): SessionRecord {
  return {
    id: row.id,
    clientId: row.client_id,
    psychologistId: row.psychologist_id,
    client: { name: row.client_name },
    psychologist: { name: row.psychologist_name },
    scheduledStart: row.scheduled_start,
    scheduledEnd: row.scheduled_end,
    durationMinutes: row.duration_minutes,
    status: row.status,
    paymentStatus: row.payment_status,
    videoCallStarted: row.video_call_started,
    videoCallEnded: row.video_call_ended,
    duration: row.call_duration_minutes,
    cancelReason: row.cancel_reason,
    noShowClient: row.no_show_client,
    noShowPsychologist: row.no_show_psychologist,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
