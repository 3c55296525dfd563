import type { Instance } from './instances.js';
import { FAULT_KINDS, type FaultKind, type FaultRecord } from './records.js';
import { sleep, type Rng } from './rng.js';

export interface PlannedFault {
  /** Offset from the start of the fault phase, ms. */
  at: number;
  kind: FaultKind;
  /** How long the fault lasts (freeze, outage) or how long a dead instance stays down. */
  durationMs: number;
  /** Preferred instance (kill, freeze, deploy). */
  target: number;
}

/** The longest SIGSTOP: the grace period must cover it plus a heartbeat (see run.ts). */
export const MAX_FREEZE_MS = 10_000;

/**
 * The fault schedule, from the seed alone: every kind once first (in a random order, so a short
 * run still covers them all), then random kinds until the phase is over. Starts are spaced so
 * that faults run one at a time or overlap a little (an outage can last longer than the gap).
 */
export function planFaults(
  rng: Rng,
  durationMs: number,
  kinds: readonly FaultKind[] = FAULT_KINDS,
): PlannedFault[] {
  if (kinds.length === 0) {
    return [];
  }
  const lastStart = Math.max(0, durationMs - 8000);
  const meanGap = Math.min(15_000, Math.max(4000, (lastStart - 4000) / kinds.length));
  const plan: PlannedFault[] = [];
  let at = 4000;
  const first = rng.shuffle(kinds);
  while (plan.length < kinds.length || at <= lastStart) {
    const kind = plan.length < first.length ? first[plan.length] : rng.pick(kinds);
    plan.push({ at, kind, durationMs: durationOf(rng, kind), target: rng.int(0, 2) });
    at += rng.between(0.6, 1.4) * meanGap;
  }
  return plan;
}

function durationOf(rng: Rng, kind: FaultKind): number {
  switch (kind) {
    case 'freeze':
      return rng.between(2000, MAX_FREEZE_MS);
    case 'postgres':
      return rng.between(3000, 20_000);
    case 'redis':
      return rng.between(3000, 20_000);
    case 'kill':
      return rng.between(1000, 4000);
    case 'deploy':
      return rng.between(500, 2000);
  }
}

export interface FaultTargets {
  instances: Instance[];
  postgres: { stop(): Promise<void>; start(): Promise<void> };
  redis: { stop(): Promise<void>; start(): Promise<void> };
  say: (message: string) => void;
}

/**
 * Applies the schedule. Instance faults only hit an instance that is up while at least one other
 * is up too (the load balancer always has somewhere to send a client); a fault that finds no such
 * instance, or a database or Redis fault that finds the previous one still running, waits.
 */
export async function runFaults(
  plan: PlannedFault[],
  phaseStart: number,
  targets: FaultTargets,
  records: FaultRecord[],
): Promise<void> {
  const busy = new Set<string>();
  await Promise.all(
    plan.map(async (fault) => {
      await sleep(phaseStart + fault.at - Date.now());
      for (let waited = 0; ; waited += 500) {
        const ready = pickReady(fault, targets.instances, busy);
        if (ready !== null) {
          await apply(fault, ready, targets, records, busy);
          return;
        }
        if (waited > 60_000) {
          targets.say(`fault ${fault.kind} skipped: no target became free`);
          return;
        }
        await sleep(500);
      }
    }),
  );
}

function pickReady(fault: PlannedFault, instances: Instance[], busy: Set<string>): number | null {
  if (fault.kind === 'postgres' || fault.kind === 'redis') {
    return busy.has(fault.kind) ? null : -1;
  }
  const up = instances.filter((i) => i.state === 'up' && !busy.has(`instance-${i.index}`));
  if (up.length < 2) {
    return null;
  }
  return (up.find((i) => i.index === fault.target) ?? up[0]).index;
}

async function apply(
  fault: PlannedFault,
  target: number,
  t: FaultTargets,
  records: FaultRecord[],
  busy: Set<string>,
): Promise<void> {
  const key = target >= 0 ? `instance-${target}` : fault.kind;
  busy.add(key);
  const record: FaultRecord = {
    kind: fault.kind,
    ...(target >= 0 ? { target } : {}),
    start: Date.now(),
    end: 0,
  };
  records.push(record);
  const secs = (fault.durationMs / 1000).toFixed(1);
  try {
    switch (fault.kind) {
      case 'kill': {
        const instance = t.instances[target];
        t.say(`fault: kill -9 instance ${target}, restart after ${secs} s`);
        instance.signal('SIGKILL');
        await instance.waitExit(10_000);
        await sleep(fault.durationMs);
        await instance.start();
        break;
      }
      case 'deploy': {
        const instance = t.instances[target];
        t.say(`fault: SIGTERM (deploy) instance ${target}`);
        instance.signal('SIGTERM');
        const exited = await instance.waitExit(15_000);
        // The contract: exit 0 within 10 s.
        record.note = exited
          ? `exited (${instance.lastExit}) after ${((Date.now() - record.start) / 1000).toFixed(1)} s`
          : 'did not exit within 15 s: killed';
        if (!exited) {
          instance.signal('SIGKILL');
          await instance.waitExit(5000);
        }
        await sleep(fault.durationMs);
        await instance.start();
        break;
      }
      case 'freeze': {
        const instance = t.instances[target];
        t.say(`fault: SIGSTOP instance ${target} for ${secs} s`);
        instance.signal('SIGSTOP');
        await sleep(fault.durationMs);
        instance.signal('SIGCONT');
        break;
      }
      case 'postgres':
        t.say(`fault: PostgreSQL stopped for ${secs} s`);
        await t.postgres.stop();
        await sleep(fault.durationMs);
        await t.postgres.start();
        break;
      case 'redis':
        t.say(`fault: Redis stopped for ${secs} s`);
        await t.redis.stop();
        await sleep(fault.durationMs);
        await t.redis.start();
        break;
    }
  } finally {
    record.end = Date.now();
    busy.delete(key);
    t.say(`fault over: ${fault.kind}${target >= 0 ? ` instance ${target}` : ''}`);
  }
}
