import {
  SYSTEM_CAUSES,
  TRANSITIONS,
  TRANSITION_CAUSES,
  type SessionStatus,
  type TransitionCause,
} from '../../src/sessions/session-transitions.js';
import type { Party, SessionJson } from '../factories/sessions.js';
import type { TestApp } from './test-app.js';
import {
  GRACE_SECONDS,
  iso,
  sessionRow,
  type HistoryRow,
  type PresenceRow,
  type Run,
} from './interleavings-run.js';

/** The end state of a run against the transition table and the contract. */
export async function checkEndState(t: TestApp, run: Run, id: string, party: Party): Promise<void> {
  const rows: HistoryRow[] = await t.dataSource.query(
    `SELECT from_status, to_status, cause, actor_id, actor_key_id, at, previous_start, scheduled_start FROM session_status_changes
      WHERE session_id = $1 ORDER BY id`,
    [id],
  );
  const session = await sessionRow(t, id);
  const presence: PresenceRow[] = await t.dataSource.query(
    `SELECT * FROM room_presence WHERE session_id = $1 ORDER BY id`,
    [id],
  );
  const apiSession = await t.api.get(`/api/sessions/${id}`).set('Authorization', party.client.auth);
  const apiHistory = await t.api
    .get(`/api/sessions/${id}/history`)
    .set('Authorization', party.psychologist.auth);
  run.note(
    `history: ${rows.map((r) => `${r.from_status} -${r.cause}-> ${r.to_status}`).join(', ') || '(none)'}`,
  );

  // The history is a path through the transition table, from Pending.
  let at: SessionStatus = 'Pending';
  for (const [i, r] of rows.entries()) {
    const rule = TRANSITION_CAUSES.includes(r.cause) ? TRANSITIONS[r.cause] : undefined;
    run.check(
      r.from_status === at,
      `history row ${i} starts from ${r.from_status}, the session was ${at}`,
    );
    run.check(
      rule !== undefined && rule.from.includes(r.from_status) && rule.to === r.to_status,
      `history row ${i} (${r.from_status} -${r.cause}-> ${r.to_status}) is not in the transition table`,
    );
    at = r.to_status;
  }
  const entered = (status: SessionStatus) => rows.filter((r) => r.to_status === status);
  run.check(entered('In Progress').length <= 1, 'more than one start recorded');
  run.check(entered('Completed').length <= 1, 'more than one end recorded');

  // Who acted: the system for system causes, the right person otherwise.
  const participants = [party.client.id, party.psychologist.id];
  const allowedActors: Record<TransitionCause, Array<string | null>> = {
    payment: [party.admin.id],
    start: participants,
    end: [...participants, party.admin.id],
    cancel: [...participants, party.admin.id],
    'auto-start': [null],
    'auto-end': [null],
    'max-duration': [null],
    'no-show': [null],
  };
  for (const [i, r] of rows.entries()) {
    run.check(
      (allowedActors[r.cause] ?? []).includes(r.actor_id) &&
        (r.actor_id === null) === SYSTEM_CAUSES.includes(r.cause),
      `history row ${i} (${r.cause}) has actor ${r.actor_id}`,
    );
  }
  // History is listed oldest first.
  for (let i = 1; i < rows.length; i++) {
    run.check(
      rows[i].at.getTime() >= rows[i - 1].at.getTime(),
      `history row ${i} at ${iso(rows[i].at)} is earlier than row ${i - 1} at ${iso(rows[i - 1].at)}`,
    );
  }

  // The API tells the same story as the database.
  run.check(
    apiHistory.status === 200 &&
      JSON.stringify(apiHistory.body) ===
        JSON.stringify(
          rows.map((r) => ({
            from: r.from_status,
            to: r.to_status,
            at: iso(r.at),
            actorId: r.actor_id,
            actorKeyId: r.actor_key_id,
            cause: r.cause,
            previousStart: iso(r.previous_start),
            scheduledStart: iso(r.scheduled_start),
          })),
        ),
    `GET history answered ${apiHistory.status} ${JSON.stringify(apiHistory.body)}, the database has ${rows.length} rows`,
  );
  const s = apiSession.body as SessionJson;
  run.check(apiSession.status === 200, `GET session answered ${apiSession.status}`);
  run.check(
    s.status === at && session.status === at,
    `the session is ${s.status} (database ${session.status}), its history ends at ${at}`,
  );
  run.check(
    s.videoCallStarted === iso(session.video_call_started) &&
      s.videoCallEnded === iso(session.video_call_ended) &&
      s.duration === session.call_duration_minutes,
    `GET session times ${s.videoCallStarted} / ${s.videoCallEnded} / ${s.duration} differ from the database's`,
  );

  // Call times and duration.
  const started = session.video_call_started;
  const ended = session.video_call_ended;
  const startRow = entered('In Progress')[0];
  const endRow = entered('Completed')[0];
  run.check(
    (started !== null) === (startRow !== undefined),
    `videoCallStarted ${iso(started)} but ${startRow ? 'a' : 'no'} start in the history`,
  );
  if (started && startRow) {
    run.check(
      started.getTime() === startRow.at.getTime(),
      `videoCallStarted ${iso(started)} is not the time of the start (${iso(startRow.at)})`,
    );
  }
  run.check(
    (ended !== null) === (at === 'Completed'),
    `videoCallEnded ${iso(ended)} while the session is ${at}`,
  );
  if (ended) {
    run.check(
      started !== null && ended.getTime() >= started.getTime(),
      `videoCallEnded ${iso(ended)} before videoCallStarted ${iso(started)}`,
    );
    const minutes = started ? Math.round((ended.getTime() - started.getTime()) / 60_000) : NaN;
    run.check(
      session.call_duration_minutes === minutes,
      `duration ${session.call_duration_minutes} for a call from ${iso(started)} to ${iso(ended)}`,
    );
  } else {
    run.check(
      session.call_duration_minutes === null,
      `duration ${session.call_duration_minutes} for a call that has not ended`,
    );
  }
  if (endRow && started && ended) {
    const lastLeave = Math.max(
      started.getTime(),
      ...presence.map((p) => p.left_at?.getTime() ?? 0),
    );
    if (endRow.cause === 'end') {
      run.check(
        ended.getTime() === Math.max(endRow.at.getTime(), started.getTime()),
        `ended over REST at ${iso(endRow.at)} but videoCallEnded is ${iso(ended)}`,
      );
    } else if (endRow.cause === 'auto-end') {
      run.check(
        ended.getTime() === lastLeave,
        `auto-ended with videoCallEnded ${iso(ended)}, the last leave was ${new Date(lastLeave).toISOString()} (started ${iso(started)}; presence ${JSON.stringify(presence.map((p) => [p.socket_id, p.role, iso(p.joined_at), iso(p.left_at), p.left_reason]))})`,
      );
      run.check(
        endRow.at.getTime() - ended.getTime() >= GRACE_SECONDS * 1000 - 5,
        `auto-ended at ${iso(endRow.at)}, before the grace period after ${iso(ended)} was over`,
      );
    } else {
      // The call length cap is hours: nothing else may complete a call within a run.
      run.violation(`the call was completed by ${endRow.cause}`);
    }
  }
  if (startRow?.cause === 'auto-start') {
    run.check(
      participants.every((u) => presence.some((p) => p.user_id === u)),
      'auto-started although not both participants were ever in the room',
    );
  }

  // The REST answers agree with the history.
  const cancels = rows.filter((r) => r.cause === 'cancel');
  run.check(
    cancels.length === run.succeeded.cancel.length &&
      cancels.every((r) => run.succeeded.cancel.includes(r.actor_id!)),
    `${run.succeeded.cancel.length} cancel(s) answered 200, ${cancels.length} recorded`,
  );
  if (run.succeeded.start.size > 0) {
    run.check(startRow !== undefined, 'a start answered 200 but no start is recorded');
  }
  if (startRow?.cause === 'start') {
    run.check(
      run.succeeded.start.has(startRow.actor_id!),
      `the start is recorded for ${startRow.actor_id}, whose start was not answered 200`,
    );
  }
  if (run.succeeded.end.size > 0) {
    run.check(endRow !== undefined, 'an end answered 200 but no end is recorded');
  }
  if (endRow?.cause === 'end') {
    run.check(
      run.succeeded.end.has(endRow.actor_id!),
      `the end is recorded for ${endRow.actor_id}, whose end was not answered 200`,
    );
  }

  // Presence: every row closed, for our own sockets and users only.
  const ours = new Set(run.sockets.map((x) => x.id));
  for (const p of presence) {
    run.check(
      p.left_at !== null && p.left_reason !== null,
      `presence of socket ${p.socket_id} still open`,
    );
    run.check(ours.has(p.socket_id), `presence of unknown socket ${p.socket_id}`);
    run.check(
      (p.user_id === party.client.id && p.role === 'client') ||
        (p.user_id === party.psychologist.id && p.role === 'psychologist'),
      `presence of user ${p.user_id} as ${p.role}`,
    );
  }

  // Each socket heard the status changes in the order they happened.
  const path = ['Pending', ...rows.map((r) => r.to_status)];
  for (const x of run.sockets) {
    const positions = x.statuses.map((status) => path.indexOf(status as SessionStatus));
    run.check(
      positions.every((p, i) => p > 0 && (i === 0 || p > positions[i - 1])),
      `socket ${x.id} (${x.actor}) heard session-status ${x.statuses.join(', ')}; the history is ${path.join(', ')}`,
    );
  }
}
