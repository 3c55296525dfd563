import { randomBytes } from 'node:crypto';
import type { CallRecord } from './records.js';
import { Participant, type Account, type Counters } from './participant.js';
import type { Rest, RestAnswer } from './rest.js';
import { sleep, type Rng } from './rng.js';

export type Phase = 'ramp' | 'faults' | 'settle' | 'drain' | 'over';

export interface CallContext {
  rest: Rest;
  url: string;
  counters: Counters;
  admin: Admin;
  phase: () => Phase;
  graceMs: number;
  /** Lifetime of a call before its participants end it, ms. */
  lifetimeMs: [number, number];
  say: (message: string) => void;
}

const PASSWORD = 'chaos-password-1';

/** Retries a REST step through outages: the answer, once it is one of `ok`. */
async function retrying<T>(
  step: () => Promise<RestAnswer<T>>,
  ok: (a: RestAnswer<T>) => boolean,
  what: string,
  timeoutMs = 90_000,
): Promise<RestAnswer<T>> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    const answer = await step();
    if (ok(answer)) {
      return answer;
    }
    const transient = answer.status === 0 || answer.status >= 500 || answer.status === 429;
    if (!transient || Date.now() > deadline) {
      throw new Error(`${what}: ${answer.status} ${answer.code ?? JSON.stringify(answer.body)}`);
    }
    await sleep(Math.min(4000, 300 * 2 ** attempt));
  }
}

/** The admin confirms payments (it stands for the payment provider). */
export class Admin {
  private token = '';
  private expiresAt = 0;

  constructor(
    private readonly rest: Rest,
    private readonly credentials: { email: string; password: string },
  ) {}

  async auth(): Promise<string> {
    if (this.expiresAt - Date.now() < 20_000) {
      const res = await retrying<{ accessToken: string; expiresIn: number }>(
        () => this.rest.call('POST', '/api/auth/login', { body: this.credentials }),
        (a) => a.status === 200,
        'admin login',
      );
      this.token = res.body.accessToken;
      this.expiresAt = Date.now() + res.body.expiresIn * 1000;
    }
    return this.token;
  }
}

async function register(ctx: CallContext, role: Account['role']): Promise<Account> {
  const email = `chaos-${role}-${randomBytes(6).toString('hex')}@chaos.test`;
  const body = { email, password: PASSWORD, name: `Chaos ${role}`, role };
  // A registration whose answer was lost may have been applied: then EMAIL_TAKEN, and a login.
  const res = await retrying<any>(
    async () => {
      const r = await ctx.rest.call('POST', '/api/auth/register', { body });
      return r.status === 409 && r.code === 'EMAIL_TAKEN'
        ? ctx.rest.call('POST', '/api/auth/login', { body: { email, password: PASSWORD } })
        : r;
    },
    (a) => a.status === 201 || a.status === 200,
    `register ${role}`,
  );
  return {
    id: res.body.user.id,
    email,
    password: PASSWORD,
    role,
    access: res.body.accessToken,
    accessExpiresAt: Date.now() + res.body.expiresIn * 1000,
    refresh: res.body.refreshToken,
  };
}

/**
 * One call: a client and a psychologist, a session booked to start now and paid, and a script
 * that runs the two browser tabs: each steps away now and then (leave-room, or closing the tab)
 * and comes back, mostly within the grace period, sometimes after it; at the end of its lifetime
 * the call ends either by both leaving for good (the service auto-ends it after the grace) or by
 * one pressing End (REST) and both leaving.
 */
export class Call {
  readonly record: CallRecord;
  readonly participants: Participant[];
  private running?: Promise<void>;
  private draining = false;

  private constructor(
    private readonly ctx: CallContext,
    private readonly rng: Rng,
    sessionId: string,
    accounts: [Account, Account],
  ) {
    this.participants = accounts.map(
      (a) =>
        new Participant(a, sessionId, {
          rest: ctx.rest,
          url: ctx.url,
          rng: rng.fork(a.role),
          counters: ctx.counters,
        }),
    );
    this.record = {
      sessionId,
      createdAt: Date.now(),
      participants: this.participants.map((p) => p.record),
    };
  }

  static async create(ctx: CallContext, rng: Rng): Promise<Call> {
    const [client, psychologist] = await Promise.all([
      register(ctx, 'client'),
      register(ctx, 'psychologist'),
    ]);
    const booked = await retrying<any>(
      async () => {
        const r = await ctx.rest.call('POST', '/api/sessions', {
          route: '/api/sessions',
          token: client.access,
          body: { psychologistId: psychologist.id, scheduledStart: new Date().toISOString() },
        });
        if (r.status === 409 && r.code === 'SLOT_TAKEN') {
          // An earlier attempt went through without its answer: that booking is ours.
          const list = await ctx.rest.call('GET', '/api/sessions?status=Pending', {
            route: '/api/sessions',
            token: client.access,
          });
          return list.status === 200 && list.body.items[0]
            ? { status: 201, body: list.body.items[0] }
            : list;
        }
        return r;
      },
      (a) => a.status === 201,
      'book',
    );
    const sessionId: string = booked.body.id;
    await retrying(
      async () =>
        ctx.rest.call('POST', `/api/sessions/${sessionId}/payment`, {
          route: '/api/sessions/:id/payment',
          token: await ctx.admin.auth(),
          body: { paymentStatus: 'Paid' },
        }),
      (a) => a.status === 200,
      'pay',
    );
    return new Call(ctx, rng, sessionId, [client, psychologist]);
  }

