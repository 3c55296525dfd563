import type {
  CallRecord,
  FaultRecord,
  InstanceLife,
  ParticipantRecord,
  PresenceRow,
  RestRecord,
  RunRecord,
} from './records.js';
import { DEAD_AFTER_BEATS } from '../../src/video-call/presence-rules.js';

/** Clock and processing slack allowed on each comparison of a client's time with the server's. */
export const TOLERANCE_MS = 1000;

/**
 * One stay of one socket in a room, by its client's timeline. It starts when the join was
 * acknowledged (`sentAt`: when it was asked) and ends when the client sent `leave-room`, closed the
 * socket, saw it disconnect, or learnt that the call is over: a browser in that state is out of the
 * call, whatever the server thinks. `endLo`..`endHi` is when the service may rightly take the
 * leave to have happened (see `widenForFaults`); both equal `end` for a plain leave.
 */
export interface Stay {
  sessionId: string;
  userId: string;
  role: string;
  socket: string;
  sentAt: number;
  start: number;
  end?: number;
  endKind?: string;
  endLo: number;
  endHi: number;
}

export function staysOf(sessionId: string, p: ParticipantRecord): Stay[] {
  const open = new Map<string, Stay>();
  const done: Stay[] = [];
  const close = (stay: Stay, t: number, kind: string) => {
    stay.end = t;
    stay.endKind = kind;
    stay.endLo = t;
    stay.endHi = t;
    open.delete(stay.socket);
    done.push(stay);
  };
  for (const e of p.timeline) {
    if (e.type === 'join-ok') {
      if (!open.has(e.socket)) {
        open.set(e.socket, {
          sessionId,
          userId: p.userId,
          role: p.role,
          socket: e.socket,
          sentAt: e.sentAt,
          start: e.t,
          endLo: Infinity,
          endHi: Infinity,
        });
      }
    } else if (e.type === 'leave-sent' || e.type === 'close' || e.type === 'disconnect') {
      const stay = open.get(e.socket);
      if (stay) {
        close(stay, e.t, e.type === 'disconnect' ? `disconnect (${e.reason})` : e.type);
      }
    } else if (e.type === 'ended') {
      for (const stay of [...open.values()]) {
        close(stay, e.t, `learnt the end (${e.how})`);
      }
    }
  }
  return [...done, ...open.values()].sort((a, b) => a.start - b.start);
}

/** Sockets in a room at `at`, by the timelines. */
export function inRoomAt(calls: CallRecord[], at: number): Stay[] {
  return calls.flatMap((c) =>
    c.participants.flatMap((p) =>
      staysOf(c.sessionId, p).filter((s) => s.start <= at && (s.end ?? Infinity) > at),
    ),
  );
}

export interface FaultContext {
  faults: FaultRecord[];
  lives: InstanceLife[];
  /** socket id -> instance id, from room_presence. */
  socketInstance: Map<string, string>;
  heartbeatMs: number;
}

/**
 * Where the contract lets the service place a leave that a fault got in the way of:
 * - the socket's instance was killed (kill -9) as the client saw the socket drop: the instance
 *   is dead and its stays close "as of its last heartbeat", up to about 1.5 beats before the kill
 *   (beats run on a half-second tick);
 * - the client left while its instance was frozen: the instance learns of the leave only when it
 *   resumes (at SIGCONT), or it was buried meanwhile, as of its last heartbeat before the freeze;
 * - the instance was deployed (SIGTERM): it closes its stays when the shutdown begins.
 * - the instance was killed during a database outage, or so soon before one that nobody could
 *   bury it first: it may have lived through the outage with its sockets, so its stays may end as
 *   late as the first beat of a survivor after the outage (presence-rules.ts, "as of when"). This
 *   widens only the late side: the auto-end still has to wait for the grace period after the kill.
 * Otherwise a database outage widens nothing: leaves during an outage keep their real times
 * (section 9).
 */
