import { DiagnosticSeverity, Parser, type AsyncAPIDocumentInterface } from '@asyncapi/parser';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import jwt from 'jsonwebtoken';
import { readFileSync } from 'node:fs';
import type { Socket } from 'socket.io-client';
import { MESSAGES } from '../../src/video-call/video-call.gateway.js';
import { bookSession, confirmedSession, createParty, pay } from '../factories/sessions.js';
import {
  connectAs,
  connectRoom,
  connected,
  eventually,
  nextEvent,
  request,
} from '../utils/socket-client.js';
import { startTestApp, TEST_JWT_SECRET, type TestApp } from '../utils/test-app.js';

// ajv-formats is CommonJS with a default export that ESM sees as the module object.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ??
  addFormatsModule) as unknown as (ajv: Ajv) => Ajv;

/** The gateway and the service that emits its events about sessions. */
const EMITTING_SOURCES = ['video-call.gateway.ts', 'live-events.service.ts'].map(
  (file) => new URL(`../../src/video-call/${file}`, import.meta.url),
);

/** Events the gateway handles: the events it binds a listener for on every socket. */
function handledEvents(): string[] {
  return MESSAGES.map(([event]) => event);
}

/** Events the gateway sends: every `.emit('name'` in its sources. */
function emittedEvents(): string[] {
  return EMITTING_SOURCES.flatMap((file) =>
    [...readFileSync(file, 'utf8').matchAll(/\.emit\(\s*['"]([^'"]+)['"]/g)].map((m) => m[1]),
  );
}

const uniqueSorted = (names: string[]) => [...new Set(names)].sort();

describe('AsyncAPI document of the /video-calls namespace', () => {
  let t: TestApp;
  let raw: Record<string, any>;
  let doc: AsyncAPIDocumentInterface;

  beforeAll(async () => {
    t = await startTestApp();
    const res = await t.api.get('/api/asyncapi.json');
    expect(res.status).toBe(200);
    raw = res.body;
    const parsed = await new Parser().parse(res.text);
    const serious = parsed.diagnostics.filter(
      (d) => Number(d.severity) <= Number(DiagnosticSeverity.Warning),
    );
    expect(serious.map((d) => `${d.code} ${d.path.join('.')}: ${d.message}`)).toEqual([]);
    expect(parsed.document).toBeDefined();
    doc = parsed.document!;
  });
  afterAll(() => t.close());

  it('is served without a token, as JSON, and left out of the OpenAPI document', async () => {
    const res = await t.api.get('/api/asyncapi.json');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(raw.asyncapi).toMatch(/^3\.\d+\.\d+$/);
    const openapi = await t.api.get('/api/docs-json');
    expect(Object.keys(openapi.body.paths)).not.toContain('/api/asyncapi.json');
  });

  it('is a valid AsyncAPI 3 document with the namespace, the server and the handshake auth', () => {
    expect(doc.version()).toMatch(/^3\./);
    const channel = doc.channels().get('videoCalls');
    expect(channel?.address()).toBe('/video-calls');
    const server = doc.servers().get('api');
    expect(server?.host()).toBe(new URL(t.url).host);
    expect(server?.protocol()).toBe('ws');
    const schemes = server?.security().flatMap((req) => req.all().map((s) => s.scheme()));
    expect(schemes?.[0]?.type()).toBe('http');
    expect(schemes?.[0]?.description()).toMatch(/auth: \{ token \}/);
  });

  it('names the server as the client sees it behind a trusted proxy', async () => {
    const forwarded = (app: TestApp) =>
      app.api
        .get('/api/asyncapi.json')
        .set('x-forwarded-host', 'video.example.com')
        .set('x-forwarded-proto', 'https');
    // Not trusted by default: the headers are ignored.
    expect((await forwarded(t)).body.servers.api).toMatchObject({
      host: new URL(t.url).host,
      protocol: 'ws',
    });
    const behindProxy = await startTestApp({ env: { TRUST_PROXY: 'true' } });
    try {
      expect((await forwarded(behindProxy)).body.servers.api).toMatchObject({
        host: 'video.example.com',
        protocol: 'wss',
      });
    } finally {
      await behindProxy.close();
    }
  });

  it('has one receive operation, with an acknowledgement, per event the gateway handles', () => {
    const received = doc
      .operations()
      .all()
      .filter((op) => op.action() === 'receive');
    const names = received.flatMap((op) =>
      op
        .messages()
        .all()
        .map((m) => m.name()!),
    );
    expect(uniqueSorted(names)).toEqual(uniqueSorted(handledEvents()));
    expect(names).toHaveLength(new Set(names).size);
    for (const op of received) {
      const acks = op.reply()?.messages().all() ?? [];
      expect({ op: op.id(), acks: acks.length }).toEqual({ op: op.id(), acks: 1 });
      expect(acks[0].name()).toBe(op.messages().all()[0].name());
    }
  });

  it('has one send operation per event the gateway emits', () => {
    const sent = doc
      .operations()
      .all()
      .filter((op) => op.action() === 'send')
      .flatMap((op) =>
        op
          .messages()
          .all()
          .map((m) => m.name()!),
      );
    expect(emittedEvents().length).toBeGreaterThan(0);
    expect(uniqueSorted(sent)).toEqual(uniqueSorted(emittedEvents()));
    expect(sent).toHaveLength(new Set(sent).size);
  });

  it('covers every event of the contract in both directions', () => {
    const byAction = (action: string) =>
      uniqueSorted(
        doc
          .operations()
          .all()
          .filter((op) => op.action() === action)
          .flatMap((op) =>
            op
              .messages()
              .all()
              .map((m) => m.name()!),
          ),
      );
    expect(byAction('receive')).toEqual(['join-room', 'leave-room', 'renew-token', 'signal']);
    expect(byAction('send')).toEqual([
      'participant-joined',
      'participant-left',
      'session-status',
      'session-updated',
      'signal',
      'token-expired',
      'token-expiring',
    ]);
  });

  it('lists UNAVAILABLE among the refusals of join-room and leave-room, with an example that fits', () => {
    const ajv = new Ajv({ strict: false });
    addFormats(ajv);
    for (const name of ['join-room', 'leave-room']) {
      const op = doc
        .operations()
        .all()
        .find((o) => o.action() === 'receive' && o.messages().all()[0].name() === name)!;
      const ack = op.reply()!.messages().all()[0];
      expect({ name, description: ack.description() }).toEqual({
        name,
        description: expect.stringContaining('`UNAVAILABLE`'),
      });
      const examples = ack
        .examples()
        .all()
        .map((e) => e.payload());
      expect(examples).toContainEqual({
        ok: false,
        error: { code: 'UNAVAILABLE', message: expect.any(String) },
      });
      const validate = ajv.compile(ack.payload()!.json<object>());
      expect(examples.filter((example) => !validate(example))).toEqual([]);
    }
  });

  describe('matches real traffic', () => {
    const sockets: Socket[] = [];
    afterAll(() => sockets.forEach((s) => s.disconnect()));

    /** Validators per direction and event name, from the document's (dereferenced) payloads. */
    function validators() {
      const ajv = new Ajv({ strict: false, allErrors: true });
      addFormats(ajv);
      const of = (action: string, pick: 'request' | 'reply') => {
        const map = new Map<string, ValidateFunction>();
        for (const op of doc.operations().all()) {
          if (op.action() !== action) {
            continue;
          }
          const message =
            pick === 'request' ? op.messages().all()[0] : op.reply()!.messages().all()[0];
          map.set(message.name()!, ajv.compile(message.payload()!.json<object>()));
        }
        return map;
      };
      return {
        requests: of('receive', 'request'),
        acks: of('receive', 'reply'),
        events: of('send', 'request'),
      };
    }

    it('every request, acknowledgement and event of a whole call fits its schema', async () => {
      const { requests, acks, events } = validators();
      const seen: Array<{ kind: string; name: string; payload: unknown }> = [];
      const trace = (socket: Socket) => {
        socket.onAny((name: string, payload: unknown) =>
          seen.push({ kind: 'event', name, payload }),
        );
        return socket;
      };
      const call = async (socket: Socket, name: string, payload: unknown) => {
        seen.push({ kind: 'request', name, payload });
        const ack = await request(socket, name, payload);
        seen.push({ kind: 'ack', name, payload: ack });
        return ack;
      };

      const { party, id } = await confirmedSession(t);
      // A token with less than 60 s left gets token-expiring at once.
      const shortLived = jwt.sign({ role: 'client' }, TEST_JWT_SECRET, {
        subject: party.client.id,
        algorithm: 'HS256',
        issuer: t.config.jwt.issuer,
        audience: t.config.jwt.audience,
        expiresIn: 30,
      });
      const client = trace(connectRoom(t.url, shortLived));
      sockets.push(client);
      await connected(client);
      const psychologist = trace(await connectAs(t.url, party.psychologist.token));
      sockets.push(psychologist);

      expect(await call(client, 'join-room', { sessionId: id })).toMatchObject({ ok: true });
      expect(await call(psychologist, 'join-room', { sessionId: id })).toMatchObject({ ok: true });
      const offer = { type: 'offer', sdp: 'v=0\r\n' };
      expect(await call(client, 'signal', { sessionId: id, type: 'offer', data: offer })).toEqual({
        ok: true,
      });
      const candidate = { candidate: 'candidate:1 1 UDP 1 127.0.0.1 9 typ host', sdpMid: '0' };
      await call(psychologist, 'signal', {
        sessionId: id,
        to: party.client.id,
        type: 'ice-candidate',
        data: candidate,
      });
      expect(await call(client, 'renew-token', { token: party.client.token })).toMatchObject({
        ok: true,
      });
      // Refusals are acknowledgements too.
      const other = await confirmedSession(t);
      expect(
        await call(client, 'signal', { sessionId: other.id, type: 'answer', data: offer }),
      ).toMatchObject({ ok: false, error: { code: 'NOT_IN_ROOM' } });
      // A room that is not open yet says when it opens.
      const later = await createParty(t);
      const future = await bookSession(t, later, {
        scheduledStart: new Date(Date.now() + 2 * 3600_000).toISOString(),
      });
      await pay(t, later, future.id);
      const early = trace(await connectAs(t.url, later.client.token));
      sockets.push(early);
      expect(await call(early, 'join-room', { sessionId: future.id })).toMatchObject({
        ok: false,
        error: { code: 'TOO_EARLY', opensAt: expect.any(String) },
      });
      // What the server refuses, the schema refuses too.
      const malformed = { sessionId: 'nope' };
      expect(requests.get('join-room')!(malformed)).toBe(false);
      const refusal = await request(client, 'join-room', malformed);
      expect(refusal).toMatchObject({ ok: false, error: { code: 'VALIDATION_FAILED' } });
      seen.push({ kind: 'ack', name: 'join-room', payload: refusal });
      expect(await call(psychologist, 'leave-room', { sessionId: id })).toEqual({ ok: true });
      const ended = await t.api
        .post(`/api/video-calls/end/${id}`)
        .set('Authorization', party.client.auth);
      expect(ended.status).toBe(200);

      const names = (kind: string) =>
        uniqueSorted(seen.filter((s) => s.kind === kind).map((s) => s.name));
      await eventually(() =>
        Promise.resolve(
          seen.some(
            (s) => s.name === 'session-status' && (s.payload as any).status === 'Completed',
          ),
        ),
      );
      // A refund after the call changes no status: session-updated.
      const updated = nextEvent(client, 'session-updated');
      await pay(t, party, id, 'Refunded');
      await updated;
      // A token that runs out while connected: token-expired, then the disconnect.
      const expiring = trace(
        connectRoom(
          t.url,
          jwt.sign({ role: 'client' }, TEST_JWT_SECRET, {
            subject: party.client.id,
            algorithm: 'HS256',
            issuer: t.config.jwt.issuer,
            audience: t.config.jwt.audience,
            expiresIn: 2,
          }),
        ),
      );
      sockets.push(expiring);
      await connected(expiring);
      await nextEvent(expiring, 'disconnect', () => true, 6000);
      // The whole vocabulary went over the wire in this call.
      expect(names('event')).toEqual([
        'participant-joined',
        'participant-left',
        'session-status',
        'session-updated',
        'signal',
        'token-expired',
        'token-expiring',
      ]);
      expect(names('request')).toEqual(['join-room', 'leave-room', 'renew-token', 'signal']);

      const problems = seen.flatMap(({ kind, name, payload }) => {
        const validate = (kind === 'event' ? events : kind === 'ack' ? acks : requests).get(name);
        if (!validate) {
          return [`${kind} ${name}: not in the document`];
        }
        return validate(payload)
          ? []
          : [`${kind} ${name} ${JSON.stringify(payload)}: ${JSON.stringify(validate.errors)}`];
      });
      expect(problems).toEqual([]);
    });
  });
});
