import type { CheckResult, Violation } from './checker.js';
import { INVARIANTS } from './checker.js';
import type { Counters } from './participant.js';
import { FAULT_KINDS, type RunMeta, type RunRecord } from './records.js';

export interface Figures {
  date: string;
  seed: number;
  mode: string;
  faultPhaseSeconds: number;
  settings: {
    instances: number;
    graceSeconds: number;
    heartbeatSeconds: number;
    jwtExpiresIn: number;
    targetCalls: number;
  };
  faults: Record<string, { count: number; seconds: number }>;
  calls: {
    started: number;
    completed: number;
    byCause: Record<string, number>;
    notCompleted: number;
    setupFailures: number;
  };
  clients: Counters;
  rest: {
    requests: number;
    byStatus: Record<string, number>;
    /** 5xx answers by status, code and route. */
    serverErrors: Record<string, number>;
    unavailable: number;
    unavailableOutsideOutages: number;
    killedMidRequest: number;
  };
  unexpectedExits: number;
  /** How each SIGTERM deploy went (the contract: exit 0 within 10 s). */
  deploys: string[];
  violations: Record<string, number>;
  examples: Record<string, Violation[]>;
}

export function figures(run: RunRecord, result: CheckResult, extra: RunMeta): Figures {
  const faults: Figures['faults'] = {};
  for (const kind of FAULT_KINDS) {
    const of = run.faults.filter((f) => f.kind === kind);
    faults[kind] = {
      count: of.length,
      seconds: Math.round(of.reduce((s, f) => s + (f.end - f.start), 0) / 100) / 10,
    };
  }
  const byCause: Record<string, number> = {};
  let completed = 0;
  for (const c of run.calls) {
    const row = c.history?.find((h) => h.to === 'Completed');
    if (row) {
      completed++;
      byCause[row.cause] = (byCause[row.cause] ?? 0) + 1;
    }
  }
  const byStatus: Record<string, number> = {};
  for (const r of run.rest) {
    const k = r.status === 0 ? (r.code ?? 'no answer') : String(r.status);
    byStatus[k] = (byStatus[k] ?? 0) + 1;
  }
  const serverErrors: Record<string, number> = {};
  for (const r of run.rest.filter((x) => x.status >= 500)) {
    const k = `${r.status} ${r.code ?? (r.fromNginx ? 'nginx' : '-')} ${r.method} ${r.route}`;
    serverErrors[k] = (serverErrors[k] ?? 0) + 1;
  }
  const violations: Record<string, number> = {};
  const examples: Record<string, Violation[]> = {};
  for (const key of Object.keys(INVARIANTS)) {
    const of = result.violations.filter((v) => v.invariant === key);
    violations[key] = of.length;
    // One example per kind of answer, not three of the same.
    const seen = new Set<string>();
    examples[key] = of
      .filter((v) => {
        const kind = key === 'rest-5xx' ? v.summary.replace(/ at \S+/, '') : v.summary;
        return !seen.has(kind) && seen.add(kind);
      })
      .slice(0, 3);
  }
  return {
    date: new Date(run.startedAt).toISOString(),
    seed: extra.seed,
    mode: extra.mode,
    faultPhaseSeconds: Math.round((run.faultsEndedAt - run.startedAt) / 1000),
    settings: {
      instances: 3,
      graceSeconds: run.graceMs / 1000,
      heartbeatSeconds: run.heartbeatMs / 1000,
      jwtExpiresIn: extra.jwtExpiresIn,
      targetCalls: extra.targetCalls,
    },
    faults,
    calls: {
      started: run.calls.length,
      completed,
      byCause,
      notCompleted: run.calls.length - completed,
      setupFailures: extra.setupFailures,
    },
    clients: extra.counters,
    rest: {
      requests: run.rest.length,
      byStatus,
      serverErrors,
      unavailable: run.rest.filter((r) => r.status === 503 && r.code === 'UNAVAILABLE').length,
      unavailableOutsideOutages: result.unavailableOutsideOutages.length,
      killedMidRequest: result.killedMidRequest.length,
    },
    unexpectedExits: extra.unexpectedExits,
    deploys: run.faults.filter((x) => x.kind === 'deploy').map((x) => x.note ?? '?'),
    violations,
    examples,
  };
}

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (c: string[]) => `| ${c.map((x, i) => x.padEnd(widths[i])).join(' | ')} |`;
  return [
    line(head),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...rows.map(line),
  ].join('\n');
}

