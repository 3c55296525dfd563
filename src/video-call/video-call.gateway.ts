import { Logger, OnModuleDestroy } from '@nestjs/common';
import {
  OnGatewayConnection,
  OnGatewayInit,
  WebSocketGateway,
  WebSocketServer,
} from '@nestjs/websockets';
import { Subscription } from 'rxjs';
import type { Namespace } from 'socket.io';
import { socketAuthToken } from '../auth/socket-auth-token.js';
import { TokenService } from '../auth/token.service.js';
import { DomainError } from '../common/errors/domain-error.js';
import {
  connectError,
  connectErrorOf,
  parseMessage,
  toAck,
  wsError,
  type Ack,
} from '../common/errors/ws-ack.js';
import { jsonFitsIn } from '../common/json-size.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { SessionEvents } from '../sessions/session-events.js';
import {
  JoinRoomMessage,
  LeaveRoomMessage,
  RenewTokenMessage,
  SIGNAL_MAX_BYTES,
  SignalMessage,
} from './dto/room.messages.js';
import type { IceServersView } from './dto/ice-servers.views.js';
import { IceServersService } from './ice-servers.service.js';
import type { JoinedSession, JoinResult, LocalMember } from './presence.service.js';
import { LiveEvents } from './live-events.service.js';
import { RoomEvents } from './room-events.js';
import { RoomMembership } from './room-membership.service.js';
import { newSocketState, type RoomSocket } from './room-socket.js';
import { SocketRateLimit } from './socket-rate-limit.js';
import { SocketTokenClock, type TokenClockListener } from './socket-token-clock.service.js';

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

/**
 * Transport only: authenticates the handshake, validates payloads, asks the services (room
 * membership and presence, the token clock) and emits what they report. It keeps no state: what
 * a socket needs lives in its own `data` (see room-socket.ts).
 */