export function widenForFaults(stay: Stay, ctx: FaultContext): Stay {
  // A client that heard the call end left because of it: no fault moved that leave.
  if (stay.end === undefined || stay.endKind?.startsWith('learnt the end')) {
    return stay;
  }
  const instanceId = ctx.socketInstance.get(stay.socket);
  const life = instanceId ? ctx.lives.find((l) => l.instanceIds.includes(instanceId)) : undefined;
  if (!life) {
    return stay;
  }
  const lastBeatSlack = ctx.heartbeatMs * 1.5 + 500;
  const out = { ...stay };
  for (const f of ctx.faults) {
    if (f.target !== life.index || f.start < life.spawnAt || f.start > (life.exitAt ?? Infinity)) {
      continue;
    }
    const end = stay.end;
    if (f.kind === 'kill' && end >= f.start - 200 && end <= f.start + 3000) {
      out.endLo = Math.min(out.endLo, f.start - lastBeatSlack);
    }
    if (f.kind === 'kill' && end <= f.start + 3000) {
      // Also a leave that the instance saw during the outage and could not write before it died.
      const buriedBy = f.start + (DEAD_AFTER_BEATS + 1) * ctx.heartbeatMs + 1000;
      for (const o of ctx.faults) {
        if (
          o.kind === 'postgres' &&
          o.start <= buriedBy &&
          o.end >= f.start - lastBeatSlack &&
          end >= Math.min(f.start - 200, o.start)
        ) {
          out.endHi = Math.max(out.endHi, o.end + 2 * ctx.heartbeatMs + 1000);
        }
      }
    } else if (f.kind === 'freeze' && end >= f.start && end <= f.end + 2000) {
      out.endLo = Math.min(out.endLo, f.start - lastBeatSlack);
      out.endHi = Math.max(out.endHi, f.end + 1500);
    } else if (f.kind === 'deploy' && end >= f.start && end <= f.start + 12_000) {
      out.endLo = Math.min(out.endLo, f.start);
    }
  }
  return out;
}

export interface Violation {
  invariant:
    | 'end-while-present'
    | 'presence-ghost'
    | 'presence-missing'
    | 'end-time'
    | 'rest-5xx'
    | 'auto-end-missing';
  sessionId?: string;
  summary: string;
  /** The evidence: the call's stays, its end, the faults around it. */
  details?: unknown;
}

export const INVARIANTS: Record<Violation['invariant'], string> = {
  'end-while-present':
    'calls auto-ended while a participant was in the room, or before the room had been empty for the grace period',
  'presence-ghost': 'open stays without a live socket in the room (settled)',
  'presence-missing': 'sockets in a room without an open stay (settled)',
  'end-time': 'auto-ended calls whose videoCallEnded is not the real last leave (±1 s)',
  'rest-5xx': '5xx answers other than 503 UNAVAILABLE',
  'auto-end-missing':
    'calls left for good that never auto-ended (or, in the calm end, not within grace + 2 s)',
};

export interface CheckResult {
  violations: Violation[];
  /** 503 UNAVAILABLE outside the database outages (not a violation, worth reading). */
  unavailableOutsideOutages: RestRecord[];
  /** nginx 502s of requests whose instance was killed while serving them (excused). */
  killedMidRequest: RestRecord[];
  autoEnds: number;
}

const iso = (t: number) => new Date(t).toISOString();

function endRow(call: CallRecord) {
  return call.history?.find((h) => h.to === 'Completed');
}

