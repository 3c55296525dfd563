import { readFileSync } from 'node:fs';
import { check, inRoomAt } from './checker.js';
import { planFaults } from './faults.js';
import { nginxConfigFrom } from './nginx.js';
import { FAULT_KINDS, type CallRecord, type RunRecord, type TimelineEvent } from './records.js';
import { Rng } from './rng.js';

const T0 = Date.parse('2026-01-01T10:00:00.000Z');
const GRACE = 15_000;
const iso = (t: number) => new Date(t).toISOString();

function call(
  sessionId: string,
  client: TimelineEvent[],
  psychologist: TimelineEvent[],
  end?: { at: number; ended: number; cause?: string },
): CallRecord {
  return {
    sessionId,
    createdAt: T0,
    participants: [
      { userId: `${sessionId}-c`, role: 'client', timeline: client },
      { userId: `${sessionId}-p`, role: 'psychologist', timeline: psychologist },
    ],
    status: end ? 'Completed' : 'In Progress',
    videoCallEnded: end ? iso(end.ended) : null,
    history: [
      { from: 'Confirmed', to: 'In Progress', at: iso(T0 + 100), cause: 'auto-start' },
      ...(end
        ? [
            {
              from: 'In Progress',
              to: 'Completed',
              at: iso(end.at),
              cause: end.cause ?? 'auto-end',
            },
          ]
        : []),
    ],
  };
}

const joined = (socket: string, t: number): TimelineEvent[] => [
  { t: t - 20, type: 'join-sent', socket },
  { t, type: 'join-ok', socket, sentAt: t - 20, status: 'In Progress' },
];

function run(calls: CallRecord[], extra: Partial<RunRecord> = {}): RunRecord {
  return {
    startedAt: T0,
    faultsEndedAt: T0 + 60_000,
    collectedAt: T0 + 120_000,
    graceMs: GRACE,
    heartbeatMs: 1000,
    faults: [],
    lives: [],
    calls,
    rest: [],
    presence: [],
    instanceRows: [],
    ...extra,
  };
}

const kinds = (r: RunRecord) => check(r).violations.map((v) => v.invariant);