  get sessionId(): string {
    return this.record.sessionId;
  }

  /** Both tabs are gone for good (the call may still be waiting for its auto-end). */
  get over(): boolean {
    return this.participants.every((p) => p.finished || p.wanted.mode === 'done');
  }

  get finished(): boolean {
    return this.participants.every((p) => p.finished);
  }

  start(): void {
    const tabs = this.participants.map((p) => p.run());
    this.running = Promise.all([...tabs, this.script()]).then(() => undefined);
  }

  wait(): Promise<void> {
    return this.running ?? Promise.resolve();
  }

  /** The settle: whoever stepped away comes back now. */
  comeBack(): void {
    for (const p of this.participants) {
      if (p.wanted.mode === 'away') {
        p.want({ mode: 'in' });
      }
    }
  }

  /** The calm end of the run: both leave for good, a few seconds apart. */
  async drain(): Promise<void> {
    if (this.over) {
      return;
    }
    this.draining = true;
    this.record.drainedAt = Date.now();
    await Promise.all(
      this.participants.map(async (p) => {
        await sleep(this.rng.between(0, 3000));
        p.want({ mode: 'done', how: this.rng.chance(0.7) ? 'leave' : 'close' });
      }),
    );
  }

  private voluntary(): boolean {
    const phase = this.ctx.phase();
    return !this.draining && (phase === 'ramp' || phase === 'faults');
  }

  private async script(): Promise<void> {
    const [min, max] = this.ctx.lifetimeMs;
    const endAt = Date.now() + this.rng.between(min, max);
    await Promise.all(this.participants.map((p) => this.wander(p, endAt)));
    if (!this.voluntary() || this.participants.some((p) => p.ended)) {
      return;
    }
    if (this.rng.chance(0.7)) {
      // Both leave for good, the second up to 10 s after the first: the service ends the call
      // by itself after the grace, as of the second leave.
      const [first, second] = this.rng.shuffle(this.participants);
      first.want({ mode: 'done', how: this.rng.chance(0.7) ? 'leave' : 'close' });
      await sleep(this.rng.between(0, 10_000));
      second.want({ mode: 'done', how: this.rng.chance(0.7) ? 'leave' : 'close' });
      return;
    }
    // One presses End; the other's app hears the status, or reads it over REST a moment later
    // (as a browser does when its peer connection drops).
    const [ender, other] = this.rng.shuffle(this.participants);
    const ended = await retrying(
      async () =>
        this.ctx.rest.call('POST', `/api/video-calls/end/${this.sessionId}`, {
          route: '/api/video-calls/end/:id',
          token: ender.account.access,
        }),
      (a) => a.status === 200 || a.status === 409,
      'end',
    ).catch(() => undefined);
    ender.learnEnded(ended?.status === 200 ? 'pressed End' : 'End refused');
    await sleep(5000);
    if (!other.ended) {
      const view = await this.ctx.rest.call<{ status: string }>(
        'GET',
        `/api/video-calls/session/${this.sessionId}`,
        { route: '/api/video-calls/session/:id', token: other.account.access },
      );
      other.learnEnded(
        view.status === 200 ? `read ${view.body.status} over REST` : 'told by the other side',
      );
    }
  }

  /** Steps away and back until the call's end is due (or the voluntary phase is over). */
  private async wander(p: Participant, endAt: number): Promise<void> {
    for (;;) {
      await sleep(this.rng.between(8000, 30_000));
      if (!this.voluntary() || Date.now() >= endAt || p.ended) {
        return;
      }
      if (!this.rng.chance(0.5)) {
        continue;
      }
      // Mostly back well within the grace, a few times after it (the call may then end, which
      // is right when the other one is away too).
      const r = this.rng.next();
      const graceMs = this.ctx.graceMs;
      const awayMs =
        r < 0.7
          ? this.rng.between(1000, 8000)
          : r < 0.93
            ? this.rng.between(8000, graceMs - 3000)
            : this.rng.between(graceMs + 1000, graceMs + 10_000);
      p.want({
        mode: 'away',
        how: this.rng.chance(0.5) ? 'leave' : 'close',
        until: Date.now() + awayMs,
      });
      await sleep(awayMs + 500);
    }
  }
}
