import { Logger, OnModuleDestroy } from '@nestjs/common';
import {
  OnGatewayConnection,
  OnGatewayInit,
  WebSocketGateway,
  WebSocketServer,
} from '@nestjs/websockets';
import { Subscription } from 'rxjs';
import type { DefaultEventsMap, Namespace, Socket } from 'socket.io';
import type { AuthUser } from '../auth/auth-user.js';
import { TokenService } from '../auth/token.service.js';
import { DomainError } from '../common/errors/domain-error.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { parseMessage, toAck, type Ack } from '../common/errors/ws-ack.js';
import { jsonFitsIn } from '../common/json-size.js';
import { SessionEvents, type SessionStatusChanged } from '../sessions/session-events.js';
import { isTerminal } from '../sessions/session-transitions.js';
import {
  JoinRoomMessage,
  LeaveRoomMessage,
  RenewTokenMessage,
  SIGNAL_MAX_BYTES,
  SignalMessage,
} from './dto/room.messages.js';
import type { IceServersView } from './dto/ice-servers.views.js';
import { IceServersService } from './ice-servers.service.js';
import { PresenceService, type JoinResult, type LocalMember } from './presence.service.js';
import { RoomEvents, type RoomEvent } from './room-events.js';
import { SocketRateLimit, type MessageBudget } from './socket-rate-limit.js';
import { sessionOfRoom, sessionRoom, sessionUserRoom } from './room-names.js';
import { warnDatabaseUnavailable } from '../database/outage-log.js';

interface SocketState extends MessageBudget {
  user: AuthUser;
  /** When the socket's token expires (ms since the epoch). */
  expiresAt: number;
  /** Whether `token-expiring` was sent for the current token. */
  warned: boolean;
  /** The socket's join/leave in progress: room commands of one socket apply in the order sent. */
  roomCommands?: Promise<void>;
  /** A session whose room the socket entered ahead of its join's verdict: no signals into it yet. */
  entering?: string;
  /** A session whose room the socket is leaving by its own `leave-room` (not a disconnect). */
  leaving?: string;
}

type RoomSocket = Socket<DefaultEventsMap, DefaultEventsMap, DefaultEventsMap, SocketState>;

type MessageHandler = (
  gateway: VideoCallGateway,
  socket: RoomSocket,
  body: unknown,
) => Promise<Ack<object>>;

/** The client-to-server events and their handlers (the AsyncAPI document's receive operations). */
export const MESSAGES: ReadonlyArray<readonly [string, MessageHandler]> = [
  ['join-room', (g, socket, body) => g.joinRoom(socket, body)],
  ['leave-room', (g, socket, body) => g.leaveRoom(socket, body)],
  ['signal', (g, socket, body) => g.signal(socket, body)],
  ['renew-token', (g, socket, body) => g.renewToken(socket, body)],
];

type SocketListener = (this: RoomSocket, ...args: unknown[]) => void;

const isoOrNull = (time: string | null | undefined) => (time ? new Date(time).toISOString() : null);

const NO_AUTH: Record<string, never> = Object.freeze({});

/** How often the sockets' token clocks are checked (token expiries are whole seconds anyway). */
const EXPIRY_SWEEP_MS = 1000;

/** Sent this long before a socket's token expires, so the client can renew it. */
const EXPIRY_WARNING_MS = 60_000;

/**
 * Transport only: authenticates the handshake, validates payloads, asks PresenceService, and emits
 * what the services report. It keeps no state another instance would need: the socket's own rooms
 * and its token clock and message budget (in `socket.data`) live with the socket.
 */
