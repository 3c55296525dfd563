import fc from 'fast-check';
import { io, type Socket } from 'socket.io-client';
import type { ErrorCode } from '../../src/common/errors/error-codes.js';
import { connectAs, eventually, request, sleep } from '../utils/socket-client.js';
import {
  ackProblem,
  bodyArbitrary,
  fcOptions,
  mutationsOf,
  nest,
  omit,
  resolve,
  resolveObject,
  type Schema,
  typeOf,
  wrongTypeArbitrary,
} from '../utils/fuzz.js';
import {
  countRows,
  describeAfterwards,
  Fuzzing,
  signed,
  useFuzzWorld,
  validProperty,
} from '../utils/fuzz-world.js';

/**
 * Schema-driven input fuzzing of the WebSocket gateway (PRODUCT.md sections 4 and 5): every
 * receive operation of `/api/asyncapi.json` is sent malformed, missing, oversized and wrongly typed
 * payloads, a deterministic list plus fast-check values generated from the schemas
 * (test/utils/fuzz.ts; replay a failure with FUZZ_SEED=<seed>, FUZZ_RUNS=<n> changes the number
 * of generated cases). Every message must be answered with a coded acknowledgement (or `ok`),
 * never an INTERNAL one, and the socket must stay connected.
 */

/** Every acknowledgement comes within milliseconds; a missing one is a failure, not a wait. */
const ACK_TIMEOUT_MS = 2000;

