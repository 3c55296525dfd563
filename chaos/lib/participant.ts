import { io, type Socket } from 'socket.io-client';
import type { ParticipantRecord, TimelineEvent } from './records.js';
import type { Rest } from './rest.js';
import type { Rng } from './rng.js';

export interface Account {
  id: string;
  email: string;
  password: string;
  role: 'client' | 'psychologist';
  access: string;
  /** When the access token expires (ms). */
  accessExpiresAt: number;
  refresh: string;
}

/** What the call's script wants this participant to do; the participant's loop carries it out. */
export type Wanted =
  | { mode: 'in' }
  | { mode: 'away'; how: 'leave' | 'close'; until: number }
  | { mode: 'done'; how: 'leave' | 'close' };

/** Join refusals after which coming back cannot help: the call is over or was never ours. */
const FINAL_REFUSALS = new Set([
  'INVALID_TRANSITION',
  'NOT_FOUND',
  'NOT_PARTICIPANT',
  'PAYMENT_NOT_CONFIRMED',
  'TOO_EARLY',
  'VALIDATION_FAILED',
  'FORBIDDEN',
]);
const TERMINAL = new Set(['Completed', 'Cancelled', 'No Show']);

export interface Counters {
  joinsOk: number;
  joinsFailed: Record<string, number>;
  connects: number;
  connectFailures: Record<string, number>;
  renewals: number;
  renewalsFailed: number;
  refreshes: number;
  logins: number;
  signalsSent: number;
  signalsFailed: number;
  signalsReceived: number;
}

export function newCounters(): Counters {
  return {
    joinsOk: 0,
    joinsFailed: {},
    connects: 0,
    connectFailures: {},
    renewals: 0,
    renewalsFailed: 0,
    refreshes: 0,
    logins: 0,
    signalsSent: 0,
    signalsFailed: 0,
    signalsReceived: 0,
  };
}

/**
 * One participant's browser tab in a call. It behaves as the reference client should: it
 * reconnects after any disconnect (socket.io-client's own reconnection is off because it does
 * not come back after a server-side disconnect, and because every attempt must be on the
 * timeline), rejoins whenever it is connected and not in the room, retries refused joins that
 * may pass later (UNAVAILABLE, INTERNAL, timeouts) with a growing, jittered back-off, renews its
 * token on `token-expiring` (refresh over REST, then `renew-token`), logs in again when its
 * refresh token was revoked, and sends a signal now and then. Every step is on its timeline.
 */
export class Participant {
  readonly timeline: TimelineEvent[] = [];
  wanted: Wanted = { mode: 'in' };
  /** The client learnt that the call is over. */
  ended = false;
  /** Whether a connect, join or leave is under way (the settle waits for quiet). */
  busy = false;
  lastChange = Date.now();
  finished = false;

  private socket?: Socket;
  private inRoom = false;
  private failures = 0;
  private forceRefresh = false;
  private tokens?: Promise<void>;
  private wake?: () => void;

  constructor(
    readonly account: Account,
    readonly sessionId: string,
    private readonly ctx: { rest: Rest; url: string; rng: Rng; counters: Counters },
  ) {}

  get record(): ParticipantRecord {
    return { userId: this.account.id, role: this.account.role, timeline: this.timeline };
  }

  /** Connected and in the room (by this client's knowledge), or over and closed. */
  get settled(): boolean {
    if (this.busy || Date.now() - this.lastChange < 2000) {
      return false;
    }
    if (this.finished) {
      return true;
    }
    return this.wanted.mode === 'in' && this.inRoom && this.socket?.connected === true;
  }

  want(wanted: Wanted): void {
    if (this.finished || this.wanted.mode === 'done') {
      return;
    }
    this.wanted = wanted;
    this.poke();
  }

  /** The call is over (told by the other side's app or read over REST). */
  learnEnded(how: string): void {
    this.markEnded(how);
  }

  async run(): Promise<void> {
    try {
      await this.loop();
    } finally {
      this.closeSocket();
      this.finished = true;
      this.lastChange = Date.now();
    }
  }

  private async loop(): Promise<void> {
    for (;;) {
      if (this.ended) {
        return;
      }
      const wanted = this.wanted;
      if (wanted.mode !== 'in') {
        if (this.inRoom && this.socket?.connected && wanted.how === 'leave') {
          await this.leave();
        }
        if (wanted.mode === 'done' || wanted.how === 'close') {
          this.closeSocket();
        }
        if (wanted.mode === 'done') {
          return;
        }
        await this.pause(wanted.until - Date.now());
        if (Date.now() >= wanted.until && this.wanted === wanted) {
          this.wanted = { mode: 'in' };
        }
        continue;
      }
      if (!this.socket?.connected) {
        if (!(await this.connect())) {
          await this.backoff();
        }
        continue;
      }
      if (!this.inRoom) {
        const outcome = await this.join();
        if (outcome === 'retry') {
          await this.backoff();
        }
        continue;
      }
      this.failures = 0;
      await this.pause(this.ctx.rng.between(3000, 8000));
      if (this.wanted.mode === 'in' && this.inRoom && this.socket?.connected) {
        void this.sendSignal(this.socket);
        if (this.ctx.rng.chance(0.5)) {
          void this.readCall();
        }
      }
    }
  }

