import { randomUUID } from 'node:crypto';
import {
  PositionalArgs,
  sqlLiteral,
  sqlLiteralArray,
  type StatementArgs,
} from '../database/statement-args.js';
import { outboxCtes } from '../webhooks/webhooks.sql.js';
import type { TransitionInput } from './session-lifecycle.service.js';
import { transitionTrackingCtes } from './session-tracking.sql.js';
import {
  BOOKED,
  CONFIRMED_PAYMENT_STATUSES,
  isTerminal,
  transitionFor,
} from './session-transitions.js';

/**
 * Every statement of the sessions feature (booking, reads, payment, history, transitions). The
 * statuses and causes come from `session-transitions.ts` and are written into the texts, so a
 * rule is changed there, not here.
 */

/** The columns of `sessions` (as `s`) and both names, for reads and RETURNING. */
export const SESSION_RECORD_COLUMNS = `s.id, s.client_id, s.psychologist_id, s.scheduled_start,
  s.scheduled_end, s.duration_minutes, s.status, s.payment_status, s.video_call_started,
  s.video_call_ended, s.call_duration_minutes, s.cancel_reason, s.no_show_client,
  s.no_show_psychologist, s.created_at, s.updated_at`;

const WITH_NAMES = `JOIN users c ON c.id = s.client_id
  JOIN users p ON p.id = s.psychologist_id`;

/** One session by id with both names: every access check and session answer starts here. */
export const SESSION_RECORD = {
  name: 'session-record',
  text: `SELECT ${SESSION_RECORD_COLUMNS}, c.name AS client_name, p.name AS psychologist_name
  FROM sessions s
  ${WITH_NAMES}
 WHERE s.id = $1`,
};

/** A user's role: an admin's booking must name a client (the psychologist's: ROLE_AND_HOURS). */
export const USER_ROLE = { name: 'user-role', text: `SELECT role FROM users WHERE id = $1` };

/**
 * A booking, in the BOOKED status and payment status, with its live range: the exclusion
 * constraints on `session_ranges` are the no-overlap rule. `ON CONFLICT DO NOTHING` makes the
 * range's insert a speculative insertion: PostgreSQL looks for a conflicting booking before it
 * enters the row, and then waits only for an older inserter. A plain INSERT enters its row first,
 * so bookings of one psychologist arriving together all wait for each other: deadlocks, each found
 * after deadlock_timeout (CI saw 20 take over a minute). The session is written only when its
 * range was. No row back: the slot is taken.
 */
export const INSERT_BOOKING = {
  name: 'session-insert',
  text: `WITH ranged AS (
       INSERT INTO session_ranges (session_id, client_id, psychologist_id, scheduled_start, scheduled_end)
       VALUES (gen_random_uuid(), $1, $2, $3, $4)
       ON CONFLICT DO NOTHING RETURNING *
     )
     INSERT INTO sessions (id, client_id, psychologist_id, scheduled_start, scheduled_end,
                           duration_minutes, status, payment_status)
     SELECT session_id, client_id, psychologist_id, scheduled_start, scheduled_end, $5,
            ${sqlLiteral(BOOKED.status)}, ${sqlLiteral(BOOKED.paymentStatus)}
       FROM ranged
     RETURNING id`,
};

/** Whose sessions a list shows: a client's, a psychologist's, or (an admin) everyone's. */
export interface ListFilter {
  scope: 'client' | 'psychologist' | 'all';
  userId: string;
  status?: string;
}

interface Statement {
  name: string;
  text: string;
  values: unknown[];
}

/**
 * A page of the sessions visible to the caller, newest scheduledStart first (ties: newest id),
 * and their total. One text per scope and filter, so that each prepared statement's plan uses
 * its own index ((client_id | psychologist_id, scheduled_start DESC), or (scheduled_start
 * DESC)); a `$1 IS NULL OR ...` condition would leave one generic plan for all of them.
 */
export function listSessions(
  filter: ListFilter,
  page: { limit: number; offset: number },
): { page: Statement; count: Statement } {
  const args = new PositionalArgs();
  const where: string[] = [];
  if (filter.scope !== 'all') {
    where.push(`s.${filter.scope}_id = ${args.add(filter.userId, 'uuid')}`);
  }
  if (filter.status !== undefined) {
    where.push(`s.status = ${args.add(filter.status, 'text')}`);
  }
  const condition = where.length ? `WHERE ${where.join(' AND ')}` : '';
  const name = `sessions-list:${filter.scope}:${filter.status === undefined ? 'any' : 'status'}`;
  const count = {
    name: `${name}:count`,
    text: `SELECT count(*)::int AS total FROM sessions s ${condition}`,
    values: [...args.values],
  };
  const limit = args.add(page.limit, 'int');
  const offset = args.add(page.offset, 'int');
  return {
    page: {
      name,
      text: `SELECT ${SESSION_RECORD_COLUMNS}, c.name AS client_name, p.name AS psychologist_name
  FROM sessions s
  ${WITH_NAMES}
  ${condition}
 ORDER BY s.scheduled_start DESC, s.id DESC
 LIMIT ${limit} OFFSET ${offset}`,
      values: args.values,
    },
    count,
  };
}

/**
 * The payment provider's status, relayed by an admin; in one transaction with the payment
 * transition (Pending -> Confirmed) that a confirming status applies. Yields the status it
 * replaced, read under the row's lock (so concurrent payments each see the one before theirs):
 * a change that moves no status is announced as an update.
 */
export const SET_PAYMENT_STATUS = `UPDATE sessions s SET payment_status = $2,
       updated_at = GREATEST(now(), was.updated_at)
  FROM (SELECT id, payment_status, updated_at FROM sessions WHERE id = $1 FOR UPDATE) was
 WHERE s.id = was.id
 RETURNING was.payment_status AS previous`;