export function render(f: Figures): string {
  const out: string[] = [];
  out.push(
    `Chaos run (${f.mode}, seed ${f.seed}): ${f.faultPhaseSeconds} s ${Object.values(f.faults).some((x) => x.count > 0) ? 'of faults' : 'without faults'}, ${f.settings.instances} instances behind nginx (deploy/nginx.conf), ` +
      `${f.settings.targetCalls} calls kept going, grace ${f.settings.graceSeconds} s, heartbeat ${f.settings.heartbeatSeconds} s`,
  );
  out.push('');
  out.push(
    table(
      ['fault', 'injected', 'seconds'],
      Object.entries(f.faults).map(([k, v]) => [k, String(v.count), String(v.seconds)]),
    ),
  );
  out.push('');
  const c = f.clients;
  const joinsFailed = Object.entries(c.joinsFailed)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  const causes = Object.entries(f.calls.byCause)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  out.push(
    table(
      ['figure', 'value'],
      [
        ['calls started', String(f.calls.started)],
        ['calls completed', `${f.calls.completed}${causes ? ` (${causes})` : ''}`],
        ['calls not completed at the end', String(f.calls.notCompleted)],
        ['call set-ups that failed', String(f.calls.setupFailures)],
        ['joins acknowledged', String(c.joinsOk)],
        ['joins refused', joinsFailed || '0'],
        [
          'socket connections',
          `${c.connects} (failed: ${
            Object.entries(c.connectFailures)
              .map(([k, v]) => `${k} ${v}`)
              .join(', ') || '0'
          })`,
        ],
        [
          'token renewals',
          `${c.renewals} ok, ${c.renewalsFailed} failed; ${c.refreshes} refreshes, ${c.logins} logins again`,
        ],
        [
          'signals',
          `${c.signalsSent} sent, ${c.signalsFailed} refused, ${c.signalsReceived} received`,
        ],
        [
          'REST answers',
          Object.entries(f.rest.byStatus)
            .map(([k, v]) => `${k}: ${v}`)
            .join(', '),
        ],
        ...Object.entries(f.rest.serverErrors).map(([k, v]) => [`  ${k}`, String(v)]),
        ['503 UNAVAILABLE outside outages', String(f.rest.unavailableOutsideOutages)],
        ['502 of nginx: instance killed mid-request', String(f.rest.killedMidRequest)],
        ['instances that exited unasked', String(f.unexpectedExits)],
        ['SIGTERM deploys', f.deploys.join('; ') || '-'],
      ],
    ),
  );
  out.push('');
  out.push(
    table(
      ['invariant', 'violations'],
      Object.entries(INVARIANTS).map(([k, text]) => [`${k}: ${text}`, String(f.violations[k])]),
    ),
  );
  for (const [key, list] of Object.entries(f.examples)) {
    for (const v of list) {
      out.push('');
      out.push(`[${key}] ${v.sessionId ? `session ${v.sessionId}: ` : ''}${v.summary}`);
      if (v.details) {
        out.push(
          JSON.stringify(v.details, null, 2)
            .split('\n')
            .map((l) => `    ${l}`)
            .join('\n'),
        );
      }
    }
  }
  const total = Object.values(f.violations).reduce((a, b) => a + b, 0);
  out.push('');
  out.push(total === 0 ? 'All invariants held.' : `${total} violation(s).`);
  return out.join('\n');
}