  private note(event: TimelineEvent): void {
    this.timeline.push(event);
    this.lastChange = event.t;
  }

  private poke(): void {
    this.wake?.();
  }

  /** Waits up to `ms`, or less when something happens (a disconnect, a new wish, the end). */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        if (this.wake === done) {
          this.wake = undefined;
        }
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      this.wake = done;
    });
  }

  private backoff(): Promise<void> {
    this.failures++;
    const ms = Math.min(5000, 250 * 2 ** (this.failures - 1)) * this.ctx.rng.between(0.5, 1);
    return this.pause(ms);
  }

  private markEnded(how: string, socket?: string): void {
    if (this.ended) {
      return;
    }
    this.ended = true;
    this.inRoom = false;
    this.note({ t: Date.now(), type: 'ended', how, ...(socket ? { socket } : {}) });
    this.poke();
  }

  private closeSocket(): void {
    const socket = this.socket;
    if (!socket) {
      return;
    }
    this.socket = undefined;
    if (socket.connected) {
      this.inRoom = false;
      this.note({ t: Date.now(), type: 'close', socket: socket.id! });
    }
    socket.close();
  }

  private async connect(): Promise<boolean> {
    this.busy = true;
    try {
      let token: string;
      try {
        token = await this.accessToken();
      } catch (error) {
        this.note({ t: Date.now(), type: 'connect-failed', reason: `token: ${String(error)}` });
        return false;
      }
      const socket = io(`${this.ctx.url}/video-calls`, {
        auth: { token },
        transports: ['websocket'],
        reconnection: false,
        forceNew: true,
        timeout: 10_000,
      });
      const outcome = await new Promise<string>((resolve) => {
        const timer = setTimeout(() => resolve('timeout'), 12_000);
        socket.once('connect', () => {
          clearTimeout(timer);
          resolve('ok');
        });
        socket.once('connect_error', (error: Error) => {
          clearTimeout(timer);
          resolve(error.message || 'error');
        });
      });
      if (outcome !== 'ok') {
        socket.close();
        this.ctx.counters.connectFailures[outcome] =
          (this.ctx.counters.connectFailures[outcome] ?? 0) + 1;
        this.note({ t: Date.now(), type: 'connect-failed', reason: outcome });
        if (outcome === 'UNAUTHENTICATED') {
          this.forceRefresh = true;
        }
        return false;
      }
      const id = socket.id!;
      this.socket = socket;
      this.ctx.counters.connects++;
      this.note({ t: Date.now(), type: 'connected', socket: id });
      socket.on('disconnect', (reason: string) => {
        this.note({ t: Date.now(), type: 'disconnect', socket: id, reason });
        if (this.socket === socket) {
          this.inRoom = false;
          this.socket = undefined;
          this.poke();
        }
      });
      socket.on('session-status', (p: { status: string; videoCallEnded: string | null }) => {
        this.note({
          t: Date.now(),
          type: 'status',
          socket: id,
          status: p.status,
          videoCallEnded: p.videoCallEnded,
        });
        if (TERMINAL.has(p.status)) {
          this.markEnded(`heard ${p.status}`, id);
        }
      });
      socket.on('token-expiring', () => void this.renew(socket, id));
      socket.on('token-expired', () =>
        this.note({ t: Date.now(), type: 'token-expired', socket: id }),
      );
      socket.on('signal', () => this.ctx.counters.signalsReceived++);
      return true;
    } finally {
      this.busy = false;
    }
  }

  private async join(): Promise<'ok' | 'retry' | 'final'> {
    const socket = this.socket!;
    const id = socket.id!;
    this.busy = true;
    const sentAt = Date.now();
    this.note({ t: sentAt, type: 'join-sent', socket: id });
    try {
      let ack: { ok: boolean; status?: string; error?: { code: string } };
      try {
        ack = await socket.timeout(8000).emitWithAck('join-room', { sessionId: this.sessionId });
      } catch {
        ack = { ok: false, error: { code: socket.connected ? 'timeout' : 'disconnected' } };
      }
      if (ack.ok) {
        this.ctx.counters.joinsOk++;
        this.note({
          t: Date.now(),
          type: 'join-ok',
          socket: id,
          sentAt,
          status: ack.status ?? '?',
        });
        // A socket that dropped while its ack was on the way is not in the room: its disconnect
        // is already on the timeline and ends the stay there.
        this.inRoom = this.socket === socket && socket.connected;
        return 'ok';
      }
      const code = ack.error?.code ?? 'unknown';
      this.ctx.counters.joinsFailed[code] = (this.ctx.counters.joinsFailed[code] ?? 0) + 1;
      this.note({ t: Date.now(), type: 'join-failed', socket: id, code });
      if (FINAL_REFUSALS.has(code)) {
        this.markEnded(`join refused: ${code}`, id);
        return 'final';
      }
      return 'retry';
    } finally {
      this.busy = false;
    }
  }

  private async leave(): Promise<void> {
    const socket = this.socket!;
    const id = socket.id!;
    this.busy = true;
    this.inRoom = false;
    this.note({ t: Date.now(), type: 'leave-sent', socket: id });
    try {
      const ack = (await socket
        .timeout(5000)
        .emitWithAck('leave-room', { sessionId: this.sessionId })) as {
        ok: boolean;
        error?: { code: string };
      };
      this.note({
        t: Date.now(),
        type: 'leave-ack',
        socket: id,
        code: ack.ok ? 'ok' : (ack.error?.code ?? '?'),
      });
    } catch {
      this.note({ t: Date.now(), type: 'leave-ack', socket: id, code: 'timeout' });
    } finally {
      this.busy = false;
    }
  }

  /** The app's call screen reads the call now and then (who is present, the call's length). */
  private async readCall(): Promise<void> {
    try {
      const res = await this.ctx.rest.call('GET', `/api/video-calls/session/${this.sessionId}`, {
        route: '/api/video-calls/session/:id',
        token: await this.accessToken(),
      });
      if (res.status === 401) {
        this.forceRefresh = true;
      }
    } catch {
      // No token to be had during an outage: the screen tries again later.
    }
  }

  private async sendSignal(socket: Socket): Promise<void> {
    try {
      const ack = (await socket.timeout(5000).emitWithAck('signal', {
        sessionId: this.sessionId,
        type: 'ice-candidate',
        data: { candidate: 'candidate:chaos 1 udp 1 127.0.0.1 9 typ host' },
      })) as { ok: boolean };
      if (ack.ok) {
        this.ctx.counters.signalsSent++;
      } else {
        this.ctx.counters.signalsFailed++;
      }
    } catch {
      this.ctx.counters.signalsFailed++;
    }
  }

  /**
   * Renews the socket's token, retrying through an outage for as long as the socket's current
   * token lasts; past that the server drops the socket and the loop reconnects with a fresh one.
   */
  private async renew(socket: Socket, id: string): Promise<void> {
    const deadline = this.account.accessExpiresAt;
    for (let attempt = 0; socket.connected && Date.now() < deadline; attempt++) {
      try {
        this.forceRefresh = true;
        const token = await this.accessToken();
        const ack = (await socket.timeout(5000).emitWithAck('renew-token', { token })) as {
          ok: boolean;
        };
        if (ack.ok) {
          this.ctx.counters.renewals++;
          this.note({ t: Date.now(), type: 'renewed', socket: id, ok: true });
          return;
        }
      } catch {
        // A refresh refused by an outage, or no acknowledgement: tried again below.
      }
      this.ctx.counters.renewalsFailed++;
      await new Promise((r) => setTimeout(r, 3000));
    }
    this.note({ t: Date.now(), type: 'renewed', socket: id, ok: false });
  }

  /**
   * A valid access token, refreshed when it is about to expire. Refreshes are serialized: two at
   * once with one refresh token would look like a stolen token and revoke the login.
   */
  private async accessToken(): Promise<string> {
    if (this.forceRefresh || this.account.accessExpiresAt - Date.now() < 20_000) {
      this.tokens ??= this.refreshTokens().finally(() => (this.tokens = undefined));
      await this.tokens;
    }
    return this.account.access;
  }

  private async refreshTokens(): Promise<void> {
    const { rest } = this.ctx;
    type Tokens = { accessToken: string; refreshToken: string; expiresIn: number };
    let res = await rest.call<Tokens>('POST', '/api/auth/refresh', {
      body: { refreshToken: this.account.refresh },
    });
    this.ctx.counters.refreshes++;
    if (res.status === 401) {
      // The refresh token was rotated by an answer that never arrived, or its login revoked.
      res = await rest.call<Tokens>('POST', '/api/auth/login', {
        body: { email: this.account.email, password: this.account.password },
      });
      this.ctx.counters.logins++;
    }
    if (res.status !== 200) {
      throw new Error(`refresh: ${res.status} ${res.code ?? ''}`);
    }
    this.account.access = res.body.accessToken;
    this.account.refresh = res.body.refreshToken;
    this.account.accessExpiresAt = Date.now() + res.body.expiresIn * 1000;
    this.forceRefresh = false;
  }
}