describe('chaos checker', () => {
  const leftAt = T0 + 30_000;
  const calm = call(
    's1',
    [...joined('a', T0), { t: leftAt - 4000, type: 'leave-sent', socket: 'a' }],
    [...joined('b', T0), { t: leftAt, type: 'close', socket: 'b' }],
    { at: leftAt + GRACE + 400, ended: leftAt + 30 },
  );

  it('finds nothing in a call that ended by itself, on time, after both left', () => {
    expect(kinds(run([calm]))).toEqual([]);
  });

  it('flags an auto-end while a participant is still in the room', () => {
    const c = call(
      's2',
      joined('a', T0),
      [...joined('b', T0), { t: leftAt, type: 'close', socket: 'b' }],
      {
        at: leftAt + GRACE + 400,
        ended: leftAt,
      },
    );
    expect(kinds(run([c]))).toEqual(['end-while-present']);
  });

  it('flags an auto-end before the room was empty for the grace period', () => {
    const c = {
      ...calm,
      history: calm.history!.map((h) =>
        h.to === 'Completed' ? { ...h, at: iso(leftAt + 5000) } : h,
      ),
    };
    expect(kinds(run([c]))).toEqual(['end-while-present']);
  });

  it('flags a videoCallEnded that is not the last leave', () => {
    const c = { ...calm, videoCallEnded: iso(leftAt - 4000) };
    expect(kinds(run([c]))).toEqual(['end-time']);
  });

  it("takes a killed instance's last heartbeat as a leave of its sockets", () => {
    const killedAt = leftAt;
    const c = call(
      's3',
      [...joined('a', T0), { t: leftAt - 4000, type: 'leave-sent', socket: 'a' }],
      [
        ...joined('b', T0),
        { t: killedAt + 5, type: 'disconnect', socket: 'b', reason: 'transport close' },
      ],
      { at: killedAt - 1200 + GRACE + 300, ended: killedAt - 1200 },
    );
    const lives = [
      {
        index: 1,
        port: 1,
        spawnAt: T0 - 9000,
        upAt: T0 - 8000,
        exitAt: killedAt + 1,
        instanceIds: ['i1'],
      },
    ];
    const presence = [
      {
        sessionId: 's3',
        socketId: 'b',
        userId: 's3-p',
        instanceId: 'i1',
        joinedAt: T0,
        leftAt: killedAt - 1200,
        leftReason: 'instance-lost',
      },
    ];
    const kill = { kind: 'kill' as const, target: 1, start: killedAt, end: killedAt + 4000 };
    expect(kinds(run([c], { lives, presence, faults: [kill] }))).toEqual([]);
    expect(kinds(run([c], { lives, presence }))).toEqual(['end-time']);
  });

  it('lets the stays of an instance killed during a database outage end when a survivor beats again', () => {
    const killedAt = leftAt;
    const backAt = killedAt + 6000;
    const lives = [
      {
        index: 1,
        port: 1,
        spawnAt: T0 - 9000,
        upAt: T0 - 8000,
        exitAt: killedAt + 1,
        instanceIds: ['i1'],
      },
    ];
    const presence = [
      {
        sessionId: 's6',
        socketId: 'b',
        userId: 's6-p',
        instanceId: 'i1',
        joinedAt: T0,
        leftAt: backAt + 300,
        leftReason: 'instance-lost',
      },
    ];
    const kill = { kind: 'kill' as const, target: 1, start: killedAt, end: killedAt + 9000 };
    const outage = { kind: 'postgres' as const, start: killedAt - 3000, end: backAt };
    const ending = (at: number, ended: number) =>
      call(
        's6',
        [...joined('a', T0), { t: killedAt - 6000, type: 'leave-sent', socket: 'a' }],
        [
          ...joined('b', T0),
          { t: killedAt + 5, type: 'disconnect', socket: 'b', reason: 'transport close' },
        ],
        { at, ended },
      );
    const both = { lives, presence, faults: [kill, outage] };
    // Ended as of the survivor's beat, the grace period after it: sound.
    expect(kinds(run([ending(backAt + 300 + GRACE + 300, backAt + 300)], both))).toEqual([]);
    // Without the outage, that end is late.
    const late = ending(backAt + 300 + GRACE + 300, backAt + 300);
    expect(kinds(run([late], { lives, presence, faults: [kill] }))).toEqual(['end-time']);
    // The auto-end still waits for the grace period after the kill: as of the last heartbeat
    // before the outage, the end comes too soon.
    const early = ending(killedAt + GRACE - 4000, killedAt - 3500);
    expect(kinds(run([early], both))).toEqual(['end-while-present']);
  });

  it('counts a socket on a frozen instance as in the room', () => {
    const c = call('s4', joined('a', T0), joined('b', T0), { at: T0 + 20_000, ended: T0 + 4000 });
    const freeze = { kind: 'freeze' as const, target: 0, start: T0 + 5000, end: T0 + 15_000 };
    expect(kinds(run([c], { faults: [freeze] }))).toEqual(['end-while-present']);
  });

  it('compares open stays with the sockets in rooms', () => {
    const c = call('s5', joined('a', T0), joined('b', T0));
    const at = T0 + 10_000;
    const inRoom = inRoomAt([c], at).map((s) => ({
      sessionId: s.sessionId,
      socketId: s.socket,
      userId: s.userId,
    }));
    expect(inRoom.map((s) => s.socketId).sort()).toEqual(['a', 'b']);
    const stay = (socketId: string) => ({
      sessionId: 's5',
      socketId,
      userId: 'u',
      instanceId: 'i',
      joinedAt: T0,
      leftAt: null,
      leftReason: null,
    });
    const matched = run([c], { snapshot: { at, inRoom, openStays: [stay('a'), stay('b')] } });
    expect(kinds(matched)).toEqual([]);
    const skewed = run([c], { snapshot: { at, inRoom, openStays: [stay('a'), stay('ghost')] } });
    expect(kinds(skewed).sort()).toEqual(['presence-ghost', 'presence-missing']);
  });

  it('allows 503 UNAVAILABLE and nothing else of the 5xx', () => {
    const answer = (status: number, code?: string) => ({
      t: T0,
      ms: 3,
      method: 'GET',
      route: '/api/x',
      status,
      code,
    });
    const r = run([], {
      rest: [
        answer(200),
        answer(503, 'UNAVAILABLE'),
        answer(500, 'INTERNAL'),
        answer(503, 'OTHER'),
        answer(502),
      ],
    });
    expect(kinds(r)).toEqual(['rest-5xx', 'rest-5xx', 'rest-5xx']);
    const killed = run([], {
      rest: [{ ...answer(502), ms: 30, fromNginx: true }],
      faults: [{ kind: 'kill', target: 0, start: T0 + 10, end: T0 + 4000 }],
    });
    expect(kinds(killed)).toEqual([]);
  });

  it('flags a call left for good that never ends, or ends late in the calm end', () => {
    const left = (id: string, end?: { at: number; ended: number }) =>
      call(
        id,
        [...joined('a', T0), { t: leftAt, type: 'close' as const, socket: 'a' }],
        [...joined('b', T0), { t: leftAt, type: 'close' as const, socket: 'b' }],
        end,
      );
    expect(kinds(run([left('s6')]))).toEqual(['auto-end-missing']);
    const late = { at: leftAt + GRACE + 6000, ended: leftAt };
    // Late while faults ran: an outage may excuse it. Late in the calm end: nothing does.
    expect(kinds(run([left('s7', late)]))).toEqual([]);
    expect(kinds(run([{ ...left('s8', late), drainedAt: leftAt - 100 }]))).toEqual([
      'auto-end-missing',
    ]);
    expect(
      kinds(
        run([
          { ...left('s9', { at: leftAt + GRACE + 300, ended: leftAt }), drainedAt: leftAt - 100 },
        ]),
      ),
    ).toEqual([]);
  });
});

