/**
 * The shape of a filled year, pure so it can be tested on its own: how many users a number of
 * sessions brings, the batches, and the slot grid that keeps every booking clear of the others.
 *
 * Session `k` (0 <= k < N, per run) belongs to psychologist `k % P` and client `k % C`, and sits
 * in slot `j = floor(k / P)` of its psychologist. Two sessions of one psychologist have distinct
 * `j`; two of one client are at least C >= P apart in `k`, so theirs differ too. Past sessions put
 * slot `j` on day `floor(j * 365 / S)` of the past year (S <= 200 slots per psychologist: one per
 * day at most) at hour 9 + j % 8 (UTC); live ones on day `floor(j * LIVE_DAYS / S)` of the coming
 * weeks, at most 8 consecutive slots a day, so at 8 distinct hours. Every session fits in its hour,
 * so no two bookings of a participant overlap, live or not, and each run brings its own users:
 * runs never collide.
 */
export const SESSIONS_PER_CLIENT = 10;
export const SESSIONS_PER_PSYCHOLOGIST = 200;
export const PAST_DAYS = 365;
export const LIVE_DAYS = 28;
export const FIRST_HOUR = 9;
export const HOURS_A_DAY = 8;
/** One in this many sessions is live (Pending or Confirmed) in the coming weeks. */
export const LIVE_EVERY = 100;
export const BATCH_SESSIONS = 50_000;

export interface FillShape {
  sessions: number;
  clients: number;
  psychologists: number;
  /** Slots per psychologist (S). */
  slots: number;
  /** [first k, last k] of each batch, inclusive. */
  batches: Array<[number, number]>;
}

export function fillShape(sessions: number, batchSize = BATCH_SESSIONS): FillShape {
  if (!Number.isInteger(sessions) || sessions < 1) {
    throw new Error(`sessions must be a positive integer, got ${sessions}`);
  }
  const psychologists = Math.ceil(sessions / SESSIONS_PER_PSYCHOLOGIST);
  const clients = Math.max(psychologists, Math.ceil(sessions / SESSIONS_PER_CLIENT));
  const batches: Array<[number, number]> = [];
  for (let lo = 0; lo < sessions; lo += batchSize) {
    batches.push([lo, Math.min(sessions, lo + batchSize) - 1]);
  }
  return {
    sessions,
    clients,
    psychologists,
    slots: Math.ceil(sessions / psychologists),
    batches,
  };
}

export interface SlotOf {
  client: number;
  psychologist: number;
  live: boolean;
  /** Days after the first day of its period (the past year, or the coming weeks). */
  day: number;
  hour: number;
}

/** Where session `k` sits; `slotSql` says the same in SQL. */
export function slotOf(k: number, shape: FillShape): SlotOf {
  const j = Math.floor(k / shape.psychologists);
  const live = k % LIVE_EVERY === 0;
  return {
    client: k % shape.clients,
    psychologist: k % shape.psychologists,
    live,
    day: Math.floor((j * (live ? LIVE_DAYS : PAST_DAYS)) / shape.slots),
    hour: FIRST_HOUR + (j % HOURS_A_DAY),
  };
}

/**
 * The SQL twin of `slotOf` over a bigint column `k`: the client's and psychologist's numbers,
 * whether live, and the scheduled start (`pastFrom` and `liveFrom`: SQL timestamps of day 0).
 */
export function slotSql(shape: FillShape, pastFrom: string, liveFrom: string) {
  const j = `(k / ${shape.psychologists})`;
  const live = `(k % ${LIVE_EVERY} = 0)`;
  const day = (days: number) => `((${j} * ${days}) / ${shape.slots})`;
  const hour = `(${FIRST_HOUR} + ${j} % ${HOURS_A_DAY})`;
  return {
    client: `(k % ${shape.clients})`,
    psychologist: `(k % ${shape.psychologists})`,
    live,
    start: `CASE WHEN ${live}
       THEN ${liveFrom} + make_interval(days => ${day(LIVE_DAYS)}::int, hours => ${hour}::int)
       ELSE ${pastFrom} + make_interval(days => ${day(PAST_DAYS)}::int, hours => ${hour}::int) END`,
  };
}

/** `--sessions N` or `--sessions=N` (underscores and commas allowed: 1_000_000). */
export function parseFillArgs(args: readonly string[]): { sessions: number } {
  let raw: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--sessions') {
      raw = args[i + 1];
      i++;
    } else if (arg.startsWith('--sessions=')) {
      raw = arg.slice('--sessions='.length);
    } else {
      throw new Error(`unknown argument ${arg} (usage: --sessions N)`);
    }
  }
  if (raw === undefined) {
    throw new Error('--sessions N is required');
  }
  const sessions = Number(raw.replace(/[_,]/g, ''));
  if (!Number.isInteger(sessions) || sessions < 1 || sessions > 100_000_000) {
    throw new Error(`--sessions must be an integer from 1 to 100,000,000, got ${raw}`);
  }
  return { sessions };
}
