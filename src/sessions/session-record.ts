import type { PaymentStatus, SessionStatus } from './session-transitions.js';
import type { Session } from './session.entity.js';

/**
 * A session with its two parties' names: what every session answer is built from. A `Session`
 * entity loaded with both relations is one; so is a row of `SESSION_RECORD_SQL` mapped by
 * `sessionRecordOf`.
 */
export type SessionRecord = Omit<Session, 'client' | 'psychologist'> & {
  client?: { name: string };
  psychologist?: { name: string };
};

/** The columns of `sessions` (as `s`) and both names, for hand-written reads and RETURNING. */
export const SESSION_RECORD_COLUMNS = `s.id, s.client_id, s.psychologist_id, s.scheduled_start,
  s.scheduled_end, s.duration_minutes, s.status, s.payment_status, s.video_call_started,
  s.video_call_ended, s.call_duration_minutes, s.cancel_reason, s.no_show_client,
  s.no_show_psychologist, s.created_at, s.updated_at`;

/** One session by id with both names. */
export const SESSION_RECORD_SQL = `SELECT ${SESSION_RECORD_COLUMNS}, c.name AS client_name, p.name AS psychologist_name
  FROM sessions s
  JOIN users c ON c.id = s.client_id
  JOIN users p ON p.id = s.psychologist_id
 WHERE s.id = $1`;

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