@WebSocketGateway({ namespace: '/video-calls' })
export class VideoCallGateway
  implements
    OnGatewayInit<Namespace>,
    OnGatewayConnection<RoomSocket>,
    OnModuleDestroy,
    TokenClockListener
{
  private readonly logger = new Logger(VideoCallGateway.name);
  private readonly subscriptions = new Subscription();
  /** One listener per event, shared by every socket (EventEmitter calls it with the socket as `this`). */
  private listeners: Array<readonly [string, SocketListener]> = [];

  @WebSocketServer()
  private server: Namespace;

  constructor(
    private readonly tokens: TokenService,
    private readonly membership: RoomMembership,
    private readonly tokenClock: SocketTokenClock,
    private readonly sessionEvents: SessionEvents,
    private readonly roomEvents: RoomEvents,
    private readonly metrics: MetricsService,
    private readonly rateLimit: SocketRateLimit,
    private readonly ice: IceServersService,
    private readonly live: LiveEvents,
  ) {}

  afterInit(namespace: Namespace): void {
    this.metrics.observeNamespace(namespace);
    // Handshakes per client address first, so attempts with bad tokens count too: past the
    // limit the client gets connect_error "RATE_LIMITED".
    namespace.use((socket, next) => next(this.rateLimit.admitHandshake(socket)));
    // A bad token never becomes a connection: the client gets connect_error "UNAUTHENTICATED".
    namespace.use((socket, next) => {
      const token = socketAuthToken(socket.handshake.auth);
      if (token === undefined) {
        return next(connectError('UNAUTHENTICATED'));
      }
      this.tokens.verify(token).then(
        ({ id, role, expiresAt }) => {
          // The token has done its job: the socket keeps no copy of it (~350 bytes a connection).
          socket.handshake.auth = NO_AUTH;
          const state = newSocketState({ id, role }, expiresAt, this.rateLimit.freshBudget());
          (socket as RoomSocket).data = state;
          next();
        },
        (error: unknown) => next(connectErrorOf(error, 'UNAUTHENTICATED')),
      );
    });
    this.live.attach(namespace);
    this.subscriptions.add(
      this.sessionEvents.statusChanged$.subscribe((change) => {
        // Heard by the room's members before they are sent out of it.
        this.live.statusChanged(change);
        this.membership.closeIfEnded(change);
      }),
    );
    this.subscriptions.add(this.sessionEvents.updated$.subscribe((u) => this.live.updated(u)));
    this.subscriptions.add(this.roomEvents.events$.subscribe((e) => this.live.roomEvent(e)));
    this.membership.attach(namespace);
    this.tokenClock.start(namespace, this);
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
    this.subscriptions.unsubscribe();
  }

  handleConnection(socket: RoomSocket): void {
    for (const [event, listener] of this.listeners) {
      socket.on(event, listener);
    }
    this.live.connected(socket);
    this.tokenClock.connected(socket);
  }

  /** For PresenceHeartbeat: see RoomMembership.members. */
  members(): LocalMember[] {
    return this.membership.members();
  }

  /** For PresenceHeartbeat: see RoomMembership.isBusy. */
  isBusy(socketId: string): boolean {
    return this.membership.isBusy(socketId);
  }

  /** For PresenceHeartbeat: a socket evicted from a session that is over hears its status. */
  restore(member: LocalMember): Promise<'restored' | 'evicted' | 'gone'> {
    return this.membership.restore(member, (socket, session: JoinedSession) =>
      socket.emit('session-status', {
        sessionId: member.sessionId,
        status: session.status,
        videoCallStarted: isoOrNull(session.video_call_started),
        videoCallEnded: isoOrNull(session.video_call_ended),
        duration: session.call_duration_minutes ?? null,
      }),
    );
  }

  tokenExpiring(socket: RoomSocket, expiresAt: Date): void {
    socket.emit('token-expiring', { expiresAt: expiresAt.toISOString() });
  }

  /** The reason of the disconnect that follows, since a server-side disconnect carries none. */
  tokenExpired(socket: RoomSocket): void {
    socket.emit(
      'token-expired',
      wsError('UNAUTHENTICATED', 'The access token expired: connect again with a fresh one'),
    );
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
      const { status, participants } = await this.membership.join(socket, sessionId);
      const { iceServers } = this.ice.issue(socket.data.user, 'join-room');
      return { sessionId, status, participants, iceServers };
    });
  }

  leaveRoom(socket: RoomSocket, body: unknown): Promise<Ack> {
    return toAck(async () => {
      const { sessionId } = await parseMessage(LeaveRoomMessage, body);
      await this.membership.leave(socket, sessionId);
      return {};
    });
  }

  /** WebRTC signaling: relayed to the other participants (or to `to`), `from` set here. */
  signal(socket: RoomSocket, body: unknown): Promise<Ack> {
    return toAck(async () => {
      const message = await parseMessage(SignalMessage, body, ['data']);
      if (!this.membership.isMember(socket, message.sessionId)) {
        throw new DomainError('NOT_IN_ROOM', 'Join the room before sending signals');
      }
      if (!jsonFitsIn(message.data, SIGNAL_MAX_BYTES)) {
        throw new DomainError('PAYLOAD_TOO_LARGE', 'Signal data is larger than 64 KiB');
      }
      const from = socket.data.user.id;
      const audience = this.membership.signalAudience(message.sessionId, from, message.to);
      if (audience) {
        const relay = {
          sessionId: message.sessionId,
          from,
          type: message.type,
          data: message.data,
        };
        socket.to(audience.room).except(audience.except).emit('signal', relay);
      }
      return {};
    });
  }

  renewToken(socket: RoomSocket, body: unknown): Promise<Ack<{ expiresAt: string }>> {
    return toAck(async () => {
      const { token } = await parseMessage(RenewTokenMessage, body);
      return this.tokenClock.renew(socket, token);
    });
  }
}
