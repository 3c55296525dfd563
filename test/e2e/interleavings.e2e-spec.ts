import fc from 'fast-check';
import { loginAdmin, type TestUser } from '../factories/users.js';
import { GRACE_SECONDS, runScenario, scenarios } from '../utils/interleavings.js';
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

const NUM_RUNS = Number(process.env.FC_RUNS ?? 40);
const SEED =
  process.env.FC_SEED === undefined
    ? (Date.now() ^ Math.floor(Math.random() * 0x1_0000_0000)) | 0
    : Number(process.env.FC_SEED);
const PATH = process.env.FC_PATH;
/** fast-check stops starting runs (or shrinking) after this; the test's own timeout is above it. */
const TIME_LIMIT_MS = 150_000;

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

  it(
    `keeps its invariants under random interleavings (seed ${SEED}, ${NUM_RUNS} runs)`,
    async () => {
      await fc.assert(
        fc.asyncProperty(scenarios, (scenario) => runScenario(t, admin, scenario)),
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
