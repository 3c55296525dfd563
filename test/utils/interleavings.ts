import fc from 'fast-check';
import type { PaymentStatus, SessionStatus } from '../../src/sessions/session-transitions.js';
import { bookSession, pay, type Party } from '../factories/sessions.js';
import { registerUser, type TestUser } from '../factories/users.js';
import { sleep } from './socket-client.js';
import type { TestApp } from './test-app.js';
import { Actor } from './interleavings-actor.js';
import { checkEndState } from './interleavings-invariants.js';
import {
  AUTO_END_WITHIN_MS,
  iso,
  PRESENCE_CLOSED_WITHIN_MS,
  Run,
  sessionRow,
  type AdminCommand,
  type Command,
  type ParticipantCommand,
  type PresenceRow,
} from './interleavings-run.js';

export { GRACE_SECONDS } from './interleavings-run.js';

export interface Scenario {
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

export const scenarios: fc.Arbitrary<Scenario> = fc.record({
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

const openPresence = (t: TestApp, id: string): Promise<PresenceRow[]> =>
  t.dataSource.query(`SELECT * FROM room_presence WHERE session_id = $1 AND left_at IS NULL`, [id]);

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

export async function runScenario(t: TestApp, admin: TestUser, scenario: Scenario): Promise<void> {
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
    [new Actor(t, 'client', client, run, id), scenario.client],
    [new Actor(t, 'client-2', client, run, id), scenario.clientSecondDevice],
    [new Actor(t, 'psychologist', psychologist, run, id), scenario.psychologist],
    [new Actor(t, 'admin', admin, run, id), scenario.admin],
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
    async () => (await openPresence(t, id)).length === 0,
  );
  if (!closed) {
    run.violation(
      `presence still open ${PRESENCE_CLOSED_WITHIN_MS} ms after every socket disconnected: ${JSON.stringify(
        (await openPresence(t, id)).map((r) => ({
          socket: r.socket_id,
          role: r.role,
          joinedAt: iso(r.joined_at),
        })),
      )}`,
    );
  }

  // A started call whose room someone was in, and which is now empty, auto-ends after the grace
  // period. (A room still occupied was reported above; waiting for its auto-end is pointless.)
  const settled = await sessionRow(t, id);
  if (
    closed &&
    settled.status === 'In Progress' &&
    (settled.room_emptied_at !== null ||
      (snapshot.status === 'In Progress' && snapshot.open.length > 0))
  ) {
    run.note(`waiting for the auto-end (room emptied at ${iso(settled.room_emptied_at)})`);
    const ended = await within(
      AUTO_END_WITHIN_MS,
      async () => (await sessionRow(t, id)).status !== 'In Progress',
    );
    run.check(
      ended,
      `the call is still In Progress ${AUTO_END_WITHIN_MS} ms after its room emptied (room_emptied_at ${iso(settled.room_emptied_at)})`,
    );
  }

  await checkEndState(t, run, id, party);

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
