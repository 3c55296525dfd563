import { ERROR_CODES } from '../common/errors/error-codes.js';
import { UNAVAILABLE_MESSAGE } from '../common/errors/unavailable.js';
import { PAYMENT_STATUSES, SESSION_STATUSES } from '../sessions/session-transitions.js';
import { SIGNAL_MAX_BYTES, SIGNAL_TYPES } from '../video-call/dto/room.messages.js';

/** Where the document says the server is: taken from the request that asked for it. */
export interface AsyncApiServer {
  /** `host[:port]` */
  host: string;
  secure: boolean;
}

type Schema = Record<string, unknown>;

const ref = (path: string) => ({ $ref: path });
const schemaRef = (name: string) => ref(`#/components/schemas/${name}`);

const uuid: Schema = { type: 'string', format: 'uuid' };
const dateTime: Schema = { type: 'string', format: 'date-time' };
const nullableDateTime: Schema = { type: ['string', 'null'], format: 'date-time' };

const SESSION_ID = '3f1c2a9e-8d7b-4c6a-9e5f-1a2b3c4d5e6f';
const USER_ID = '7a6b5c4d-3e2f-4a1b-8c9d-0e1f2a3b4c5d';

const schemas: Record<string, Schema> = {
  SessionId: {
    ...uuid,
    description: 'The booked session whose room this is',
    examples: [SESSION_ID],
  },
  ParticipantRole: { type: 'string', enum: ['client', 'psychologist'] },
  SessionStatus: { type: 'string', enum: [...SESSION_STATUSES] },
  SignalType: { type: 'string', enum: [...SIGNAL_TYPES] },
  ErrorAck: {
    type: 'object',
    description: 'Any request can be refused this way; `code` is one of the API error codes.',
    required: ['ok', 'error'],
    additionalProperties: false,
    properties: {
      ok: { const: false },
      error: {
        type: 'object',
        required: ['code', 'message'],
        additionalProperties: false,
        properties: {
          code: { type: 'string', enum: Object.keys(ERROR_CODES) },
          message: { type: 'string' },
          opensAt: {
            type: 'string',
            format: 'date-time',
            description: 'With TOO_EARLY (join-room): when the room opens',
          },
          reason: {
            type: 'string',
            enum: ['expired'],
            description: 'With UNAUTHENTICATED (renew-token): the token sent has expired',
          },
        },
      },
    },
    examples: [
      {
        ok: false,
        error: { code: 'NOT_IN_ROOM', message: 'Join the room before sending signals' },
      },
    ],
  },
  OkAck: {
    type: 'object',
    required: ['ok'],
    additionalProperties: false,
    properties: { ok: { const: true } },
    examples: [{ ok: true }],
  },
  JoinRoomRequest: {
    type: 'object',
    required: ['sessionId'],
    additionalProperties: false,
    properties: { sessionId: schemaRef('SessionId') },
    examples: [{ sessionId: SESSION_ID }],
  },
  JoinRoomResult: {
    type: 'object',
    required: ['ok', 'sessionId', 'status', 'participants', 'iceServers'],
    additionalProperties: false,
    properties: {
      ok: { const: true },
      sessionId: schemaRef('SessionId'),
      status: schemaRef('SessionStatus'),
      participants: {
        type: 'array',
        description:
          'Who is in the room now (on any instance), the caller included; one entry per user',
        items: {
          type: 'object',
          required: ['userId', 'role'],
          additionalProperties: false,
          properties: { userId: uuid, role: schemaRef('ParticipantRole') },
        },
      },
      iceServers: {
        type: 'array',
        description:
          "For `new RTCPeerConnection({ iceServers })`: STUN_URLS, and the TURN relay with a short-lived credential of the caller's own (as GET /api/video-calls/ice-servers/{sessionId} answers); empty without either",
        items: {
          type: 'object',
          required: ['urls'],
          additionalProperties: false,
          properties: {
            urls: { type: 'array', items: { type: 'string' } },
            username: {
              type: 'string',
              description: 'TURN only: `<expiry unix seconds>:<userId>` (TURN REST API)',
            },
            credential: {
              type: 'string',
              description: 'TURN only: base64(HMAC-SHA1(TURN_SECRET, username))',
            },
          },
        },
      },
    },
    examples: [
      {
        ok: true,
        sessionId: SESSION_ID,
        status: 'Confirmed',
        participants: [{ userId: USER_ID, role: 'client' }],
        iceServers: [
          {
            urls: ['turn:turn.example.com:3478?transport=udp', 'turns:turn.example.com:5349'],
            username: `1767261600:${USER_ID}`,
            credential: '<base64 HMAC-SHA1 of the username>',
          },
        ],
      },
    ],
  },
  LeaveRoomRequest: {
    type: 'object',
    required: ['sessionId'],
    additionalProperties: false,
    properties: { sessionId: schemaRef('SessionId') },
    examples: [{ sessionId: SESSION_ID }],
  },
  SignalRequest: {
    type: 'object',
    required: ['sessionId', 'type', 'data'],
    additionalProperties: false,
    properties: {
      sessionId: schemaRef('SessionId'),
      to: { ...uuid, description: 'Only this user; omitted = every other participant' },
      type: schemaRef('SignalType'),
      data: {
        description: `An SDP description (offer, answer) or an ICE candidate, relayed as it is; at most ${SIGNAL_MAX_BYTES} bytes as JSON (PAYLOAD_TOO_LARGE)`,
      },
    },
    examples: [{ sessionId: SESSION_ID, type: 'offer', data: { type: 'offer', sdp: 'v=0...' } }],
  },
  RenewTokenRequest: {
    type: 'object',
    required: ['token'],
    additionalProperties: false,
    properties: { token: { type: 'string', description: 'A fresh access token of the same user' } },
    examples: [{ token: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9...' }],
  },
  RenewTokenResult: {
    type: 'object',
    required: ['ok', 'expiresAt'],
    additionalProperties: false,
    properties: { ok: { const: true }, expiresAt: dateTime },
    examples: [{ ok: true, expiresAt: '2026-12-01T10:00:00.000Z' }],
  },
  RelayedSignal: {
    type: 'object',
    required: ['sessionId', 'from', 'type', 'data'],
    additionalProperties: false,
    properties: {
      sessionId: schemaRef('SessionId'),
      from: { ...uuid, description: 'The sender, set by the server' },
      type: schemaRef('SignalType'),
      data: { description: 'As the sender sent it' },
    },
    examples: [
      {
        sessionId: SESSION_ID,
        from: USER_ID,
        type: 'ice-candidate',
        data: { candidate: 'candidate:0 1 UDP 2122252543 127.0.0.1 50000 typ host', sdpMid: '0' },
      },
    ],
  },
  ParticipantJoined: {
    type: 'object',
    required: ['sessionId', 'userId', 'role'],
    additionalProperties: false,
    properties: {
      sessionId: schemaRef('SessionId'),
      userId: uuid,
      role: schemaRef('ParticipantRole'),
    },
    examples: [{ sessionId: SESSION_ID, userId: USER_ID, role: 'psychologist' }],
  },
  ParticipantLeft: {
    type: 'object',
    required: ['sessionId', 'userId'],
    additionalProperties: false,
    properties: { sessionId: schemaRef('SessionId'), userId: uuid },
    examples: [{ sessionId: SESSION_ID, userId: USER_ID }],
  },
  SessionStatusChanged: {
    type: 'object',
    required: ['sessionId', 'status', 'videoCallStarted', 'videoCallEnded', 'duration'],
    additionalProperties: false,
    properties: {
      sessionId: schemaRef('SessionId'),
      status: schemaRef('SessionStatus'),
      videoCallStarted: nullableDateTime,
      videoCallEnded: nullableDateTime,
      duration: {
        type: ['integer', 'null'],
        description: 'Whole minutes (rounded) once the call ended, else null',
      },
    },
    examples: [
      {
        sessionId: SESSION_ID,
        status: 'In Progress',
        videoCallStarted: '2026-12-01T09:00:05.000Z',
        videoCallEnded: null,
        duration: null,
      },
    ],
  },
  SessionUpdated: {
    type: 'object',
    required: ['sessionId', 'scheduledStart', 'durationMinutes', 'paymentStatus'],
    additionalProperties: false,
    properties: {
      sessionId: schemaRef('SessionId'),
      scheduledStart: dateTime,
      durationMinutes: { type: 'integer' },
      paymentStatus: { type: 'string', enum: [...PAYMENT_STATUSES] },
    },
    examples: [
      {
        sessionId: SESSION_ID,
        scheduledStart: '2026-12-01T09:00:00.000Z',
        durationMinutes: 50,
        paymentStatus: 'Refunded',
      },
    ],
  },
  TokenExpiring: {
    type: 'object',
    required: ['expiresAt'],
    additionalProperties: false,
    properties: { expiresAt: dateTime },
    examples: [{ expiresAt: '2026-12-01T10:00:00.000Z' }],
  },
  TokenExpired: {
    type: 'object',
    required: ['code', 'message'],
    additionalProperties: false,
    properties: {
      code: { type: 'string', const: 'UNAUTHENTICATED' },
      message: { type: 'string' },
    },
    examples: [
      {
        code: 'UNAUTHENTICATED',
        message: 'The access token expired: connect again with a fresh one',
      },
    ],
  },
};

interface MessageSpec {
  /** The Socket.io event name. */
  name: string;
  summary: string;
  description?: string;
  payload: Schema;
  examples?: Array<{ name: string; summary: string; payload: unknown }>;
}

/** join-room and leave-room read and write presence: while the database is away they are refused. */
const UNAVAILABLE_ACK = {
  description:
    '`UNAVAILABLE` while the database cannot be reached (send it again in a few seconds).',
  example: {
    name: 'unavailable',
    summary: 'The database cannot be reached',
    payload: { ok: false, error: { code: 'UNAVAILABLE', message: UNAVAILABLE_MESSAGE } },
  },
};

/** Who hears the events about a session (see LiveEvents). */
const TO_BOTH_PARTICIPANTS =
  "Sent once to every connected socket of the session's client and psychologist, whether in the room or not (a dashboard hears its sessions without joining); nobody else, admins included, hears it.";
const TO_OTHER_PARTICIPANT =
  "Sent once to every connected socket of the session's other participant, in the room or not; never to the participant's own sockets, nor to anybody else";

const messages: Record<string, MessageSpec> = {
  joinRoom: {
    name: 'join-room',
    summary:
      "Enter the session's room: only its client and psychologist, payment confirmed, session Confirmed or In Progress. When both are present the call starts (auto-start).",
    payload: schemaRef('JoinRoomRequest'),
  },
  joinRoomAck: {
    name: 'join-room',
    summary: 'Acknowledgement of join-room',
    description: `Refused with the codes of the REST checks (INVALID_TRANSITION, TOO_EARLY with \`opensAt\`, ...), or with ${UNAVAILABLE_ACK.description}`,
    payload: { oneOf: [schemaRef('JoinRoomResult'), schemaRef('ErrorAck')] },
    examples: [UNAVAILABLE_ACK.example],
  },
  leaveRoom: {
    name: 'leave-room',
    summary: 'Leave the room; the call goes on until the room has been empty for the grace period',
    payload: schemaRef('LeaveRoomRequest'),
  },
  leaveRoomAck: {
    name: 'leave-room',
    summary: 'Acknowledgement of leave-room',
    description: `Refused with ${UNAVAILABLE_ACK.description}`,
    payload: { oneOf: [schemaRef('OkAck'), schemaRef('ErrorAck')] },
    examples: [UNAVAILABLE_ACK.example],
  },
  signal: {
    name: 'signal',
    summary:
      'WebRTC signaling (offer, answer, ICE candidate) to the other participants, or to one user with `to`; only from a member of the room (NOT_IN_ROOM)',
    payload: schemaRef('SignalRequest'),
  },
  signalAck: {
    name: 'signal',
    summary: 'Acknowledgement of signal (relayed, not delivered)',
    payload: { oneOf: [schemaRef('OkAck'), schemaRef('ErrorAck')] },
  },
  renewToken: {
    name: 'renew-token',
    summary: "Keep the socket open past the token's expiry with a fresh token of the same user",
    payload: schemaRef('RenewTokenRequest'),
  },
  renewTokenAck: {
    name: 'renew-token',
    summary: 'Acknowledgement of renew-token',
    payload: { oneOf: [schemaRef('RenewTokenResult'), schemaRef('ErrorAck')] },
  },
  relayedSignal: {
    name: 'signal',
    summary: 'A signal from another participant of the room',
    payload: schemaRef('RelayedSignal'),
  },
  participantJoined: {
    name: 'participant-joined',
    summary: "The other participant entered the room (a user's first socket)",
    description: `${TO_OTHER_PARTICIPANT} ("your client is waiting").`,
    payload: schemaRef('ParticipantJoined'),
  },
  participantLeft: {
    name: 'participant-left',
    summary: 'The other participant left the room (their last socket left or disconnected)',
    description: `${TO_OTHER_PARTICIPANT}.`,
    payload: schemaRef('ParticipantLeft'),
  },
  sessionStatus: {
    name: 'session-status',
    summary:
      'A session of yours changed status, whatever caused it (REST, payment, cancel, auto-start, auto-end, no-show, max-duration). On Completed, Cancelled or No Show the room is closed after this.',
    description: TO_BOTH_PARTICIPANTS,
    payload: schemaRef('SessionStatusChanged'),
  },
  sessionUpdated: {
    name: 'session-updated',
    summary:
      'A session of yours changed without a status change (a new payment status, a new time): its current schedule and payment status',
    description: TO_BOTH_PARTICIPANTS,
    payload: schemaRef('SessionUpdated'),
  },
  tokenExpiring: {
    name: 'token-expiring',
    summary:
      "About 60 s before the socket's token expires; send renew-token or be disconnected at expiry",
    payload: schemaRef('TokenExpiring'),
  },
  tokenExpired: {
    name: 'token-expired',
    summary:
      "The socket's token has expired (no renew-token came in time): the server disconnects it right after this event",
    payload: schemaRef('TokenExpired'),
  },
};

/** Client -> server events: operation id, request message, acknowledgement message. */
const RECEIVED: Array<[string, string, string]> = [
  ['joinRoom', 'joinRoom', 'joinRoomAck'],
  ['leaveRoom', 'leaveRoom', 'leaveRoomAck'],
  ['sendSignal', 'signal', 'signalAck'],
  ['renewToken', 'renewToken', 'renewTokenAck'],
];

/** Server -> client events: operation id, message. */
const SENT: Array<[string, string]> = [
  ['relaySignal', 'relayedSignal'],
  ['participantJoined', 'participantJoined'],
  ['participantLeft', 'participantLeft'],
  ['sessionStatus', 'sessionStatus'],
  ['sessionUpdated', 'sessionUpdated'],
  ['tokenExpiring', 'tokenExpiring'],
  ['tokenExpired', 'tokenExpired'],
];

const CHANNEL = '#/channels/videoCalls';

/**
 * The AsyncAPI 3 document of the `/video-calls` Socket.io namespace (PRODUCT.md section 5). Built
 * from the same lists the code uses (statuses, signal types, error codes); a test checks its
 * operations against the gateway's handlers and emitted events, and its payloads against real
 * traffic.
 */
export function buildAsyncApiDocument(server: AsyncApiServer): Record<string, unknown> {
  const operations: Record<string, unknown> = {};
  for (const [id, message, ack] of RECEIVED) {
    operations[id] = {
      action: 'receive',
      channel: ref(CHANNEL),
      summary: messages[message].summary,
      messages: [ref(`${CHANNEL}/messages/${message}`)],
      reply: { channel: ref(CHANNEL), messages: [ref(`${CHANNEL}/messages/${ack}`)] },
    };
  }
  for (const [id, message] of SENT) {
    operations[id] = {
      action: 'send',
      channel: ref(CHANNEL),
      summary: messages[message].summary,
      messages: [ref(`${CHANNEL}/messages/${message}`)],
    };
  }
  return {
    asyncapi: '3.1.0',
    info: {
      title: 'Session video API: video room',
      version: '1.0.0',
      description: [
        'The Socket.io namespace `/video-calls` (WebSocket transport only): room presence, WebRTC',
        'signaling relay and live session status. Every client -> server event takes an',
        'acknowledgement, `{ ok: true, ... }` or `{ ok: false, error: { code, message } }`.',
        '',
        "From the moment it connects, a socket hears what happens to its user's sessions",
        "(`session-status`, `session-updated`, the other participant's arrival and departure), in a",
        'room or not: a dashboard needs no join-room.',
        '',
        'Connect with `io(BASE + "/video-calls", { auth: { token }, transports: ["websocket"] })`.',
        'The token may also be sent as `"Bearer <token>"`. A missing or bad token fails the handshake:',
        'the client gets `connect_error` with message `"UNAUTHENTICATED"` and `data`',
        '`{ code: "UNAUTHENTICATED" }`, plus `reason: "expired"` when the token has expired (refresh',
        'it and connect again). Messages over `WS_RATE_LIMIT` a second are answered `RATE_LIMITED`.',
        'Handshakes over `WS_CONNECT_RATE_LIMIT` a minute from one address fail with `connect_error`',
        '`"RATE_LIMITED"` (`data`: `{ code, retryAfter }`, seconds).',
        '',
        'REST: the OpenAPI document at `/api/docs-json`.',
      ].join('\n'),
    },
    defaultContentType: 'application/json',
    servers: {
      api: {
        host: server.host,
        protocol: server.secure ? 'wss' : 'ws',
        pathname: '/socket.io/',
        description: 'Socket.io (Engine.IO v4) endpoint of this deployment',
        security: [ref('#/components/securitySchemes/accessToken')],
      },
    },
    channels: {
      videoCalls: {
        address: '/video-calls',
        title: 'Video room namespace',
        description:
          "The Socket.io namespace. A session's room is joined with join-room; signals reach only its members. What happens to a session (session-status, session-updated) reaches every connected socket of its client and psychologist, in the room or not; participant-joined/-left reach the other participant's sockets. Nobody else hears any of it, admins included.",
        servers: [ref('#/servers/api')],
        messages: Object.fromEntries(
          Object.keys(messages).map((key) => [key, ref(`#/components/messages/${key}`)]),
        ),
      },
    },
    operations,
    components: {
      schemas,
      messages: Object.fromEntries(
        Object.entries(messages).map(([key, m]) => [
          key,
          {
            name: m.name,
            title: m.name,
            summary: m.summary,
            ...(m.description ? { description: m.description } : {}),
            contentType: 'application/json',
            payload: m.payload,
            ...(m.examples ? { examples: m.examples } : {}),
          },
        ]),
      ),
      securitySchemes: {
        accessToken: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description:
            'The REST access token, sent in the Socket.io handshake as `auth: { token }` (not as a header), bare or as `"Bearer <token>"`. A missing, bad or expired token: `connect_error` "UNAUTHENTICATED" with `data` `{ code: "UNAUTHENTICATED" }`, plus `reason: "expired"` for an expired token.',
        },
      },
    },
  };
}
