import fc from 'fast-check';
import type { Socket } from 'socket.io-client';
import {
  SYSTEM_CAUSES,
  TRANSITIONS,
  TRANSITION_CAUSES,
  type PaymentStatus,
  type SessionStatus,
  type TransitionCause,
} from '../../src/sessions/session-transitions.js';
import { bookSession, pay, type Party, type SessionJson } from '../factories/sessions.js';
import { loginAdmin, registerUser, type TestUser } from '../factories/users.js';
import { connectAs, request, sleep } from '../utils/socket-client.js';
import { startTestApp, type TestApp } from '../utils/test-app.js';

/**
 * Invariants under random interleavings (the "Hardening" issue): fast-check generates, per run, a
 * fresh session and a list of commands for each actor (the client on two devices, the
 * psychologist, the admin); the actors run their lists at the same time against the real app and
 * database, and the run's end state is checked against the transition table and the contract.
 *
 * fast-check's seed fixes the commands and pauses, not the server's timing: a race it found may
 * need a few replays to show again. Re-run with FC_SEED (and FC_PATH for the shrunk case) from
 * the failure report; FC_RUNS changes the number of runs; FC_SHRINK=0 reports the first failure
 * as it is, without shrinking; FC_LOG=1 prints every run's log (what each actor did and got).
 */

const GRACE_SECONDS = 1;
/** Auto-end is due within 2 s after the grace period (PRODUCT.md section 5), plus slack for a busy machine. */
const AUTO_END_WITHIN_MS = (GRACE_SECONDS + 2) * 1000 + 2000;
/** How long the server may take to close the presence of sockets that went away. */
const PRESENCE_CLOSED_WITHIN_MS = 3000;
const ACK_TIMEOUT_MS = 5000;

const NUM_RUNS = Number(process.env.FC_RUNS ?? 40);
const SEED =
  process.env.FC_SEED === undefined
    ? (Date.now() ^ Math.floor(Math.random() * 0x1_0000_0000)) | 0
    : Number(process.env.FC_SEED);
const PATH = process.env.FC_PATH;
/** fast-check stops starting runs (or shrinking) after this; the test's own timeout is above it. */
const TIME_LIMIT_MS = 150_000;

type ParticipantCommand =
  | { do: 'start' }
  | { do: 'end' }
  | { do: 'cancel' }
  | { do: 'join'; awaitAck: boolean }
  | { do: 'leave'; awaitAck: boolean }
  | { do: 'disconnect' }
  | { do: 'pause'; ms: number };

type AdminCommand =
  | { do: 'payment'; paymentStatus: PaymentStatus }
  | { do: 'end' }
  | { do: 'cancel' }
  | { do: 'pause'; ms: number };

type Command = ParticipantCommand | AdminCommand;

interface Scenario {
  /** Payment recorded before the actors begin; a confirming one makes the session Confirmed. */
  initialPayment: PaymentStatus | null;
  client: ParticipantCommand[];
  /** The client's second device: another socket of the same user. */
  clientSecondDevice: ParticipantCommand[];
  psychologist: ParticipantCommand[];
  admin: AdminCommand[];
}

const pause = fc.integer({ min: 0, max: 40 }).map((ms) => ({ do: 'pause', ms }) as const);
/** Mostly awaited; otherwise the next command goes out while this one is still being handled. */
const awaitAck = fc.constantFrom(true, true, false);

const participantCommand: fc.Arbitrary<ParticipantCommand> = fc.oneof(
  { arbitrary: awaitAck.map((a) => ({ do: 'join', awaitAck: a }) as const), weight: 10 },
  { arbitrary: awaitAck.map((a) => ({ do: 'leave', awaitAck: a }) as const), weight: 4 },
  { arbitrary: fc.constant({ do: 'disconnect' } as const), weight: 4 },
  { arbitrary: fc.constant({ do: 'start' } as const), weight: 4 },
  { arbitrary: fc.constant({ do: 'end' } as const), weight: 2 },
  { arbitrary: fc.constant({ do: 'cancel' } as const), weight: 1 },
  { arbitrary: pause, weight: 4 },
);