describe('input fuzzing, WebSocket: every receive operation of /api/asyncapi.json', () => {
  const fuzz = useFuzzWorld(new Fuzzing());

  interface EventSpec {
    event: string;
    payload: Schema;
  }
  let events: EventSpec[];
  let clientSocket: Socket;
  let psychologistSocket: Socket;
  const sockets: Socket[] = [];
  let messages = 0;

  const open = async (token: string) => {
    const s = await connectAs(fuzz.w.t.url, token);
    sockets.push(s);
    return s;
  };
  const join = async (s: Socket) => {
    const ack = await request(s, 'join-room', { sessionId: fuzz.w.wsSession.id });
    expect(ack).toMatchObject({ ok: true });
  };

  beforeAll(async () => {
    const res = await fuzz.w.t.api.get('/api/asyncapi.json');
    expect(res.status).toBe(200);
    const asyncDoc = res.body;
    events = [];
    for (const op of Object.values<any>(asyncDoc.operations ?? {})) {
      if (op.action !== 'receive') {
        continue;
      }
      for (const ref of op.messages ?? []) {
        const message = resolve(asyncDoc, ref) as Schema & { name: string; payload: Schema };
        events.push({ event: message.name, payload: resolveObject(asyncDoc, message.payload)! });
      }
    }
    clientSocket = await open(fuzz.w.wsParty.client.token);
    psychologistSocket = await open(fuzz.w.wsParty.psychologist.token);
    await join(clientSocket);
    await join(psychologistSocket);
  });
  afterAll(() => {
    sockets.forEach((s) => s.disconnect());
  });

  it('walks a document that lists the gateway events', () => {
    expect(events.map((e) => e.event)).toEqual(
      expect.arrayContaining(['join-room', 'leave-room', 'signal', 'renew-token']),
    );
    for (const e of events) {
      expect(e.payload.properties).toBeDefined();
    }
  });

  /** Sends and checks one message from the client's socket, which must stay connected. */
  async function wsProbe(
    event: string,
    payload: unknown,
    expected: ErrorCode | 'any',
    label: string,
  ): Promise<string | undefined> {
    messages++;
    let ack: unknown;
    try {
      ack = await request(clientSocket, event, payload, ACK_TIMEOUT_MS);
    } catch (error) {
      return `${event} [${label}]: no acknowledgement (${String(error)})`;
    }
    const problem = ackProblem(ack, expected);
    if (problem) {
      return `${event} [${label}]: ${problem}`;
    }
    if (!clientSocket.connected) {
      return `${event} [${label}]: the socket was dropped`;
    }
    return undefined;
  }

  /** A valid payload for an event, on the WebSocket walk's session. */
  function validPayload(spec: EventSpec): Record<string, unknown> {
    const required = new Set(spec.payload.required ?? []);
    return Object.fromEntries(
      Object.entries(spec.payload.properties ?? {})
        .filter(([name]) => required.has(name))
        .map(([name, s]) => {
          switch (name) {
            case 'sessionId':
              return [name, fuzz.w.wsSession.id];
            case 'token':
              return [name, fuzz.w.wsParty.client.token];
            case 'type':
              return [name, 'offer'];
            case 'data':
              return [name, { type: 'offer', sdp: 'v=0' }];
            default:
              return [name, validProperty(fuzz.w, name, s)];
          }
        }),
    );
  }

  it('answers malformed payloads with a coded acknowledgement and keeps the socket', async () => {
    const problems: string[] = [];
    for (const spec of events) {
      // Back in the room before each event: a signal is checked for size only from a member.
      await join(clientSocket);
      const required = new Set(spec.payload.required ?? []);
      const valid = () => validPayload(spec);
      const cases: Array<[string, unknown, ErrorCode | 'any']> = [
        ['no payload', undefined, 'VALIDATION_FAILED'],
        ['null', null, 'VALIDATION_FAILED'],
        ['a number', 1, 'VALIDATION_FAILED'],
        ['a string', 'x', 'VALIDATION_FAILED'],
        ['a JSON string of the payload', JSON.stringify(valid()), 'VALIDATION_FAILED'],
        ['true', true, 'VALIDATION_FAILED'],
        ['an empty array', [], 'VALIDATION_FAILED'],
        ['the payload in an array', [valid()], 'VALIDATION_FAILED'],
        ['an empty object', {}, required.size > 0 ? 'VALIDATION_FAILED' : 'any'],
        ['an unknown property', { ...valid(), unknown: 1 }, 'VALIDATION_FAILED'],
        [
          '__proto__',
          JSON.parse(`{"__proto__": {"x": 1}, "sessionId": "${fuzz.w.wsSession.id}"}`),
          'VALIDATION_FAILED',
        ],
        ['valueOf', { ...valid(), valueOf: 1 }, 'VALIDATION_FAILED'],
        ['toString', { ...valid(), toString: 'x' }, 'VALIDATION_FAILED'],
        ['a binary buffer', Buffer.from('{"sessionId":"x"}'), 'VALIDATION_FAILED'],
        ['an unknown property 2000 deep', { ...valid(), deep: nest(2000) }, 'VALIDATION_FAILED'],
      ];
      for (const [name, prop] of Object.entries(spec.payload.properties ?? {})) {
        for (const m of mutationsOf(prop, required.has(name))) {
          cases.push([
            `${name}: ${m.label}`,
            { ...valid(), [name]: m.value },
            m.sure ? 'VALIDATION_FAILED' : 'any',
          ]);
        }
        cases.push([
          `${name}: a binary buffer`,
          { ...valid(), [name]: Buffer.from('abc') },
          typeOf(prop) ? 'VALIDATION_FAILED' : 'any',
        ]);
        cases.push([
          `${name}: nested 2000 deep`,
          { ...valid(), [name]: nest(2000) },
          typeOf(prop) ? 'VALIDATION_FAILED' : 'any',
        ]);
        if (required.has(name)) {
          cases.push([`${name} missing`, omit(valid(), name), 'VALIDATION_FAILED']);
        }
        if (!typeOf(prop)) {
          // Untyped data (a signal's SDP or candidate) is bounded by size instead.
          cases.push([
            `${name}: over 64 KiB`,
            { ...valid(), [name]: 'd'.repeat(70 * 1024) },
            'PAYLOAD_TOO_LARGE',
          ]);
        }
      }
      for (const [label, payload, expected] of cases) {
        const problem = await wsProbe(spec.event, payload, expected, label);
        if (problem) {
          problems.push(problem);
        }
      }

      await fc.assert(
        fc.asyncProperty(
          fc.oneof(fc.anything({ maxDepth: 3 }), bodyArbitrary(fuzz.w, spec.payload)),
          async (payload) => {
            const problem = await wsProbe(
              spec.event,
              payload,
              'any',
              JSON.stringify(payload)?.slice(0, 200) ?? 'undefined',
            );
            if (problem) {
              throw new Error(problem);
            }
          },
        ),
        fcOptions,
      );
      const props = Object.entries(spec.payload.properties ?? {});
      await fc.assert(
        fc.asyncProperty(
          fc
            .constantFrom(...props)
            .chain(([name, s]) =>
              wrongTypeArbitrary(s, required.has(name)).map((v) => [name, v] as const),
            ),
          async ([name, value]) => {
            const problem = await wsProbe(
              spec.event,
              { ...valid(), [name]: value },
              'VALIDATION_FAILED',
              `${name} = ${JSON.stringify(value)}`,
            );
            if (problem) {
              throw new Error(problem);
            }
          },
        ),
        fcOptions,
      );

      // The socket still works for valid requests of this very event.
      await join(clientSocket);
      const ok = await request(clientSocket, spec.event, valid());
      expect({ event: spec.event, ack: ok }).toEqual({
        event: spec.event,
        ack: expect.objectContaining({ ok: true }),
      });
    }
    expect(problems).toEqual([]);
  }, 120_000);

  it('survives messages without an acknowledgement, with extra arguments, and unknown events', async () => {
    for (const spec of events) {
      messages += 5;
      clientSocket.emit(spec.event, { junk: true });
      clientSocket.emit(spec.event);
      clientSocket.emit(spec.event, Buffer.from([0, 1, 2, 255]));
      clientSocket.emit(spec.event, { ...validPayload(spec), unknown: 1 });
      clientSocket.emit('no-such-event', validPayload(spec));
      // Extra arguments before the acknowledgement: the payload is then an array.
      messages++;
      const ack = await clientSocket
        .timeout(5000)
        .emitWithAck(spec.event, validPayload(spec), 'extra');
      expect(ackProblem(ack, 'VALIDATION_FAILED')).toBeUndefined();
    }
    await sleep(200);
    expect(clientSocket.connected).toBe(true);
    await join(clientSocket);
  });

  it('drops a socket whose frame is over 128 KiB, by design, and only that socket', async () => {
    const victim = await open(fuzz.w.wsParty.client.token);
    const dropped = new Promise<string>((resolve) =>
      victim.once('disconnect', (reason) => resolve(reason)),
    );
    messages++;
    victim.emit('signal', {
      sessionId: fuzz.w.wsSession.id,
      type: 'offer',
      data: 'x'.repeat(130 * 1024),
    });
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      dropped,
      new Promise<string>((resolve) => {
        timer = setTimeout(() => resolve('still connected'), 5000);
      }),
    ]);
    clearTimeout(timer);
    expect(outcome).toMatch(/transport/);
    expect(clientSocket.connected).toBe(true);
    expect(psychologistSocket.connected).toBe(true);
    const again = await open(fuzz.w.wsParty.client.token);
    expect(await request(again, 'join-room', { sessionId: fuzz.w.wsSession.id })).toMatchObject({
      ok: true,
    });
  });

  it('refuses malformed handshake auth with connect_error UNAUTHENTICATED', async () => {
    const presenceBefore = await countRows(fuzz.w, 'room_presence');
    const tokens: Array<[string, unknown]> = [
      ['a number', 42],
      ['an object', { token: fuzz.w.party.client.token }],
      ['an array', [fuzz.w.party.client.token]],
      ['null', null],
      ['true', true],
      ['an empty string', ''],
      ['a huge string', 'x'.repeat(100_000)],
      ['a bearer header value with a bad token', 'Bearer not-a-jwt'],
      ['SQL', "' OR 1=1 --"],
      [
        'alg none',
        `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${fuzz.w.party.client.token.split('.')[1]}.`,
      ],
      [
        'an expired token',
        signed({ sub: fuzz.w.party.client.id, exp: Math.floor(Date.now() / 1000) - 10 }),
      ],
    ];
    const problems: string[] = [];
    for (const [label, token] of tokens) {
      const socket = io(`${fuzz.w.t.url}/video-calls`, {
        auth: { token } as Record<string, unknown>,
        transports: ['websocket'],
        reconnection: false,
        forceNew: true,
      });
      const outcome = await new Promise<string>((resolve) => {
        const timer = setTimeout(() => resolve('timeout'), 5000);
        socket.once('connect', () => {
          clearTimeout(timer);
          resolve('connected');
        });
        socket.once('connect_error', (err) => {
          clearTimeout(timer);
          resolve(`connect_error ${err.message}`);
        });
      });
      socket.disconnect();
      if (outcome !== 'connect_error UNAUTHENTICATED') {
        problems.push(`handshake with ${label}: ${outcome}`);
      }
    }
    expect(problems).toEqual([]);
    expect(await countRows(fuzz.w, 'room_presence')).toBe(presenceBefore);
  });

  it('left nothing open: every socket gone means no open presence row', async () => {
    sockets.forEach((s) => s.disconnect());
    await eventually(async () => {
      const rows = await fuzz.w.t.dataSource.query(
        `SELECT count(*)::int AS n FROM room_presence WHERE left_at IS NULL`,
      );
      return rows[0].n === 0;
    });
    process.stdout.write(`WebSocket fuzzing: ${events.length} events, ${messages} messages\n`);
  });

  describeAfterwards(fuzz);
});