describe('chaos fault schedule', () => {
  it('covers every kind in a short run and is the same for the same seed', () => {
    const plan = planFaults(new Rng(42), 75_000);
    expect(new Set(plan.map((f) => f.kind))).toEqual(new Set(FAULT_KINDS));
    expect(planFaults(new Rng(42), 75_000)).toEqual(plan);
    expect(plan.every((f) => f.kind !== 'freeze' || f.durationMs <= 10_000)).toBe(true);
  });
});

describe('chaos nginx config', () => {
  it('is the shipped file with three local upstreams, its own port and private paths', () => {
    const shipped = readFileSync(new URL('../../deploy/nginx.conf', import.meta.url), 'utf8');
    const config = nginxConfigFrom(shipped, {
      upstreamPorts: [4001, 4002, 4003],
      listenPort: 4100,
      dir: '/tmp/x',
    });
    expect(config).not.toMatch(/app\d:3000/);
    expect(config.match(/server 127\.0\.0\.1:400\d max_fails=1 fail_timeout=5s;/g)).toHaveLength(3);
    expect(config).toContain('listen 127.0.0.1:4100;');
    expect(config).toContain('daemon off;');
    // Everything else is the shipped text.
    const body = (s: string) => s.slice(s.indexOf('  map $http_upgrade'), s.indexOf('    listen '));
    expect(body(config)).toBe(body(shipped));
    expect(config.slice(config.indexOf('client_max_body_size'))).toBe(
      shipped.slice(shipped.indexOf('client_max_body_size')),
    );
  });
});