const adminCommand: fc.Arbitrary<AdminCommand> = fc.oneof(
  {
    arbitrary: fc
      .constantFrom<PaymentStatus>('Paid', 'Confirmed', 'Verified', 'Failed', 'Refunded', 'Pending')
      .map((paymentStatus) => ({ do: 'payment', paymentStatus }) as const),
    weight: 6,
  },
  { arbitrary: fc.constant({ do: 'end' } as const), weight: 2 },
  { arbitrary: fc.constant({ do: 'cancel' } as const), weight: 1 },
  { arbitrary: pause, weight: 3 },
);

const scenarios: fc.Arbitrary<Scenario> = fc.record({
  initialPayment: fc.oneof(
    { arbitrary: fc.constantFrom<PaymentStatus>('Paid', 'Confirmed', 'Verified'), weight: 4 },
    { arbitrary: fc.constant(null), weight: 1 },
    { arbitrary: fc.constantFrom<PaymentStatus>('Failed', 'Refunded', 'Pending'), weight: 1 },
  ),
  client: fc.array(participantCommand, { maxLength: 8 }),
  clientSecondDevice: fc.array(participantCommand, { maxLength: 5 }),
  psychologist: fc.array(participantCommand, { maxLength: 8 }),
  admin: fc.array(adminCommand, { maxLength: 4 }),
});

interface HistoryRow {
  from_status: SessionStatus;
  to_status: SessionStatus;
  cause: TransitionCause;
  actor_id: string | null;
  at: Date;
}

interface PresenceRow {
  socket_id: string;
  user_id: string;
  role: string;
  joined_at: Date;
  left_at: Date | null;
  left_reason: string | null;
}

interface SessionRow {
  status: SessionStatus;
  video_call_started: Date | null;
  video_call_ended: Date | null;
  call_duration_minutes: number | null;
  room_emptied_at: Date | null;
}

/** One socket of an actor, with what its acknowledged commands say its presence should be. */
interface TrackedSocket {
  socket: Socket;
  id: string;
  actor: string;
  /** We disconnected it. */
  gone: boolean;
  /** After its last acknowledged join / leave. */
  inRoom: boolean;
  inFlight: number;
  /** Room commands sent and answered on this socket, to check they are answered in order. */
  sent: number;
  answered: number;
  /** `session-status` events received, in order. */
  statuses: string[];
}

/** What one run did and saw: the log goes into the failure report. */
class Run {
  readonly log: string[] = [];
  readonly violations: string[] = [];
  readonly sockets: TrackedSocket[] = [];
  readonly pendingAcks: Promise<void>[] = [];
  /** Ids of the users whose request of that kind got a 200. */
  readonly succeeded = { start: new Set<string>(), end: new Set<string>(), cancel: [] as string[] };
  private readonly t0 = Date.now();

  note(line: string): void {
    this.log.push(`+${String(Date.now() - this.t0).padStart(5)}ms ${line}`);
  }

  violation(line: string): void {
    this.violations.push(line);
    this.note(`VIOLATION ${line}`);
  }

  check(ok: boolean, line: string): void {
    if (!ok) {
      this.violation(line);
    }
  }
}

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