@WebSocketGateway({ namespace: '/video-calls' })
export class VideoCallGateway
  implements OnGatewayInit<Namespace>, OnGatewayConnection<RoomSocket>, OnModuleDestroy
{
  private readonly logger = new Logger(VideoCallGateway.name);
  private readonly subscriptions = new Subscription();
  /** One listener per event, shared by every socket (EventEmitter calls it with the socket as `this`). */
  private listeners: Array<readonly [string, SocketListener]> = [];
  private expirySweep?: NodeJS.Timeout;
  /**
   * The client and psychologist of each session whose room has sockets on this instance, learnt
   * from its joins (who takes part in a session never changes); dropped with the room. A socket of
   * one of them enters the room ahead of its join's verdict, and the join takes one round trip
   * instead of two (see `join`).
   */
  private readonly roomParties = new Map<string, JoinResult['parties']>();

  @WebSocketServer()
  private server: Namespace;

  constructor(
    private readonly tokens: TokenService,
    private readonly presence: PresenceService,
    private readonly sessionEvents: SessionEvents,
    private readonly roomEvents: RoomEvents,
    private readonly metrics: MetricsService,
    private readonly rateLimit: SocketRateLimit,
    private readonly ice: IceServersService,
  ) {}

  afterInit(namespace: Namespace): void {
    this.metrics.observeNamespace(namespace);
    // Handshakes per client address first, so attempts with bad tokens count too: past the
    // limit the client gets connect_error "RATE_LIMITED".
    namespace.use((socket, next) => next(this.rateLimit.admitHandshake(socket)));
    // A bad token never becomes a connection: the client gets connect_error "UNAUTHENTICATED".
    namespace.use((socket, next) => {
      const token: unknown = (socket.handshake.auth as Record<string, unknown> | undefined)?.token;
      if (typeof token !== 'string' || token === '') {
        return next(new Error('UNAUTHENTICATED'));
      }
      this.tokens.verify(token).then(
        ({ id, role, expiresAt }) => {
          // The token has done its job: the socket keeps no copy of it (~350 bytes a connection).
          socket.handshake.auth = NO_AUTH;
          // Every field in one literal (no spread, nothing added later): the object keeps them
          // all in-object, with no separate property array.
          const budget = this.rateLimit.freshBudget();
          (socket as RoomSocket).data = {
            user: { id, role },
            expiresAt: expiresAt.getTime(),
            warned: false,
            tokens: budget.tokens,
            refilledAt: budget.refilledAt,
            refusedInARow: 0,
            roomCommands: undefined,
            entering: undefined,
            leaving: undefined,
          };
          next();
        },
        () => next(new Error('UNAUTHENTICATED')),
      );
    });
    this.subscriptions.add(
      this.sessionEvents.statusChanged$.subscribe((c) => this.onStatusChanged(c)),
    );
    this.subscriptions.add(this.roomEvents.events$.subscribe((e) => this.onRoomEvent(e)));
    // Every way a socket leaves a session's room - its own leave-room, a disconnect, the end of
    // the session, a failed join - is learnt here, from the namespace's adapter, at the moment it
    // happens (socket.io leaves every room of a socket that disconnects): the departure is
    // remembered with that moment and written (see PresenceService.depart). One listener for all
    // sockets, rather than a `disconnect` listener on each.
    namespace.adapter.on('leave-room', (room: string, id: string) => {
      const sessionId = sessionOfRoom(room);
      if (sessionId) {
        this.departed(sessionId, id);
      }
    });
    namespace.adapter.on('delete-room', (room: string) => {
      const sessionId = sessionOfRoom(room);
      if (sessionId) {
        this.roomParties.delete(sessionId);
      }
    });
    this.expirySweep = setInterval(() => this.sweepExpiries(), EXPIRY_SWEEP_MS);
    this.expirySweep.unref();
    // Handlers are bound here, not with @SubscribeMessage: Nest binds those per socket (a bound
    // function, a closure and its context per handler, about 1 KB a connection); these listeners
    // are created once, and a connection costs only slots in its listener table.
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const gateway = this;
    this.listeners = MESSAGES.map(
      ([event, handle]) =>
        [
          event,
          function (this: RoomSocket, ...args: unknown[]) {
            gateway.dispatch(this, handle, args);
          },
        ] as const,
    );
  }

  onModuleDestroy(): void {
    clearInterval(this.expirySweep);
    this.subscriptions.unsubscribe();
  }

  handleConnection(socket: RoomSocket): void {
    for (const [event, listener] of this.listeners) {
      socket.on(event, listener);
    }
    this.warnIfExpiring(socket, Date.now());
  }

  /** A socket left a session's room (see afterInit). */
  private departed(sessionId: string, socketId: string): void {
    const socket = this.server.sockets.get(socketId) as RoomSocket | undefined;
    const reason = socket?.data.leaving === sessionId ? 'leave' : 'disconnect';
    this.presence.depart(sessionId, socketId, reason).catch((error: unknown) => {
      // Remembered: written at the next beat. The leave-room command reports it to its caller.
      if (reason !== 'disconnect') {
        return;
      }
      if (error instanceof DomainError && error.code === 'UNAVAILABLE') {
        warnDatabaseUnavailable('departures', error);
      } else {
        this.logger.warn(`departure of socket ${socketId} not written yet: ${String(error)}`);
      }
    });
  }

  /**
   * The sockets of this instance in session rooms, as presence should record them. A socket with
   * a join or leave in flight is left out: its own command writes its presence.
   */
  members(): LocalMember[] {
    const members: LocalMember[] = [];
    for (const socket of (this.server?.sockets.values() ?? []) as Iterable<RoomSocket>) {
      if (socket.data.roomCommands) {
        continue;
      }
      for (const room of socket.rooms) {
        const sessionId = sessionOfRoom(room);
        if (sessionId) {
          members.push({ sessionId, socketId: socket.id, user: socket.data.user });
        }
      }
    }
    return members;
  }

  /** Whether the socket has a join or leave in flight (or is gone): presence is its command's. */
  isBusy(socketId: string): boolean {
    const socket = this.server?.sockets.get(socketId) as RoomSocket | undefined;
    return socket?.data.roomCommands !== undefined;
  }

  /**
   * Records again the stay of a member that presence lost (see PresenceService.restore), in the
   * socket's order of room commands. When the session is over, the socket leaves the room and
   * hears the session's status: it is never kept in a room that presence has forgotten.
   */
  async restore(member: LocalMember): Promise<'restored' | 'evicted' | 'gone'> {
    const socket = this.server.sockets.get(member.socketId) as RoomSocket | undefined;
    if (!socket) {
      return 'gone';
    }
    return this.inOrder(socket, async () => {
      const { sessionId } = member;
      if (!socket.rooms.has(sessionRoom(sessionId))) {
        return 'gone';
      }
      const refused = await this.presence.restore(sessionId, socket.data.user, socket.id);
      if (!refused) {
        return 'restored';
      }
      await socket.leave(sessionRoom(sessionId));
      await socket.leave(sessionUserRoom(sessionId, socket.data.user.id));
      const session = refused.session;
      if (session) {
        socket.emit('session-status', {
          sessionId,
          status: session.status,
          videoCallStarted: isoOrNull(session.video_call_started),
          videoCallEnded: isoOrNull(session.video_call_ended),
          duration: session.call_duration_minutes ?? null,
        });
      }
      return 'evicted';
    });
  }

  /**
   * One incoming message: the socket's rate limit, then the handler; its acknowledgement (if the
   * client asked for one) carries the result.
   */
  private dispatch(socket: RoomSocket, handle: MessageHandler, args: unknown[]): void {
    const last = args[args.length - 1];
    const ack = typeof last === 'function' ? (last as (reply: unknown) => void) : undefined;
    if (!this.rateLimit.admitMessage(socket, ack)) {
      return;
    }
    const count = ack ? args.length - 1 : args.length;
    const body = count === 1 ? args[0] : count === 0 ? undefined : args.slice(0, count);
    handle(this, socket, body).then(
      (reply) => ack?.(reply),
      (error: unknown) => this.logger.error(error),
    );
  }

  joinRoom(
    socket: RoomSocket,
    body: unknown,
  ): Promise<Ack<Omit<JoinResult, 'parties'> & Pick<IceServersView, 'iceServers'>>> {
    return toAck(async () => {
      const { sessionId } = await parseMessage(JoinRoomMessage, body);
      const { status, participants } = await this.inOrder(socket, () =>
        this.join(socket, sessionId),
      );
      const { iceServers } = this.ice.issue(socket.data.user, 'join-room');
      return { sessionId, status, participants, iceServers };
    });
  }

  leaveRoom(socket: RoomSocket, body: unknown): Promise<Ack> {
    return toAck(async () => {
      const { sessionId } = await parseMessage(LeaveRoomMessage, body);
      await this.inOrder(socket, async () => {
        // A socket that is not in the room has no open stay there (it enters the room before its
        // stay commits, and leaves it when the stay closes): nothing to do, and no row to lock.
        if (!socket.rooms.has(sessionRoom(sessionId))) {
          return;
        }
        // Out of the room at once, whatever the database says: the leave is remembered with
        // this moment (see departed), and the acknowledgement tells whether it is written.
        socket.data.leaving = sessionId;
        try {
          await socket.leave(sessionRoom(sessionId));
        } finally {
          socket.data.leaving = undefined;
        }
        await socket.leave(sessionUserRoom(sessionId, socket.data.user.id));
        await this.presence.departure(sessionId, socket.id);
      });
      return {};
    });
  }

  /**
   * Only those allowed in may hear the room, and a joiner must hear every status change that
   * follows its join. A socket normally enters the room once the join's checks have passed and
   * before it commits (two round trips). A socket that is in the room already, or whose user is
   * one of the session's two participants (known here while the room has sockets on this
   * instance), enters first and the join commits in one round trip: such a socket may hear its
   * own session's events for the moment a refusal takes, never a stranger's; its signals wait for
   * the verdict.
   */
  private async join(socket: RoomSocket, sessionId: string): Promise<JoinResult> {
    const { user } = socket.data;
    const rooms = [sessionRoom(sessionId), sessionUserRoom(sessionId, user.id)];
    const wasIn = socket.rooms.has(rooms[0]);
    const early = !wasIn && (this.roomParties.get(sessionId)?.includes(user.id) ?? false);
    try {
      let joined: JoinResult;
      if (wasIn || early) {
        if (early) {
          await socket.join(rooms);
          socket.data.entering = sessionId;
        }
        try {
          joined = await this.presence.join(sessionId, user, socket.id);
        } finally {
          socket.data.entering = undefined;
        }
      } else {
        joined = await this.presence.join(sessionId, user, socket.id, () => socket.join(rooms));
      }
      if (socket.disconnected) {
        // The socket went away while its join was being committed: its departure may have been
        // written before the stay existed, which would leave the stay open. Closed here (closing
        // it twice is a no-op).
        await this.presence.depart(sessionId, socket.id, 'disconnect');
      } else if (socket.rooms.has(rooms[0])) {
        // Not after the room is gone (a session that ended meanwhile): the entry would outlive it.
        this.roomParties.set(sessionId, joined.parties);
      }
      return joined;
    } catch (error) {
      if (!wasIn) {
        rooms.forEach((r) => void socket.leave(r));
      }
      throw error;
    }
  }

  /**
   * Runs a room command after the socket's previous one has finished: a join and a leave sent
   * back to back apply in that order (concurrently, the later could commit first).
   */
  private inOrder<T>(socket: RoomSocket, command: () => Promise<T>): Promise<T> {
    const previous = socket.data.roomCommands ?? Promise.resolve();
    const result = previous.then(command);
    const settled = result.then(
      () => undefined,
      () => undefined,
    );
    socket.data.roomCommands = settled;
    void settled.then(() => {
      if (socket.data.roomCommands === settled) {
        socket.data.roomCommands = undefined;
      }
    });
    return result;
  }

  /** WebRTC signaling: relayed to the other participants (or to `to`), `from` set here. */
  signal(socket: RoomSocket, body: unknown): Promise<Ack> {
    return toAck(async () => {
      const message = await parseMessage(SignalMessage, body, ['data']);
      const room = sessionRoom(message.sessionId);
      if (!socket.rooms.has(room) || socket.data.entering === message.sessionId) {
        throw new DomainError('NOT_IN_ROOM', 'Join the room before sending signals');
      }
      if (!jsonFitsIn(message.data, SIGNAL_MAX_BYTES)) {
        throw new DomainError('PAYLOAD_TOO_LARGE', 'Signal data is larger than 64 KiB');
      }
      const from = socket.data.user.id;
      const relay = { sessionId: message.sessionId, from, type: message.type, data: message.data };
      if (message.to) {
        socket.to(sessionUserRoom(message.sessionId, message.to)).emit('signal', relay);
      } else {
        socket.to(room).except(sessionUserRoom(message.sessionId, from)).emit('signal', relay);
      }
      return {};
    });
  }

  /** A fresh access token of the same user keeps the socket past the old one's expiry. */
  renewToken(socket: RoomSocket, body: unknown): Promise<Ack<{ expiresAt: string }>> {
    return toAck(async () => {
      const { token } = await parseMessage(RenewTokenMessage, body);
      const renewed = await this.tokens.verify(token);
      if (renewed.id !== socket.data.user.id) {
        throw new DomainError('UNAUTHENTICATED', 'The token belongs to another user');
      }
      socket.data.user = { id: renewed.id, role: renewed.role };
      socket.data.expiresAt = renewed.expiresAt.getTime();
      socket.data.warned = false;
      this.warnIfExpiring(socket, Date.now());
      return { expiresAt: renewed.expiresAt.toISOString() };
    });
  }

  /**
   * The token clocks of all sockets, checked by one shared timer (not a timer per socket):
   * `token-expiring` once about a minute before a socket's token expires, then at the expiry
   * `token-expired` (the reason, since a server-side disconnect carries none) and the disconnect.
   * A renewal starts the clock again.
   */
  private sweepExpiries(): void {
    const now = Date.now();
    for (const socket of this.server.sockets.values() as Iterable<RoomSocket>) {
      if (socket.data.expiresAt <= now) {
        socket.emit('token-expired', {
          code: 'UNAUTHENTICATED',
          message: 'The access token expired: connect again with a fresh one',
        });
        socket.disconnect(true);
      } else {
        this.warnIfExpiring(socket, now);
      }
    }
  }

  /** `token-expiring`, once per token, when less than EXPIRY_WARNING_MS is left. */
  private warnIfExpiring(socket: RoomSocket, now: number): void {
    const { expiresAt } = socket.data;
    if (!socket.data.warned && expiresAt - now <= EXPIRY_WARNING_MS) {
      socket.data.warned = true;
      socket.emit('token-expiring', { expiresAt: new Date(expiresAt).toISOString() });
    }
  }

  private onStatusChanged(change: SessionStatusChanged): void {
    const room = sessionRoom(change.sessionId);
    this.server.to(room).emit('session-status', {
      sessionId: change.sessionId,
      status: change.to,
      videoCallStarted: change.videoCallStarted?.toISOString() ?? null,
      videoCallEnded: change.videoCallEnded?.toISOString() ?? null,
      duration: change.duration,
    });
    if (isTerminal(change.to)) {
      this.server
        .in(room)
        .socketsLeave([
          room,
          sessionUserRoom(change.sessionId, change.clientId),
          sessionUserRoom(change.sessionId, change.psychologistId),
        ]);
    }
  }

  private onRoomEvent(event: RoomEvent): void {
    const room = sessionRoom(event.sessionId);
    switch (event.type) {
      case 'participant-joined':
        this.server
          .to(room)
          .except(sessionUserRoom(event.sessionId, event.userId))
          .emit('participant-joined', {
            sessionId: event.sessionId,
            userId: event.userId,
            role: event.role,
          });
        break;
      case 'participant-left':
        this.server
          .to(room)
          .emit('participant-left', { sessionId: event.sessionId, userId: event.userId });
        break;
    }
  }
}