export function check(run: RunRecord): CheckResult {
  const violations: Violation[] = [];
  const socketInstance = new Map(run.presence.map((r) => [r.socketId, r.instanceId]));
  const ctx: FaultContext = {
    faults: run.faults,
    lives: run.lives,
    socketInstance,
    heartbeatMs: run.heartbeatMs,
  };
  const describe = (s: Stay) => ({
    role: s.role,
    socket: s.socket,
    instance: describeInstance(socketInstance.get(s.socket), run.lives),
    joinSent: iso(s.sentAt),
    joinAcked: iso(s.start),
    left: s.end === undefined ? 'still in the room' : `${iso(s.end)} (${s.endKind})`,
    ...(s.end !== undefined && (s.endLo !== s.end || s.endHi !== s.end)
      ? { leaveMayCountFrom: iso(s.endLo), leaveMayCountTo: iso(s.endHi) }
      : {}),
  });
  const faultsAround = (from: number, to: number) =>
    run.faults
      .filter((f) => f.start <= to && f.end >= from)
      .map((f) => ({
        kind: f.kind,
        ...(f.target !== undefined ? { instance: f.target } : {}),
        from: iso(f.start),
        to: iso(f.end),
      }));

  let autoEnds = 0;
  for (const call of run.calls) {
    const row = endRow(call);
    if (!row || (row.cause !== 'auto-end' && row.cause !== 'max-duration')) {
      continue;
    }
    autoEnds++;
    const decidedAt = Date.parse(row.at);
    const stays = call.participants
      .flatMap((p) => staysOf(call.sessionId, p))
      .filter((s) => s.sentAt < decidedAt + TOLERANCE_MS)
      .map((s) => widenForFaults(s, ctx));
    const ended = call.videoCallEnded ? Date.parse(call.videoCallEnded) : NaN;
    const evidence = {
      cause: row.cause,
      decidedAt: row.at,
      videoCallEnded: call.videoCallEnded,
      graceSeconds: run.graceMs / 1000,
      stays: stays.map(describe),
      faults: faultsAround(
        Math.min(decidedAt - run.graceMs, ...stays.map((s) => s.start)),
        decidedAt + 1000,
      ),
      presenceRows: run.presence
        .filter((r) => r.sessionId === call.sessionId)
        .map((r) => ({
          socket: r.socketId,
          instance: describeInstance(r.instanceId, run.lives),
          joinedAt: iso(r.joinedAt),
          leftAt: r.leftAt === null ? null : iso(r.leftAt),
          reason: r.leftReason,
        })),
    };

    // (1) Present at the end, or not gone long enough.
    const present = stays.filter((s) => s.endLo > decidedAt - run.graceMs + TOLERANCE_MS);
    if (present.length > 0) {
      const inside = present.filter((s) => s.endLo >= decidedAt);
      violations.push({
        invariant: 'end-while-present',
        sessionId: call.sessionId,
        summary:
          inside.length > 0
            ? `${row.cause} at ${row.at} while ${inside.map((s) => s.role).join(' and ')} ${inside.length > 1 ? 'were' : 'was'} in the room`
            : `${row.cause} at ${row.at}, ${((decidedAt - Math.max(...present.map((s) => s.endLo))) / 1000).toFixed(1)} s after the last leave (grace ${run.graceMs / 1000} s)`,
        details: evidence,
      });
      continue;
    }

    // (3) The end is the real last leave.
    if (row.cause === 'auto-end') {
      if (stays.length === 0) {
        violations.push({
          invariant: 'end-time',
          sessionId: call.sessionId,
          summary: `auto-ended at ${row.at}, but no client was ever in the room by the timelines`,
          details: evidence,
        });
        continue;
      }
      const lastLo = Math.max(...stays.map((s) => s.endLo));
      const lastHi = Math.max(...stays.map((s) => s.endHi));
      if (
        !Number.isFinite(ended) ||
        ended < lastLo - TOLERANCE_MS ||
        ended > lastHi + TOLERANCE_MS
      ) {
        const off = ended < lastLo ? ended - lastLo : ended - lastHi;
        violations.push({
          invariant: 'end-time',
          sessionId: call.sessionId,
          summary: `videoCallEnded ${call.videoCallEnded ?? 'null'} is ${(off / 1000).toFixed(1)} s ${off < 0 ? 'before' : 'after'} the real last leave (${iso(lastLo)}${lastHi !== lastLo ? ` .. ${iso(lastHi)}` : ''})`,
          details: evidence,
        });
      }
    }
  }

  // (2) Presence against the live sockets, once settled.
  if (run.snapshot) {
    const key = (sessionId: string, socket: string) => `${sessionId}/${socket}`;
    const live = new Set(run.snapshot.inRoom.map((s) => key(s.sessionId, s.socketId)));
    const open = new Set(run.snapshot.openStays.map((r) => key(r.sessionId, r.socketId)));
    const callOf = (id: string) => run.calls.find((c) => c.sessionId === id);
    // The socket's own events, then the client's last few.
    const lastEvents = (sessionId: string, userId: string, socket: string) => {
      const timeline =
        callOf(sessionId)?.participants.find((p) => p.userId === userId)?.timeline ?? [];
      const own = timeline.filter((e) => 'socket' in e && e.socket === socket);
      const last = timeline.slice(-4).filter((e) => !own.includes(e));
      return [...own, ...last].map((e) => `${iso(e.t)} ${describeEvent(e)}`);
    };
    for (const row of run.snapshot.openStays) {
      if (!live.has(key(row.sessionId, row.socketId))) {
        violations.push({
          invariant: 'presence-ghost',
          sessionId: row.sessionId,
          summary: `open stay of socket ${row.socketId} (${describeInstance(row.instanceId, run.lives)}, joined ${iso(row.joinedAt)}) but no live socket of that client is in the room`,
          details: { row, clientTimeline: lastEvents(row.sessionId, row.userId, row.socketId) },
        });
      }
    }
    for (const s of run.snapshot.inRoom) {
      if (!open.has(key(s.sessionId, s.socketId))) {
        const rows = run.presence.filter(
          (r) => r.sessionId === s.sessionId && r.socketId === s.socketId,
        );
        violations.push({
          invariant: 'presence-missing',
          sessionId: s.sessionId,
          summary: `socket ${s.socketId} is in the room by its client, but has no open stay${rows.length ? ` (its stay closed at ${rows.map((r) => `${r.leftAt ? iso(r.leftAt) : '?'}, ${r.leftReason}`).join('; ')})` : ' (never recorded)'}`,
          details: {
            presenceRows: rows,
            instance: describeInstance(socketInstance.get(s.socketId), run.lives),
            clientTimeline: lastEvents(s.sessionId, s.userId, s.socketId),
          },
        });
      }
    }
  }

  // (4) 5xx other than UNAVAILABLE. One is excused: nginx's 502 for a request whose instance
  // was killed while it was being served. nginx rightly does not retry a POST elsewhere (it may
  // have been applied), and no answer of the service could have come from a dead process.
  const killedMidRequest = run.rest.filter(
    (r) =>
      r.status === 502 &&
      r.fromNginx === true &&
      run.faults.some((f) => f.kind === 'kill' && f.start >= r.t - 100 && f.start <= r.t + r.ms),
  );
  for (const r of run.rest) {
    if (killedMidRequest.includes(r)) {
      continue;
    }
    if (r.status >= 500 && !(r.status === 503 && r.code === 'UNAVAILABLE')) {
      violations.push({
        invariant: 'rest-5xx',
        summary: `${r.status} ${r.code ?? (r.fromNginx ? '(from nginx)' : '(no code)')} on ${r.method} ${r.route} at ${iso(r.t)}${inOutage(r.t, run.faults) ? ' (database outage)' : ''}`,
      });
    }
  }
  const unavailableOutsideOutages = run.rest.filter(
    (r) => r.status === 503 && r.code === 'UNAVAILABLE' && !inOutage(r.t, run.faults),
  );

  // (5) A call everybody left for good ends by itself: by the end of the run whenever it was
  // left, and on time (grace + 2 s) when it was left in the calm end, with no fault to excuse it.
  for (const call of run.calls) {
    if (!call.history?.some((h) => h.to === 'In Progress')) {
      continue;
    }
    const row = endRow(call);
    if (row && row.cause !== 'auto-end') {
      continue;
    }
    const stays = call.participants.flatMap((p) => staysOf(call.sessionId, p));
    const leftForGood = call.participants.every((p) =>
      p.timeline.some((e) => e.type === 'close' || e.type === 'ended'),
    );
    if (stays.length === 0 || stays.some((s) => s.end === undefined) || !leftForGood) {
      continue;
    }
    const lastLeave = Math.max(...stays.map((s) => s.end!));
    const due = lastLeave + run.graceMs + 2000 + TOLERANCE_MS;
    const late = row && call.drainedAt !== undefined && Date.parse(row.at) > due;
    if ((!row && due < run.collectedAt) || late) {
      violations.push({
        invariant: 'auto-end-missing',
        sessionId: call.sessionId,
        summary: row
          ? `auto-ended at ${row.at}, ${((Date.parse(row.at) - lastLeave) / 1000).toFixed(1)} s after the last leave (${iso(lastLeave)})`
          : `still ${call.status} ${((run.collectedAt - lastLeave) / 1000).toFixed(0)} s after the last leave (${iso(lastLeave)})`,
        details: {
          stays: stays.map(describe),
          openStays: run.presence
            .filter((r) => r.sessionId === call.sessionId && r.leftAt === null)
            .map((r) => ({
              socket: r.socketId,
              instance: describeInstance(r.instanceId, run.lives),
              joinedAt: iso(r.joinedAt),
            })),
        },
      });
    }
  }
  return { violations, unavailableOutsideOutages, killedMidRequest, autoEnds };
}