describe('invariants under random interleavings (fast-check)', () => {
  let t: TestApp;
  let admin: TestUser;

  beforeAll(async () => {
    t = await startTestApp({
      env: {
        EMPTY_ROOM_TIMEOUT_SECONDS: String(GRACE_SECONDS),
        PRESENCE_HEARTBEAT_SECONDS: '1',
      },
    });
    admin = await loginAdmin(t);
  });
  afterAll(() => t.close());

  /** One actor: runs its commands in order, over REST and (participants) its own socket. */
  class Actor {
    private current?: TrackedSocket;

    constructor(
      readonly name: string,
      readonly user: TestUser,
      private readonly run: Run,
      private readonly sessionId: string,
    ) {}

    async perform(commands: readonly Command[]): Promise<void> {
      for (const command of commands) {
        await this.one(command);
      }
    }

    private async one(command: Command): Promise<void> {
      const id = this.sessionId;
      switch (command.do) {
        case 'pause':
          await sleep(command.ms);
          return;
        case 'start': {
          const res = await this.post('start', `/api/video-calls/start/${id}`, undefined, [
            '200',
            '403 PAYMENT_NOT_CONFIRMED',
            '409 INVALID_TRANSITION',
          ]);
          if (res?.status === 200) {
            this.run.succeeded.start.add(this.user.id);
            this.run.check(
              ['In Progress', 'Completed'].includes(res.body.status),
              `${this.name}: start answered 200 with status ${res.body.status}`,
            );
          }
          return;
        }
        case 'end': {
          const res = await this.post('end', `/api/video-calls/end/${id}`, undefined, [
            '200',
            '409 INVALID_TRANSITION',
          ]);
          if (res?.status === 200) {
            this.run.succeeded.end.add(this.user.id);
            this.run.check(
              res.body.status === 'Completed' && res.body.videoCallEnded !== null,
              `${this.name}: end answered 200 with status ${res.body.status}, videoCallEnded ${res.body.videoCallEnded}`,
            );
          }
          return;
        }
        case 'cancel': {
          const res = await this.post('cancel', `/api/sessions/${id}/cancel`, {}, [
            '200',
            '409 INVALID_TRANSITION',
          ]);
          if (res?.status === 200) {
            this.run.succeeded.cancel.push(this.user.id);
            this.run.check(
              res.body.status === 'Cancelled',
              `${this.name}: cancel answered 200 with status ${res.body.status}`,
            );
          }
          return;
        }
        case 'payment':
          await this.post(
            `payment ${command.paymentStatus}`,
            `/api/sessions/${id}/payment`,
            { paymentStatus: command.paymentStatus },
            ['200'],
          );
          return;
        case 'join':
          await this.join(command.awaitAck);
          return;
        case 'leave':
          await this.leave(command.awaitAck);
          return;
        case 'disconnect':
          if (this.current) {
            this.run.note(`${this.name}: disconnect ${this.current.id}`);
            this.current.gone = true;
            this.current.socket.disconnect();
            this.current = undefined;
          }
          return;
      }
    }

    /** A POST; every answer is logged, 5xx and answers outside `allowed` are violations. */
    private async post(
      what: string,
      path: string,
      body: object | undefined,
      allowed: string[],
    ): Promise<{ status: number; body: SessionJson } | undefined> {
      let res;
      try {
        const req = t.api.post(path).set('Authorization', this.user.auth);
        res = await (body === undefined ? req : req.send(body));
      } catch (error) {
        this.run.violation(`${this.name}: ${what} failed without an answer: ${String(error)}`);
        return undefined;
      }
      const outcome = res.status === 200 ? '200' : `${res.status} ${res.body?.code}`;
      this.run.note(`${this.name}: ${what} -> ${outcome}`);
      if (res.status >= 500) {
        this.run.violation(
          `${this.name}: ${what} answered ${res.status} ${JSON.stringify(res.body)}`,
        );
      } else if (!allowed.includes(outcome)) {
        this.run.violation(
          `${this.name}: ${what} answered ${outcome}, expected one of ${allowed.join(', ')}`,
        );
      }
      return res;
    }

    /** The actor's socket; a new one (a reconnect) after a disconnect. */
    private async socket(): Promise<TrackedSocket | undefined> {
      if (this.current) {
        return this.current;
      }
      try {
        const socket = await connectAs(t.url, this.user.token);
        const tracked: TrackedSocket = {
          socket,
          id: socket.id!,
          actor: this.name,
          gone: false,
          inRoom: false,
          inFlight: 0,
          sent: 0,
          answered: 0,
          statuses: [],
        };
        socket.on('session-status', (e: { sessionId: string; status: string }) => {
          if (e.sessionId === this.sessionId) {
            tracked.statuses.push(e.status);
          }
        });
        this.run.sockets.push(tracked);
        this.run.note(`${this.name}: connected ${tracked.id}`);
        this.current = tracked;
        return tracked;
      } catch (error) {
        this.run.violation(`${this.name}: could not connect: ${String(error)}`);
        return undefined;
      }
    }

    private async join(awaitAck: boolean): Promise<void> {
      const s = await this.socket();
      if (s) {
        await this.roomCommand(s, 'join-room', awaitAck, (ack) => {
          if (ack.ok) {
            s.inRoom = true;
            this.run.check(
              ['Confirmed', 'In Progress'].includes(ack.status) &&
                ack.participants.some((p: { userId: string }) => p.userId === this.user.id),
              `${this.name}: join-room ok with status ${ack.status}, participants ${JSON.stringify(ack.participants)}`,
            );
          } else {
            this.run.check(
              ['PAYMENT_NOT_CONFIRMED', 'INVALID_TRANSITION'].includes(ack.error?.code),
              `${this.name}: join-room refused with ${JSON.stringify(ack.error)}`,
            );
          }
        });
      }
    }

    private async leave(awaitAck: boolean): Promise<void> {
      const s = this.current;
      if (s) {
        await this.roomCommand(s, 'leave-room', awaitAck, (ack) => {
          if (ack.ok) {
            s.inRoom = false;
          } else {
            this.run.violation(
              `${this.name}: leave-room refused with ${JSON.stringify(ack.error)}`,
            );
          }
        });
      }
    }

    /** Emits with an acknowledgement: awaited, or left pending (awaited before the checks). */
    private async roomCommand(
      s: TrackedSocket,
      event: 'join-room' | 'leave-room',
      awaitAck: boolean,
      onAck: (ack: any) => void,
    ): Promise<void> {
      s.inFlight++;
      const seq = ++s.sent;
      const done = request(s.socket, event, { sessionId: this.sessionId }, ACK_TIMEOUT_MS).then(
        (ack) => {
          s.inFlight--;
          // One socket's join and leave apply in the order sent, so they are answered in it.
          this.run.check(
            seq === ++s.answered,
            `${this.name}: ${event} #${seq} on ${s.id} answered as room command #${s.answered}`,
          );
          this.run.note(
            `${this.name}: ${event} on ${s.id} -> ${ack.ok ? `ok ${ack.status ?? ''}` : ack.error?.code}`,
          );
          onAck(ack);
        },
        (error) => {
          s.inFlight--;
          if (s.gone) {
            this.run.note(`${this.name}: ${event} on ${s.id} -> no ack (socket disconnected)`);
          } else {
            this.run.violation(`${this.name}: ${event} on ${s.id} -> no ack: ${String(error)}`);
          }
        },
      );
      if (awaitAck) {
        await done;
      } else {
        this.run.note(`${this.name}: ${event} on ${s.id} sent, not awaited`);
        this.run.pendingAcks.push(done);
      }
    }
  }

  const sessionRow = async (id: string): Promise<SessionRow> =>
    (
      await t.dataSource.query(
        `SELECT status, video_call_started, video_call_ended, call_duration_minutes, room_emptied_at
           FROM sessions WHERE id = $1`,
        [id],
      )
    )[0];

  const openPresence = (id: string): Promise<PresenceRow[]> =>
    t.dataSource.query(`SELECT * FROM room_presence WHERE session_id = $1 AND left_at IS NULL`, [
      id,
    ]);

  /** Polls `check` until it returns true or the time is up; false then. */
  async function within(ms: number, check: () => Promise<boolean>): Promise<boolean> {
    const deadline = Date.now() + ms;
    for (;;) {
      if (await check()) {
        return true;
      }
      if (Date.now() > deadline) {
        return false;
      }
      await sleep(50);
    }
  }

  async function runScenario(scenario: Scenario): Promise<void> {
    const run = new Run();
    const [client, psychologist] = await Promise.all([
      registerUser(t, 'client'),
      registerUser(t, 'psychologist'),
    ]);
    const party: Party = { client, psychologist, admin };
    const { id } = await bookSession(t, party);
    if (scenario.initialPayment) {
      await pay(t, party, id, scenario.initialPayment);
    }
    run.note(`session ${id}, initial payment ${scenario.initialPayment}`);

    const actors: Array<[Actor, readonly Command[]]> = [
      [new Actor('client', client, run, id), scenario.client],
      [new Actor('client-2', client, run, id), scenario.clientSecondDevice],
      [new Actor('psychologist', psychologist, run, id), scenario.psychologist],
      [new Actor('admin', admin, run, id), scenario.admin],
    ];
    let snapshot: { status: SessionStatus; open: string[] };
    try {
      await Promise.all(actors.map(([actor, commands]) => actor.perform(commands)));
      await Promise.all(run.pendingAcks);

      // Every command has been answered: the sockets still connected must be in the room exactly
      // when their last answered join / leave says so (unless the session is over: then its room
      // is being closed, which the final check covers). Also for a socket that had several room
      // commands in flight at once: the gateway applies one socket's commands in the order sent.
      [snapshot] = await t.dataSource.query(
        `SELECT s.status, COALESCE(array_agg(p.socket_id) FILTER (WHERE p.id IS NOT NULL), '{}') AS open
           FROM sessions s LEFT JOIN room_presence p ON p.session_id = s.id AND p.left_at IS NULL
          WHERE s.id = $1 GROUP BY s.id`,
        [id],
      );
      run.note(`after the commands: ${snapshot.status}, open presence ${snapshot.open.join(' ')}`);
      if (['Pending', 'Confirmed', 'In Progress'].includes(snapshot.status)) {
        for (const s of run.sockets.filter((x) => !x.gone)) {
          run.check(
            snapshot.open.includes(s.id) === s.inRoom,
            `socket ${s.id} (${s.actor}) is ${snapshot.open.includes(s.id) ? '' : 'not '}present in the database, but its last answered room command says ${s.inRoom ? 'joined' : 'left'}`,
          );
        }
      }
    } finally {
      for (const s of run.sockets) {
        s.socket.disconnect();
      }
    }
    run.note('all sockets disconnected');

    // No presence may stay open for a socket that is gone.
    const closed = await within(
      PRESENCE_CLOSED_WITHIN_MS,
      async () => (await openPresence(id)).length === 0,
    );
    if (!closed) {
      run.violation(
        `presence still open ${PRESENCE_CLOSED_WITHIN_MS} ms after every socket disconnected: ${JSON.stringify(
          (await openPresence(id)).map((r) => ({
            socket: r.socket_id,
            role: r.role,
            joinedAt: iso(r.joined_at),
          })),
        )}`,
      );
    }

    // A started call whose room someone was in, and which is now empty, auto-ends after the grace
    // period. (A room still occupied was reported above; waiting for its auto-end is pointless.)
    const settled = await sessionRow(id);
    if (
      closed &&
      settled.status === 'In Progress' &&
      (settled.room_emptied_at !== null ||
        (snapshot.status === 'In Progress' && snapshot.open.length > 0))
    ) {
      run.note(`waiting for the auto-end (room emptied at ${iso(settled.room_emptied_at)})`);
      const ended = await within(
        AUTO_END_WITHIN_MS,
        async () => (await sessionRow(id)).status !== 'In Progress',
      );
      run.check(
        ended,
        `the call is still In Progress ${AUTO_END_WITHIN_MS} ms after its room emptied (room_emptied_at ${iso(settled.room_emptied_at)})`,
      );
    }

    await checkEndState(run, id, party);

    if (process.env.FC_LOG === '1') {
      console.log(run.log.join('\n'));
    }
    if (run.violations.length > 0) {
      throw new Error(
        `${run.violations.length} invariant(s) broken:\n  ${run.violations.join('\n  ')}\n` +
          `run log:\n  ${run.log.join('\n  ')}`,
      );
    }
  }

  /** The end state of a run against the transition table and the contract. */
  async function checkEndState(run: Run, id: string, party: Party): Promise<void> {
    const rows: HistoryRow[] = await t.dataSource.query(
      `SELECT from_status, to_status, cause, actor_id, at FROM session_status_changes
        WHERE session_id = $1 ORDER BY id`,
      [id],
    );
    const session = await sessionRow(id);
    const presence: PresenceRow[] = await t.dataSource.query(
      `SELECT * FROM room_presence WHERE session_id = $1 ORDER BY id`,
      [id],
    );
    const apiSession = await t.api
      .get(`/api/sessions/${id}`)
      .set('Authorization', party.client.auth);
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
              cause: r.cause,
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

  it(
    `keeps its invariants under random interleavings (seed ${SEED}, ${NUM_RUNS} runs)`,
    async () => {
      await fc.assert(
        fc.asyncProperty(scenarios, (scenario) => runScenario(scenario)),
        {
          numRuns: NUM_RUNS,
          seed: SEED,
          path: PATH,
          endOnFailure: process.env.FC_SHRINK === '0',
          plugins: [fc.interruptAfterTimeLimit(TIME_LIMIT_MS)],
        },
      );
    },
    TIME_LIMIT_MS + 60_000,
  );
});
