import type { SessionJson } from '../factories/sessions.js';
import type { TestUser } from '../factories/users.js';
import { connectAs, request, sleep } from './socket-client.js';
import type { TestApp } from './test-app.js';
import { ACK_TIMEOUT_MS, type Command, type Run, type TrackedSocket } from './interleavings-run.js';

/** One actor: runs its commands in order, over REST and (participants) its own socket. */
export class Actor {
  private current?: TrackedSocket;

  constructor(
    private readonly t: TestApp,
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
      const req = this.t.api.post(path).set('Authorization', this.user.auth);
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
      const socket = await connectAs(this.t.url, this.user.token);
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
          this.run.violation(`${this.name}: leave-room refused with ${JSON.stringify(ack.error)}`);
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