/** A session's status changes, oldest first ((session_id, id) index). */
export const STATUS_HISTORY = {
  name: 'session-history',
  text: `SELECT from_status, to_status, at, actor_id, actor_key_id, cause, previous_start, scheduled_start
  FROM session_status_changes WHERE session_id = $1 ORDER BY id`,
};

/**
 * The whole transition as one statement: lock the row, move it only from an allowed status (and
 * only when the cause's own conditions hold), write its history row and, when an endpoint wants
 * it, its webhook event and deliveries. No row back: the session was not in a `from` status (or
 * does not exist). Returned: the session after the change with both names, the old status and
 * the history row's time.
 */
export function transitionStatement(input: TransitionInput): {
  name: string;
  text: string;
  values: unknown[];
} {
  const args = new PositionalArgs();
  const { ctes, select } = transitionParts(input, args);
  return { name: `transition:${input.cause}`, text: `WITH ${ctes} ${select}`, values: args.values };
}

/**
 * The transition's CTEs (`prev`, `moved`, `logged` and the outbox's, prefixed `status_`) and the
 * SELECT of its result, for a statement of its own or as part of a larger one (a room join that
 * starts the call). `when` is one more SQL condition for the move, over the statement's other
 * CTEs. The statuses and the cause come from the code's table and are written into the text, so
 * one cause is one statement text.
 */
export function transitionParts(
  input: TransitionInput,
  args: StatementArgs,
  when?: string,
): { ctes: string; select: string } {
  const rule = transitionFor(input.cause);
  const sessionId = args.add(input.sessionId, 'uuid');
  const actorId = args.add(input.actorId, 'uuid');
  const actorKeyId = args.add(input.actorKeyId ?? null, 'uuid');
  const cause = sqlLiteral(input.cause);
  const set: string[] = [];
  const where: string[] = when ? [when] : [];
  switch (input.cause) {
    case 'start':
    case 'auto-start':
      set.push('video_call_started = prev.changed_at');
      where.push(`s.payment_status = ANY(${sqlLiteralArray(CONFIRMED_PAYMENT_STATUSES)})`);
      break;
    case 'end':
    case 'auto-end':
    case 'max-duration': {
      const endedAt = `GREATEST(COALESCE(${args.add(input.endedAt ?? null, 'timestamptz')}, prev.changed_at), s.video_call_started)`;
      set.push(
        `video_call_ended = ${endedAt}`,
        `call_duration_minutes = round(extract(epoch FROM ${endedAt} - s.video_call_started) / 60)`,
      );
      break;
    }
    case 'cancel':
      set.push(`cancel_reason = ${args.add(input.reason ?? null, 'text')}`);
      break;
    case 'no-show':
      // Who never came, from the presence record, fixed with the transition.
      set.push(
        `no_show_client = NOT EXISTS (SELECT 1 FROM room_presence rp WHERE rp.session_id = s.id AND rp.user_id = s.client_id)`,
        `no_show_psychologist = NOT EXISTS (SELECT 1 FROM room_presence rp WHERE rp.session_id = s.id AND rp.user_id = s.psychologist_id)`,
      );
      break;
    case 'payment':
      break;
  }
  // The change's time: now(), the start of this transaction, unless the change it waited for
  // under the row lock is later (a transaction that began first may commit second): so the history
  // of a session is in the order of its changes, and a start's time is its history row's.
  const ctes = `prev AS (
       SELECT id, status, GREATEST(now(), updated_at) AS changed_at FROM sessions
        WHERE id = ${sessionId} FOR UPDATE
     ), moved AS (
       UPDATE sessions s
          SET status = ${sqlLiteral(rule.to)}, updated_at = prev.changed_at${set.map((x) => `, ${x}`).join('')}
         FROM prev
        WHERE s.id = prev.id AND s.status = ANY(${sqlLiteralArray(rule.from)})${where.map((x) => ` AND ${x}`).join('')}
        RETURNING ${SESSION_RECORD_COLUMNS}, prev.status AS from_status, prev.changed_at
     ), logged AS (
       INSERT INTO session_status_changes (session_id, from_status, to_status, at, actor_id, actor_key_id, cause)
       SELECT id, from_status, status, changed_at, ${actorId}, ${actorKeyId}, ${cause} FROM moved
       RETURNING at
     ), ${transitionTrackingCtes(rule, sessionId)}${
       isTerminal(rule.to)
         ? ` room_closed AS (
       -- A session that is over has no room: its stays end with it, in the same commit (the
       -- gateway takes the sockets out when it hears of the change).
       UPDATE room_presence SET left_at = GREATEST(now(), joined_at), left_reason = 'session-ended'
        WHERE session_id = ${sessionId} AND left_at IS NULL AND EXISTS (SELECT 1 FROM moved)
     ),`
         : ''
     }
     -- The webhook event commits with the change it reports, or not at all; written under the
     -- session's row lock, so its seq follows the order of the changes.
     ${outboxCtes('session.status_changed', {
       prefix: 'status_',
       eventId: args.add(randomUUID(), 'uuid'),
       sessionId: 'm.id',
       data: `jsonb_build_object(
                'sessionId', m.id, 'from', m.from_status, 'to', m.status, 'cause', ${cause},
                'actorId', ${actorId}, 'actorKeyId', ${actorKeyId},
                'at', to_char(l.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))`,
       source: 'moved m CROSS JOIN logged l',
     })}`;
  const select = `SELECT m.*, l.at, c.name AS client_name, p.name AS psychologist_name
       FROM moved m
       CROSS JOIN logged l
       JOIN users c ON c.id = m.client_id
       JOIN users p ON p.id = m.psychologist_id`;
  return { ctes, select };
}