function inOutage(t: number, faults: FaultRecord[]): boolean {
  return faults.some((f) => f.kind === 'postgres' && t >= f.start - 500 && t <= f.end + 5000);
}

function describeInstance(instanceId: string | undefined, lives: InstanceLife[]): string {
  if (!instanceId) {
    return 'instance unknown';
  }
  const life = lives.find((l) => l.instanceIds.includes(instanceId));
  if (!life) {
    return `instance ${instanceId.slice(0, 8)}`;
  }
  const n = lives.filter((l) => l.index === life.index).indexOf(life) + 1;
  return `instance ${life.index} life ${n}`;
}

export function describeEvent(e: ParticipantRecord['timeline'][number]): string {
  switch (e.type) {
    case 'connected':
      return `connected ${e.socket}`;
    case 'connect-failed':
      return `connect failed: ${e.reason}`;
    case 'join-sent':
      return `join-room sent on ${e.socket}`;
    case 'join-ok':
      return `join ok on ${e.socket} (${e.status})`;
    case 'join-failed':
      return `join failed on ${e.socket}: ${e.code}`;
    case 'leave-sent':
      return `leave-room sent on ${e.socket}`;
    case 'leave-ack':
      return `leave-room ack on ${e.socket}: ${e.code}`;
    case 'close':
      return `closed ${e.socket}`;
    case 'disconnect':
      return `disconnect of ${e.socket}: ${e.reason}`;
    case 'status':
      return `heard ${e.status} on ${e.socket}`;
    case 'ended':
      return `call over: ${e.how}`;
    case 'renewed':
      return `renew-token ${e.ok ? 'ok' : 'failed'}`;
    case 'token-expired':
      return `token-expired on ${e.socket}`;
  }
}

/** Presence rows from the database as PresenceRow. */
export function presenceRow(r: {
  session_id: string;
  socket_id: string;
  user_id: string;
  instance_id: string;
  joined_at: Date;
  left_at: Date | null;
  left_reason: string | null;
}): PresenceRow {
  return {
    sessionId: r.session_id,
    socketId: r.socket_id,
    userId: r.user_id,
    instanceId: r.instance_id,
    joinedAt: r.joined_at.getTime(),
    leftAt: r.left_at ? r.left_at.getTime() : null,
    leftReason: r.left_reason,
  };
}
