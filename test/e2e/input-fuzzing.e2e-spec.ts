import fc from 'fast-check';
import jwt from 'jsonwebtoken';
import { randomUUID } from 'node:crypto';
import { connect as tcpConnect } from 'node:net';
import { io, type Socket } from 'socket.io-client';
import type { Response } from 'supertest';
import { ERROR_CODES, type ErrorCode } from '../../src/common/errors/error-codes.js';
import {
  confirmedSession,
  createParty,
  type Party,
  type SessionJson,
} from '../factories/sessions.js';
import { PASSWORD, type TestUser } from '../factories/users.js';
import { connectAs, eventually, request, sleep } from '../utils/socket-client.js';
import { startTestApp, TEST_ADMIN, TEST_JWT_SECRET, type TestApp } from '../utils/test-app.js';

/**
 * Schema-driven input fuzzing (PRODUCT.md sections 4 and 5: "bad input gets a clear 4xx with a
 * code; nothing is half-written"). Every operation of `/api/docs-json` and every receive operation
 * of `/api/asyncapi.json` is walked with malformed, missing, oversized and wrongly typed input:
 * a deterministic list of classic nasties plus fast-check values generated from the schemas.
 *
 * Every answer must be a 2xx (only where the input may be valid) or a 4xx with the contract's error
 * body and a known code; never a 5xx or INTERNAL. Where the input is invalid for sure, the exact
 * answer is demanded, in the contract's order of checks: authentication (401) first, then
 * well-formed ids and bodies (400), then existence (404) - so an invalid body sent with a valid
 * token of the "wrong" role is still a 400, not a 403.
 *
 * Reproduce a fast-check failure with the seed it prints: FUZZ_SEED=<seed> (and FUZZ_RUNS=<n> to
 * change the number of generated cases per property).
 */

const RUNS = Number(process.env.FUZZ_RUNS ?? 15);
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
const fcOptions = { numRuns: RUNS, seed: SEED, endOnFailure: true };

/** Every acknowledgement comes within milliseconds; a missing one is a failure, not a wait. */
const ACK_TIMEOUT_MS = 2000;
const KNOWN_CODES = Object.keys(ERROR_CODES) as ErrorCode[];
const MIB = 1024 * 1024;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// ---------------------------------------------------------------------------------------------
// Schemas

interface Schema {
  $ref?: string;
  type?: string | string[];
  format?: string;
  enum?: unknown[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  example?: unknown;
  examples?: unknown[];
  default?: unknown;
  [keyword: string]: unknown;
}

/** Follows a local `$ref` (`#/components/schemas/X`) through the document, repeatedly. */
function resolve(doc: unknown, schema: Schema | undefined): Schema | undefined {
  let s = schema;
  for (let hops = 0; s?.$ref !== undefined; hops++) {
    if (hops > 20 || !s.$ref.startsWith('#/')) {
      throw new Error(`cannot resolve ${s.$ref}`);
    }
    let node: any = doc;
    for (const part of s.$ref.slice(2).split('/')) {
      node = node?.[part.replace(/~1/g, '/').replace(/~0/g, '~')];
    }
    if (node === undefined) {
      throw new Error(`dangling $ref ${s.$ref}`);
    }
    s = node as Schema;
  }
  return s;
}

/** An object schema with every property's `$ref` resolved (one level is all the DTOs use). */
function resolveObject(doc: unknown, schema: Schema | undefined): Schema | undefined {
  const s = resolve(doc, schema);
  if (!s?.properties) {
    return s;
  }
  const properties = Object.fromEntries(
    Object.entries(s.properties).map(([k, v]) => {
      const p = resolve(doc, v)!;
      return [k, p.items ? { ...p, items: resolve(doc, p.items) } : p];
    }),
  );
  return { ...s, properties };
}

function typeOf(s: Schema): string | undefined {
  const t = Array.isArray(s.type) ? s.type.find((x) => x !== 'null') : s.type;
  if (t) {
    return t;
  }
  if (s.enum?.every((v) => typeof v === 'string') || s.format) {
    return 'string';
  }
  return s.properties ? 'object' : undefined;
}

function hasType(type: string | undefined, value: unknown): boolean {
  switch (type) {
    case undefined:
      // An untyped property (a signal's `data`) takes anything that is there.
      return value !== null && value !== undefined;
    case 'string':
      return typeof value === 'string';
    case 'number':
    case 'integer':
      return typeof value === 'number';
    case 'boolean':
      return typeof value === 'boolean';
    case 'array':
      return Array.isArray(value);
    case 'object':
      return typeof value === 'object' && value !== null && !Array.isArray(value);
    default:
      return false;
  }
}

/** Values of every JSON type: those that do not fit a property's type are sure to be refused. */
const EVERY_TYPE: Array<[string, unknown]> = [
  ['a number', 42],
  ['a negative float', -1.5],
  ['a string', 'x'],
  ['true', true],
  ['false', false],
  ['an object', { a: 1 }],
  ['an empty object', {}],
  ['an array', ['x']],
  ['an empty array', []],
  ['null', null],
];

/** Strings a string field may well accept: they must never be a 5xx (NUL, lone surrogates...). */
const ODD_STRINGS: Array<[string, string]> = [
  ['a NUL inside', 'nul\u0000inside'],
  ['a lone surrogate', 'half \ud800 a pair'],
  ['emoji and RTL override', '🙂‮evil🙂'],
  ['SQL', "x'); DROP TABLE users; --"],
  ['markup', '<script>alert(1)</script>'],
  ['only blanks', '   '],
  ['a format string', '%s%s%s%n'],
];

interface Mutation {
  label: string;
  value: unknown;
  /** Certain to be refused by a correct server (400), or only possibly (any non-5xx). */
  sure: boolean;
}

/** Values for one property that a correct server must refuse, plus odd ones it may accept. */
function mutationsOf(prop: Schema, required: boolean): Mutation[] {
  const type = typeOf(prop);
  const out: Mutation[] = EVERY_TYPE.filter(([, v]) => !hasType(type, v)).map(([label, value]) => ({
    label,
    value,
    // An optional field sent as null counts as absent (class-validator's @IsOptional).
    sure: !(value === null && !required),
  }));
  if (type === 'string') {
    out.push(
      { label: '10k characters', value: 'x'.repeat(10_000), sure: true },
      { label: '100k characters', value: 'y'.repeat(100_000), sure: true },
      ...ODD_STRINGS.map(([label, value]) => ({ label, value, sure: false })),
    );
    if (prop.enum) {
      out.push({ label: 'outside the enum', value: '__nope__', sure: true });
      if (!prop.enum.includes('admin')) {
        out.push({ label: '"admin"', value: 'admin', sure: true });
      }
      const lower = String(prop.enum[0]).toLowerCase();
      if (!prop.enum.includes(lower)) {
        out.push({ label: 'an enum member in lower case', value: lower, sure: true });
      }
    }
    if (prop.format === 'uuid') {
      out.push(
        { label: 'not a UUID', value: 'not-a-uuid', sure: true },
        { label: 'a UUID without dashes', value: randomUUID().replace(/-/g, ''), sure: true },
        { label: 'SQL instead of a UUID', value: "' OR '1'='1", sure: true },
      );
    }
    if (prop.format === 'date-time') {
      out.push(
        { label: 'not a date', value: 'tomorrow', sure: true },
        { label: 'an impossible date', value: '2026-13-45T25:61:00Z', sure: true },
        { label: 'a date without time', value: '2030-01-01', sure: true },
        { label: 'a time without zone', value: '2030-01-01T09:00:00', sure: true },
        { label: 'the epoch', value: '1970-01-01T00:00:00Z', sure: true },
        { label: 'year 9999', value: '9999-12-31T23:59:59Z', sure: true },
      );
    }
    if (prop.minLength !== undefined && prop.minLength > 0) {
      out.push({
        label: 'shorter than minLength',
        value: 'x'.repeat(prop.minLength - 1),
        sure: true,
      });
    }
    if (prop.maxLength !== undefined) {
      out.push({
        label: 'longer than maxLength',
        value: 'x'.repeat(prop.maxLength + 1),
        sure: true,
      });
    }
  }
  if (type === 'number' || type === 'integer') {
    out.push(
      { label: 'a numeric string', value: '50', sure: true },
      { label: 'a huge number', value: 1e300, sure: true },
      { label: '2^53 + 2', value: 2 ** 53 + 2, sure: true },
    );
    if (prop.minimum !== undefined) {
      out.push({ label: 'below minimum', value: prop.minimum - 1, sure: true });
    }
    if (prop.maximum !== undefined) {
      out.push({ label: 'above maximum', value: prop.maximum + 1, sure: true });
    }
  }
  if (type === 'array') {
    out.push(
      { label: 'an array of numbers', value: [1, 2], sure: true },
      { label: 'an array with a foreign item', value: ['__nope__'], sure: true },
      { label: 'an array of objects', value: [{}], sure: true },
      { label: 'an array of 10k items', value: Array(10_000).fill('__nope__'), sure: true },
    );
  }
  return out;
}

/** JSON text nested `depth` levels deep. */
const deepArray = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
const deepObject = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);

/** `base` as JSON text with one more property whose value is the given JSON text. */
function withRawProperty(base: Record<string, unknown>, key: string, raw: string): string {
  const text = JSON.stringify(base);
  return `${text.slice(0, -1)}${text.length > 2 ? ',' : ''}${JSON.stringify(key)}:${raw}}`;
}

// ---------------------------------------------------------------------------------------------
// Answers

/** The answer demanded: exactly one of these `[status, code]`, or "any" 2xx / coded 4xx. */
type Expected = Array<[number, ErrorCode]> | 'any';
const exactly = (status: number, code: ErrorCode): Expected => [[status, code]];
const INVALID = exactly(400, 'VALIDATION_FAILED');
const UNAUTHENTICATED = exactly(401, 'UNAUTHENTICATED');

/** What is wrong with an HTTP answer, or undefined. */
function httpProblem(res: { status: number; body: unknown; text?: string }, expected: Expected) {
  const body = res.body as Record<string, unknown>;
  const shown = `${res.status} ${(res.text ?? JSON.stringify(body)).slice(0, 300)}`;
  if (res.status >= 500 || res.status < 200 || (res.status >= 300 && res.status < 400)) {
    return `answered ${shown}`;
  }
  if (res.status >= 400) {
    const code = body?.code as ErrorCode;
    const wellFormed =
      typeof body === 'object' &&
      body !== null &&
      body.statusCode === res.status &&
      typeof body.error === 'string' &&
      typeof body.message === 'string' &&
      KNOWN_CODES.includes(code) &&
      code !== 'INTERNAL' &&
      ERROR_CODES[code] === res.status;
    if (!wellFormed) {
      return `answered without the contract's error body: ${shown}`;
    }
  }
  if (expected !== 'any' && !expected.some(([s, c]) => s === res.status && body?.code === c)) {
    return `answered ${shown}, expected ${expected.map((e) => e.join(' ')).join(' or ')}`;
  }
  return undefined;
}

/** What is wrong with a WebSocket acknowledgement, or undefined. */
function ackProblem(ack: unknown, expected: ErrorCode | 'any'): string | undefined {
  const shown = JSON.stringify(ack)?.slice(0, 300);
  if (typeof ack !== 'object' || ack === null) {
    return `acknowledged ${shown}`;
  }
  const a = ack as { ok?: unknown; error?: { code?: unknown; message?: unknown } };
  if (a.ok === true) {
    return expected === 'any' ? undefined : `acknowledged ${shown}, expected ${expected}`;
  }
  const code = a.error?.code as ErrorCode;
  if (
    a.ok !== false ||
    Object.keys(a).sort().join() !== 'error,ok' ||
    !KNOWN_CODES.includes(code) ||
    code === 'INTERNAL' ||
    typeof a.error?.message !== 'string'
  ) {
    return `acknowledged ${shown}`;
  }
  if (expected !== 'any' && code !== expected) {
    return `acknowledged ${shown}, expected ${expected}`;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// The operations of the OpenAPI document

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

interface Parameter {
  name: string;
  in: string;
  required?: boolean;
  schema?: Schema;
}

interface Operation {
  /** `GET /api/sessions/{id}` */
  label: string;
  operationId: string;
  method: Method;
  template: string;
  pathParams: Parameter[];
  queryParams: Parameter[];
  body?: Schema;
  secured: boolean;
}

function operationsOf(doc: any): Operation[] {
  const ops: Operation[] = [];
  for (const [template, item] of Object.entries<Record<string, any>>(doc.paths ?? {})) {
    for (const method of ['get', 'post', 'put', 'patch', 'delete'] as const) {
      const op = item[method];
      if (!op) {
        continue;
      }
      const params: Parameter[] = [...(item.parameters ?? []), ...(op.parameters ?? [])].map(
        (p: Parameter) => ({ ...p, schema: resolve(doc, p.schema) }),
      );
      const security: Array<Record<string, string[]>> = op.security ?? doc.security ?? [];
      const json = op.requestBody?.content?.['application/json']?.schema as Schema | undefined;
      ops.push({
        label: `${method.toUpperCase()} ${template}`,
        operationId: op.operationId,
        method,
        template,
        pathParams: params.filter((p) => p.in === 'path'),
        queryParams: params.filter((p) => p.in === 'query'),
        body: json ? resolveObject(doc, json) : undefined,
        secured: security.some((req) => Object.keys(req).length > 0),
      });
    }
  }
  return ops;
}

// ---------------------------------------------------------------------------------------------
// The world the fuzzing runs in: real users, real sessions

interface World {
  t: TestApp;
  party: Party;
  /** The WebSocket walk's client and psychologist (and the same admin). */
  wsParty: Party;
  /** The session the HTTP walk aims its valid ids at. */
  httpSession: SessionJson;
  /** The WebSocket walk's session, so the HTTP walk's cancel cannot close its room. */
  wsSession: SessionJson;
  refreshToken: string;
  users: TestUser[];
  /** An id that no webhook has (the walk creates none on purpose). */
  missingWebhookId: string;
}

/** A unique future slot, so bookings the fuzzing happens to make valid do not collide. */
let slot = 0;
const freeSlot = () => new Date(Date.now() + 2 * 86_400_000 + ++slot * 3_600_000).toISOString();

function validPathValue(w: World, op: Operation, param: Parameter): string {
  if (op.template.startsWith('/api/webhooks')) {
    return w.missingWebhookId;
  }
  if (param.schema?.format === 'uuid') {
    return w.httpSession.id;
  }
  throw new Error(`no valid value known for ${op.label} path parameter ${param.name}`);
}

/** A valid value for a body property, by name first, else from the schema. */
function validProperty(w: World, name: string, s: Schema): unknown {
  switch (name) {
    case 'email':
      return `fuzz-${randomUUID().slice(0, 8)}@test.local`;
    case 'password':
      return PASSWORD;
    case 'psychologistId':
      return w.party.psychologist.id;
    case 'clientId':
      return w.party.client.id;
    case 'scheduledStart':
      return freeSlot();
    case 'refreshToken':
      return w.refreshToken;
    case 'url':
      // Refused (loopback) before any DNS lookup or delivery: the fuzzing must reach no network.
      return 'http://127.0.0.1:9/hook';
    default:
      return s.example ?? s.examples?.[0] ?? s.default ?? s.enum?.[0] ?? 'x';
  }
}

/** A valid body: the required properties of the schema with valid values. */
function validBody(w: World, schema: Schema): Record<string, unknown> {
  const required = new Set(schema.required ?? []);
  return Object.fromEntries(
    Object.entries(schema.properties ?? {})
      .filter(([name]) => required.has(name))
      .map(([name, s]) => [name, validProperty(w, name, s)]),
  );
}

/**
 * The answer to an unknown (well-formed) id: 404, since existence is checked before role and
 * membership. Except on the webhook routes, an admin-only surface that checks the role first, so
 * that a non-admin learns nothing about which webhook ids exist: 403 FORBIDDEN for them.
 */
function unknownIdAnswer(op: Operation, user: TestUser): Expected {
  if (op.template.startsWith('/api/webhooks') && user.role !== 'admin') {
    return exactly(403, 'FORBIDDEN');
  }
  return exactly(404, 'NOT_FOUND');
}

/** Who calls an operation when the walk needs a valid token: the role it is meant for. */
function callerOf(w: World, op: Operation): TestUser {
  if (/payment|webhooks/.test(op.template)) {
    return w.party.admin;
  }
  return w.party.client;
}

// ---------------------------------------------------------------------------------------------
// fast-check arbitraries from the schemas

function arbitraryOf(w: World, name: string, s: Schema): fc.Arbitrary<unknown> {
  const type = typeOf(s);
  if (name === 'url') {
    return fc.oneof(
      fc.constantFrom(
        'http://127.0.0.1/x',
        'http://[::1]:8080/',
        'http://10.0.0.1/',
        'https://user:pw@127.0.0.1/',
        'ftp://127.0.0.1/',
        'javascript:alert(1)',
        '//127.0.0.1/',
      ),
      fc.string({ unit: 'binary', maxLength: 60 }).filter((x) => !/^https?:/i.test(x)),
    );
  }
  if (name === 'refreshToken') {
    return fc.oneof(fc.constant(w.refreshToken), fc.string({ minLength: 16, maxLength: 80 }));
  }
  if (s.enum) {
    return fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...s.enum) }, fc.string());
  }
  if (s.format === 'uuid') {
    return fc.oneof(
      fc.constantFrom(w.httpSession.id, w.wsSession.id, ...w.users.map((u) => u.id)),
      fc.uuid(),
      fc.string({ maxLength: 40 }),
    );
  }
  if (s.format === 'date-time') {
    return fc.oneof(
      fc
        .date({
          min: new Date(Date.now() - 86_400_000),
          max: new Date(Date.now() + 400 * 86_400_000),
          noInvalidDate: true,
        })
        .map((d) => d.toISOString()),
      fc.string({ maxLength: 30 }),
    );
  }
  switch (type) {
    case 'string':
      return fc.string({
        unit: 'binary',
        minLength: s.minLength ?? 0,
        maxLength: Math.min(s.maxLength ?? 80, 200),
      });
    case 'number':
    case 'integer':
      return fc.oneof(
        fc.integer({ min: s.minimum ?? -1000, max: s.maximum ?? 1000 }),
        fc.integer(),
        fc.double(),
      );
    case 'boolean':
      return fc.boolean();
    case 'array':
      return fc.array(s.items ? arbitraryOf(w, name, s.items) : fc.jsonValue(), { maxLength: 4 });
    case undefined:
    default:
      // Untyped (a signal's data) or an object: any JSON.
      return fc.jsonValue({ maxDepth: 3 });
  }
}

/** Bodies from the schema: any mix of its properties, valid or not. */
function bodyArbitrary(w: World, schema: Schema): fc.Arbitrary<Record<string, unknown>> {
  const props = schema.properties ?? {};
  return fc.record(
    Object.fromEntries(Object.entries(props).map(([k, s]) => [k, arbitraryOf(w, k, s)])),
    { requiredKeys: [] },
  );
}

/**
 * A value that is not of a property's type (null only when the property is required), as it goes
 * over the wire: JSON turns NaN and Infinity into null, which an optional property may take.
 */
function wrongTypeArbitrary(s: Schema, required: boolean): fc.Arbitrary<unknown> {
  const type = typeOf(s);
  return fc
    .oneof(
      fc.integer(),
      fc.double(),
      fc.boolean(),
      fc.string(),
      fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 3 }),
      fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
      fc.constant(null),
    )
    .map((v): unknown => JSON.parse(JSON.stringify(v)))
    .filter((v) => !hasType(type, v) && (required || v !== null));
}

// ---------------------------------------------------------------------------------------------
// HTTP requests

interface HttpProbe {
  label: string;
  method: Method;
  /** Path and query, already percent-encoded as they go on the wire. */
  url: string;
  headers: Record<string, string>;
  /** Raw body text; undefined sends none. */
  body?: string | Buffer;
  expected: Expected;
}

interface Tally {
  requests: number;
  /** 2xx answers per operationId: what the walk may have written on purpose. */
  accepted: Map<string, number>;
}

async function send(t: TestApp, p: HttpProbe): Promise<Response> {
  let req = t.api[p.method](p.url);
  for (const [k, v] of Object.entries(p.headers)) {
    req = req.set(k, v);
  }
  if (p.body !== undefined) {
    req = req.send(p.body);
  }
  return await req;
}

function fillPath(template: string, values: Record<string, string>): string {
  return template.replace(/\{([^}]+)\}/g, (_, name: string) => values[name]);
}

async function runProbe(
  t: TestApp,
  tally: Tally,
  op: Operation,
  p: HttpProbe,
): Promise<string | undefined> {
  tally.requests++;
  const res = await send(t, p);
  if (res.status >= 200 && res.status < 300) {
    tally.accepted.set(op.operationId, (tally.accepted.get(op.operationId) ?? 0) + 1);
  }
  const problem = httpProblem(res, p.expected);
  return problem && `${p.method.toUpperCase()} ${p.url.slice(0, 120)} [${p.label}]: ${problem}`;
}

/** Runs probes one after another and returns every problem (not only the first). */
async function runProbes(t: TestApp, tally: Tally, op: Operation, probes: HttpProbe[]) {
  const problems: string[] = [];
  for (const p of probes) {
    const problem = await runProbe(t, tally, op, p);
    if (problem) {
      problems.push(problem);
    }
  }
  return problems;
}

/** Sends a request head and a body of `size` bytes, and stops writing once the server answers. */
function rawStatus(
  url: string,
  head: string,
  size: number,
): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = tcpConnect({ host: hostname, port: Number(port) });
    const received: Buffer[] = [];
    let answered = false;
    let written = 0;
    const chunk = Buffer.alloc(64 * 1024, ' ');
    const parse = () => {
      const text = Buffer.concat(received).toString('utf8');
      const end = text.indexOf('\r\n\r\n');
      const length = /content-length:\s*(\d+)/i.exec(text)?.[1];
      if (end < 0 || length === undefined || Buffer.byteLength(text.slice(end + 4)) < +length) {
        return undefined;
      }
      return { status: Number(text.split(' ')[1]), body: text.slice(end + 4) };
    };
    const more = () => {
      while (!answered && written < size) {
        const n = Math.min(chunk.length, size - written);
        written += n;
        if (!socket.write(chunk.subarray(0, n))) {
          socket.once('drain', more);
          return;
        }
      }
    };
    const settle = () => {
      const r = parse();
      if (r) {
        socket.destroy();
        resolve(r);
      }
      return r;
    };
    socket.on('data', (d) => {
      answered = true;
      received.push(d);
      settle();
    });
    socket.on('error', (e) => settle() ?? reject(e));
    socket.on('close', () => settle() ?? reject(new Error('closed without an answer')));
    socket.on('connect', () => {
      socket.write(head);
      more();
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Tokens for the Authorization header

/** A token like the app's own (claims and options may override any part of it). */
function signed(claims: object, key = TEST_JWT_SECRET, options: jwt.SignOptions = {}): string {
  const now = Math.floor(Date.now() / 1000);
  return jwt.sign({ role: 'client', iat: now, exp: now + 600, ...claims }, key, {
    algorithm: 'HS256',
    issuer: 'session-video-api',
    audience: 'session-video-clients',
    ...options,
  });
}

function badAuthorizations(user: TestUser): Array<[string, string | undefined]> {
  const now = Math.floor(Date.now() / 1000);
  const [header, payload] = user.token.split('.');
  const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${payload}.`;
  return [
    ['no Authorization', undefined],
    ['an empty Authorization', ''],
    ['the scheme alone', 'Bearer'],
    ['the scheme and a blank', 'Bearer '],
    ['Basic credentials', `Basic ${Buffer.from(`${TEST_ADMIN.email}:x`).toString('base64')}`],
    ['a token without a scheme', user.token],
    ['another scheme', `Token ${user.token}`],
    ['garbage', 'Bearer garbage'],
    ['three dots', 'Bearer a.b.c'],
    ['a tampered signature', `Bearer ${user.token.slice(0, -4)}AAAA`],
    ['no signature', `Bearer ${header}.${payload}.`],
    ['alg none', `Bearer ${none}`],
    [
      'a foreign key',
      `Bearer ${signed({ sub: user.id }, 'another-secret-that-is-long-enough-!!')}`,
    ],
    [
      'an expired token',
      `Bearer ${signed({ sub: user.id, iat: now - 700, exp: now - 10 }, TEST_JWT_SECRET)}`,
    ],
    ['a wrong issuer', `Bearer ${signed({ sub: user.id }, TEST_JWT_SECRET, { issuer: 'evil' })}`],
    ['a wrong audience', `Bearer ${signed({ sub: user.id }, TEST_JWT_SECRET, { audience: 'x' })}`],
    ['a subject that is no UUID', `Bearer ${signed({ sub: "1' OR '1'='1" })}`],
    ['an unknown role', `Bearer ${signed({ sub: user.id, role: 'superuser' })}`],
    ['HS512', `Bearer ${signed({ sub: user.id }, TEST_JWT_SECRET, { algorithm: 'HS512' })}`],
    ['an 8k token', `Bearer ${'x'.repeat(8000)}`],
    ['latin-1 bytes', 'Bearer \u00e9\u00e9\u00e9'],
  ];
}

// ---------------------------------------------------------------------------------------------

describe('schema-driven input fuzzing', () => {
  let w: World;
  let doc: any;
  let ops: Operation[];
  const tally: Tally = { requests: 0, accepted: new Map() };
  /** Row counts right before the walk. */
  let before: Record<string, number>;

  const count = async (table: string): Promise<number> =>
    Number((await w.t.dataSource.query(`SELECT count(*)::int AS n FROM ${table}`))[0].n);
  const TABLES = [
    'users',
    'sessions',
    'session_status_changes',
    'refresh_tokens',
    'webhook_endpoints',
  ];

  beforeAll(async () => {
    const t = await startTestApp();
    // Two parties, each with a Confirmed session that starts now: the HTTP walk may cancel or
    // start its own, the WebSocket walk keeps a room open in the other.
    const [party, wsParty] = await Promise.all([createParty(t), createParty(t)]);
    const [{ session: httpSession }, { session: wsSession }] = await Promise.all([
      confirmedSession(t, party),
      confirmedSession(t, wsParty),
    ]);
    const login = await t.api
      .post('/api/auth/login')
      .send({ email: party.client.email, password: PASSWORD });
    expect(login.status).toBe(200);
    w = {
      t,
      party,
      wsParty,
      httpSession,
      wsSession,
      refreshToken: login.body.refreshToken,
      users: [party.client, party.psychologist, party.admin],
      missingWebhookId: randomUUID(),
    };
    const res = await t.api.get('/api/docs-json');
    expect(res.status).toBe(200);
    doc = res.body;
    ops = operationsOf(doc);
    before = Object.fromEntries(await Promise.all(TABLES.map(async (n) => [n, await count(n)])));
  });
  afterAll(async () => {
    await w?.t.close();
  });

  describe('HTTP: every operation of /api/docs-json', () => {
    it('walks a document that lists the known operations', () => {
      const labels = ops.map((o) => o.label);
      expect(labels.length).toBeGreaterThanOrEqual(15);
      expect(labels).toEqual(
        expect.arrayContaining([
          'POST /api/auth/register',
          'POST /api/auth/login',
          'GET /api/auth/me',
          'POST /api/sessions',
          'GET /api/sessions',
          'GET /api/sessions/{id}',
          'POST /api/sessions/{id}/payment',
          'POST /api/sessions/{id}/cancel',
          'POST /api/video-calls/start/{sessionId}',
          'POST /api/video-calls/end/{sessionId}',
          'GET /api/video-calls/session/{sessionId}',
        ]),
      );
      // The walk below must have something to chew on in each category.
      expect(ops.filter((o) => o.pathParams.length > 0).length).toBeGreaterThanOrEqual(5);
      expect(ops.filter((o) => o.queryParams.length > 0).length).toBeGreaterThanOrEqual(1);
      expect(ops.filter((o) => o.body?.properties).length).toBeGreaterThanOrEqual(5);
      expect(ops.filter((o) => o.secured).length).toBeGreaterThanOrEqual(10);
    });

    /** A request that is valid except for what the caller changes. */
    function baseProbe(op: Operation, label: string, expected: Expected): HttpProbe {
      const values = Object.fromEntries(
        op.pathParams.map((p) => [p.name, validPathValue(w, op, p)]),
      );
      const headers: Record<string, string> = {};
      if (op.secured) {
        headers.authorization = callerOf(w, op).auth;
      }
      if (op.body) {
        headers['content-type'] = 'application/json';
      }
      return {
        label,
        method: op.method,
        url: fillPath(op.template, values),
        headers,
        body: op.body ? JSON.stringify(validBody(w, op.body)) : undefined,
        expected,
      };
    }

    it('path parameters: non-UUIDs are 400, unknown UUIDs 404', async () => {
      const withParams = ops.filter((o) => o.pathParams.length > 0);
      const segments: Array<[string, string, Expected]> = [
        ['not a UUID', 'not-a-uuid', INVALID],
        ['a number', '123', INVALID],
        ['a negative number', '-1', INVALID],
        ['zero', '0', INVALID],
        ['a float', '1.5', INVALID],
        ['"null"', 'null', INVALID],
        ['"undefined"', 'undefined', INVALID],
        ['a NUL', '%00', INVALID],
        ['a UUID and a NUL', `${randomUUID()}%00`, INVALID],
        ['a UUID without dashes', randomUUID().replace(/-/g, ''), INVALID],
        ['a UUID in braces', `%7B${randomUUID()}%7D`, INVALID],
        ['a UUID and more', `${randomUUID()}x`, INVALID],
        ['SQL', encodeURIComponent("' OR '1'='1"), INVALID],
        ['SQL with a statement', encodeURIComponent('1; DROP TABLE sessions; --'), INVALID],
        ['unicode', encodeURIComponent('üñï©ødé 🙂 日本語'), INVALID],
        ['markup', encodeURIComponent('<script>alert(1)</script>'), INVALID],
        ['an encoded slash', '%2F', INVALID],
        ['a traversal', encodeURIComponent('../../etc/passwd'), INVALID],
        ['dots', '..', INVALID],
        ['a blank', '%20', INVALID],
        ['a plus', '+', INVALID],
        ['a bad percent-escape', '%zz', INVALID],
        ['a lone percent', '%', INVALID],
        ['101 characters', 'x'.repeat(101), INVALID],
        ['1000 characters', 'x'.repeat(1000), INVALID],
        ['10000 characters', 'y'.repeat(10_000), INVALID],
        ['the nil UUID', '00000000-0000-0000-0000-000000000000', exactly(404, 'NOT_FOUND')],
        ['the max UUID', 'ffffffff-ffff-ffff-ffff-ffffffffffff', exactly(404, 'NOT_FOUND')],
        ['an unknown UUID', randomUUID(), exactly(404, 'NOT_FOUND')],
        // Nothing in the segment: either no route matches (404) or the id is empty (400).
        [
          'empty',
          '',
          [
            [400, 'VALIDATION_FAILED'],
            [404, 'NOT_FOUND'],
          ],
        ],
      ];
      const problems: string[] = [];
      for (const op of withParams) {
        for (const param of op.pathParams) {
          const probes = segments.map(([label, raw, expected]) => {
            const p = baseProbe(op, `${param.name}: ${label}`, expected);
            const values = Object.fromEntries(
              op.pathParams.map((q) => [q.name, q === param ? raw : validPathValue(w, op, q)]),
            );
            return { ...p, url: fillPath(op.template, values) };
          });
          // The valid id in upper case is still the same UUID: it may be served.
          const upper = baseProbe(op, `${param.name}: upper case`, 'any');
          upper.url = fillPath(op.template, {
            [param.name]: validPathValue(w, op, param).toUpperCase(),
          });
          problems.push(...(await runProbes(w.t, tally, op, [...probes, upper])));

          await fc.assert(
            fc.asyncProperty(
              fc
                .string({ unit: 'binary', minLength: 1, maxLength: 60 })
                .filter((s) => !UUID_RE.test(s)),
              fc.constantFrom(...w.users),
              async (value, user) => {
                // Whatever the caller's role: a malformed id is refused before roles matter.
                const p = baseProbe(op, `${param.name} = ${JSON.stringify(value)}`, INVALID);
                if (op.secured) {
                  p.headers.authorization = user.auth;
                }
                p.url = fillPath(op.template, { [param.name]: encodeURIComponent(value) });
                const problem = await runProbe(w.t, tally, op, p);
                if (problem) {
                  throw new Error(problem);
                }
              },
            ),
            fcOptions,
          );
          await fc.assert(
            fc.asyncProperty(fc.uuid(), fc.constantFrom(...w.users), async (id, user) => {
              const p = baseProbe(op, `${param.name} = unknown ${id}`, unknownIdAnswer(op, user));
              if (op.secured) {
                p.headers.authorization = user.auth;
              }
              p.url = fillPath(op.template, { [param.name]: id });
              const problem = await runProbe(w.t, tally, op, p);
              if (problem) {
                throw new Error(problem);
              }
            }),
            fcOptions,
          );
        }
      }
      expect(problems).toEqual([]);
    });

    it('query parameters: wrong types, out of range, repeated and unknown ones are 400', async () => {
      const problems: string[] = [];
      for (const op of ops) {
        const base = baseProbe(op, '', 'any');
        const withQuery = (query: string, label: string, expected: Expected): HttpProbe => ({
          ...base,
          label,
          url: `${base.url}?${query}`,
          expected,
        });
        const known = new Set(op.queryParams.map((p) => p.name));
        // An operation that declares no query parameters ignores the query string (Nest binds
        // none); one that declares some refuses any it does not know.
        const unknownExpected: Expected = known.size > 0 ? INVALID : 'any';
        const probes: HttpProbe[] = [
          withQuery('foo=1', 'an unknown parameter', unknownExpected),
          withQuery('__proto__=1', '__proto__', unknownExpected),
          withQuery('constructor=x', 'constructor', unknownExpected),
          withQuery('valueOf=1', 'valueOf', unknownExpected),
          withQuery('hasOwnProperty=x', 'hasOwnProperty', unknownExpected),
          withQuery(`${'k'.repeat(2000)}=v`, 'a 2000-character name', unknownExpected),
          withQuery('a[b]=1&a[c]=2', 'bracket syntax', unknownExpected),
        ];
        for (const param of op.queryParams) {
          const s = param.schema ?? {};
          const q = (raw: string) => `${encodeURIComponent(param.name)}=${raw}`;
          const bad: Array<[string, string]> = [
            ['repeated', `${q('1')}&${q('2')}`],
            ['empty', q('')],
            ['a blank', q('%20')],
            ['a NUL', q('%00')],
            ['10k characters', q('x'.repeat(10_000))],
            ['bracketed', `${encodeURIComponent(param.name)}%5B%5D=1`],
            ['SQL', q(encodeURIComponent("1' OR '1'='1"))],
            ['JSON', q(encodeURIComponent('{"$gt":0}'))],
          ];
          const type = typeOf(s);
          if (type === 'number' || type === 'integer') {
            bad.push(
              ['a word', q('abc')],
              ['negative', q('-1')],
              ['zero', q('0')],
              ['a fraction', q('1.5')],
              ['NaN', q('NaN')],
              ['Infinity', q('Infinity')],
              ['overflowing', q('1e309')],
              ['400 digits', q('9'.repeat(400))],
              ['a billion', q('1000000000')],
              ['true', q('true')],
            );
            if (s.maximum !== undefined) {
              bad.push(['above maximum', q(String(s.maximum + 1))]);
            }
          }
          if (s.enum) {
            bad.push(
              ['outside the enum', q('Nope')],
              [
                'an enum member in lower case',
                q(encodeURIComponent(String(s.enum[0]).toLowerCase())),
              ],
            );
          }
          probes.push(
            ...bad.map(([label, query]) => withQuery(query, `${param.name}: ${label}`, INVALID)),
          );
          if (type === 'number' || type === 'integer') {
            // Number() reads these as integers in range: lenient, but not wrong.
            for (const [label, raw] of [
              ['hex', '0x10'],
              ['an exponent', '1e1'],
              ['a plus', '%2B5'],
            ]) {
              probes.push(withQuery(q(raw), `${param.name}: ${label}`, 'any'));
            }
          }
        }
        problems.push(...(await runProbes(w.t, tally, op, probes)));

        await fc.assert(
          fc.asyncProperty(
            fc.dictionary(
              fc.string({ minLength: 1, maxLength: 12 }).filter((k) => !known.has(k)),
              fc.string({ unit: 'binary', maxLength: 20 }),
              { minKeys: 1, maxKeys: 3 },
            ),
            async (extra) => {
              const query = new URLSearchParams(extra).toString();
              const problem = await runProbe(
                w.t,
                tally,
                op,
                withQuery(query, `unknown ${query}`, unknownExpected),
              );
              if (problem) {
                throw new Error(problem);
              }
            },
          ),
          fcOptions,
        );
        if (op.queryParams.length > 0) {
          const values = Object.fromEntries(
            op.queryParams.map((p) => [
              p.name,
              fc.oneof(
                arbitraryOf(w, p.name, p.schema ?? {}).map(String),
                fc.string({ unit: 'binary', maxLength: 20 }),
              ),
            ]),
          );
          await fc.assert(
            fc.asyncProperty(fc.record(values, { requiredKeys: [] }), async (query) => {
              const qs = new URLSearchParams(query as Record<string, string>).toString();
              const problem = await runProbe(w.t, tally, op, withQuery(qs, qs, 'any'));
              if (problem) {
                throw new Error(problem);
              }
            }),
            fcOptions,
          );
        }
      }
      expect(problems).toEqual([]);
    });

    it('bodies: missing, wrongly typed, oversized, unknown and non-object input is 400; other media types 415', async () => {
      const problems: string[] = [];
      const withBody = ops.filter((o) => o.body);
      for (const op of withBody) {
        const schema = op.body!;
        const required = new Set(schema.required ?? []);
        const probe = (label: string, body: string | Buffer | undefined, expected: Expected) => {
          const p = baseProbe(op, label, expected);
          return { ...p, body };
        };
        const valid = () => validBody(w, schema);
        const json = (label: string, value: unknown, expected: Expected) =>
          probe(label, JSON.stringify(value), expected);
        const probes: HttpProbe[] = [];
        for (const [name, prop] of Object.entries(schema.properties ?? {})) {
          for (const m of mutationsOf(prop, required.has(name))) {
            probes.push(
              json(
                `${name}: ${m.label}`,
                { ...valid(), [name]: m.value },
                m.sure ? INVALID : 'any',
              ),
            );
          }
          probes.push(
            probe(
              `${name}: nested 5000 deep`,
              withRawProperty(omit(valid(), name), name, deepArray(5000)),
              INVALID,
            ),
          );
          if (required.has(name)) {
            probes.push(json(`${name} missing`, omit(valid(), name), INVALID));
          }
        }
        probes.push(
          json('an unknown property', { ...valid(), unknown: 1 }, INVALID),
          json('a role smuggled in', { ...valid(), role: 'admin', isAdmin: true }, INVALID),
          probe(
            'an unknown property 10k deep (arrays)',
            withRawProperty(valid(), 'deep', deepArray(10_000)),
            INVALID,
          ),
          probe(
            'an unknown property 10k deep (objects)',
            withRawProperty(valid(), 'deep', deepObject(10_000)),
            INVALID,
          ),
          probe('__proto__', withRawProperty(valid(), '__proto__', '{"role":"admin"}'), INVALID),
          probe('valueOf', withRawProperty(valid(), 'valueOf', '1'), INVALID),
          probe('toString', withRawProperty(valid(), 'toString', '"x"'), INVALID),
          probe(
            'constructor.prototype',
            withRawProperty(valid(), 'constructor', '{"prototype":{"x":1}}'),
            INVALID,
          ),
          json(
            'a 900 KiB unknown property',
            { ...valid(), filler: 'z'.repeat(900 * 1024) },
            INVALID,
          ),
          json('an empty object', {}, required.size > 0 ? INVALID : 'any'),
          // No body at all (and no content type) counts as an empty one.
          (() => {
            const p = probe('no body', undefined, required.size > 0 ? INVALID : 'any');
            delete p.headers['content-type'];
            return p;
          })(),
          probe('an array', '[]', INVALID),
          json('the valid body in an array', [valid()], INVALID),
          probe('a string', '"x"', INVALID),
          probe('a number', '1', INVALID),
          probe('true', 'true', INVALID),
          probe('null', 'null', INVALID),
          probe('an array 10k deep', deepArray(10_000), INVALID),
          probe('an empty body', '', INVALID),
          probe('truncated JSON', JSON.stringify(valid()).slice(0, -2), INVALID),
          probe('single quotes', "{'a': 1}", INVALID),
          probe('trailing garbage', `${JSON.stringify(valid())}garbage`, INVALID),
          probe('NaN', '{"a": NaN}', INVALID),
          probe('a bare word', 'undefined', INVALID),
          probe('a NUL byte', '\u0000', INVALID),
          probe(
            'invalid UTF-8',
            Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]),
            INVALID,
          ),
        );
        for (const [type, text] of [
          ['text/plain', JSON.stringify(valid())],
          ['application/x-www-form-urlencoded', 'a=1&b=2'],
          ['application/xml', '<a/>'],
          [
            'multipart/form-data; boundary=x',
            '--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--x--',
          ],
          ['application/octet-stream', 'xx'],
          ['application/jsonx', JSON.stringify(valid())],
          ['json', JSON.stringify(valid())],
        ] as const) {
          const p = probe(`content-type ${type}`, text, exactly(415, 'UNSUPPORTED_MEDIA_TYPE'));
          p.headers['content-type'] = type;
          probes.push(p);
        }
        const noType = probe(
          'a body without content-type',
          Buffer.from(JSON.stringify(valid())),
          exactly(415, 'UNSUPPORTED_MEDIA_TYPE'),
        );
        delete noType.headers['content-type'];
        probes.push(noType);
        problems.push(...(await runProbes(w.t, tally, op, probes)));

        // Bodies generated from the schema: may be valid, must never be a 5xx.
        await fc.assert(
          fc.asyncProperty(
            bodyArbitrary(w, schema),
            fc.constantFrom(...w.users),
            async (body, user) => {
              const p = json(JSON.stringify(body).slice(0, 200), body, 'any');
              if (op.secured) {
                p.headers.authorization = user.auth;
              }
              const problem = await runProbe(w.t, tally, op, p);
              if (problem) {
                throw new Error(problem);
              }
            },
          ),
          fcOptions,
        );
        // One property of a valid body given a value of another type: always 400, whoever asks.
        const props = Object.entries(schema.properties ?? {});
        await fc.assert(
          fc.asyncProperty(
            fc
              .constantFrom(...props)
              .chain(([name, s]) =>
                wrongTypeArbitrary(s, required.has(name)).map((v) => [name, v] as const),
              ),
            fc.constantFrom(...w.users),
            async ([name, value], user) => {
              const p = json(
                `${name} = ${JSON.stringify(value)}`,
                { ...valid(), [name]: value },
                INVALID,
              );
              if (op.secured) {
                p.headers.authorization = user.auth;
              }
              const problem = await runProbe(w.t, tally, op, p);
              if (problem) {
                throw new Error(problem);
              }
            },
          ),
          fcOptions,
        );
        // Unknown properties beside a valid body: always 400.
        await fc.assert(
          fc.asyncProperty(
            fc
              .string({ unit: 'binary', maxLength: 12 })
              .filter((k) => !(k in (schema.properties ?? {}))),
            fc.jsonValue({ maxDepth: 3 }),
            async (key, value) => {
              const text = withRawProperty(valid(), key, JSON.stringify(value) ?? 'null');
              const problem = await runProbe(
                w.t,
                tally,
                op,
                probe(`unknown ${JSON.stringify(key)}`, text, INVALID),
              );
              if (problem) {
                throw new Error(problem);
              }
            },
          ),
          fcOptions,
        );
      }

      // Operations without a body ignore one (nothing binds it), but must not fail on it.
      for (const op of ops.filter((o) => !o.body && o.method !== 'get')) {
        const junk: Array<[string, string, string]> = [
          ['a JSON object', 'application/json', '{"status":"Completed","x":1}'],
          ['invalid JSON', 'application/json', '{"'],
          ['an array 10k deep', 'application/json', deepArray(10_000)],
          ['text', 'text/plain', 'hello'],
        ];
        problems.push(
          ...(await runProbes(
            w.t,
            tally,
            op,
            junk.map(([label, type, body]) => {
              const p = baseProbe(op, label, 'any');
              p.headers['content-type'] = type;
              return { ...p, body };
            }),
          )),
        );
      }
      expect(problems).toEqual([]);
    });

    it('a body just over 1 MiB is 413 PAYLOAD_TOO_LARGE on every operation that takes one', async () => {
      const problems: string[] = [];
      for (const op of ops.filter((o) => o.body)) {
        const p = baseProbe(op, '1 MiB + 1', exactly(413, 'PAYLOAD_TOO_LARGE'));
        const head = [
          `${op.method.toUpperCase()} ${p.url} HTTP/1.1`,
          `Host: ${new URL(w.t.url).host}`,
          ...Object.entries(p.headers).map(([k, v]) => `${k}: ${v}`),
          `Content-Length: ${MIB + 1}`,
          '',
          '',
        ].join('\r\n');
        tally.requests++;
        const res = await rawStatus(w.t.url, head, MIB + 1);
        const problem = httpProblem(
          { status: res.status, body: JSON.parse(res.body), text: res.body },
          p.expected,
        );
        if (problem) {
          problems.push(`${op.label}: ${problem}`);
        }
      }
      expect(problems).toEqual([]);
    });

    it('authorization: a missing, malformed or foreign bearer token is 401 before anything else', async () => {
      const problems: string[] = [];
      for (const op of ops) {
        const probes = badAuthorizations(callerOf(w, op)).map(([label, value]) => {
          // On a public operation the header is not read: whatever it says, no 5xx.
          const p = baseProbe(op, label, op.secured ? UNAUTHENTICATED : 'any');
          delete p.headers.authorization;
          if (value !== undefined) {
            p.headers.authorization = value;
          }
          return p;
        });
        problems.push(...(await runProbes(w.t, tally, op, probes)));
        if (!op.secured) {
          continue;
        }
        const b64 = fc.string({
          unit: fc.constantFrom(
            ...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_',
          ),
          maxLength: 40,
        });
        await fc.assert(
          fc.asyncProperty(
            fc.oneof(
              fc.string({ maxLength: 80 }),
              fc.string({ maxLength: 80 }).map((s) => `Bearer ${s}`),
              fc.tuple(b64, b64, b64).map((parts) => `Bearer ${parts.join('.')}`),
            ),
            async (authorization) => {
              const p = baseProbe(
                op,
                `Authorization: ${JSON.stringify(authorization)}`,
                UNAUTHENTICATED,
              );
              p.headers.authorization = authorization;
              const problem = await runProbe(w.t, tally, op, p);
              if (problem) {
                throw new Error(problem);
              }
            },
          ),
          fcOptions,
        );
      }
      expect(problems).toEqual([]);
    });

    it('unknown routes under the walked paths are 404 NOT_FOUND', async () => {
      const problems: string[] = [];
      for (const op of ops) {
        const p = baseProbe(op, 'an unknown sub-path', exactly(404, 'NOT_FOUND'));
        // Two segments more: no template of the API has a parameter that could take them.
        p.url = `${p.url}/nope/nope`;
        const problem = await runProbe(w.t, tally, op, p);
        if (problem) {
          problems.push(problem);
        }
      }
      expect(problems).toEqual([]);
    });
  });

  describe('WebSocket: every receive operation of /api/asyncapi.json', () => {
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
      const s = await connectAs(w.t.url, token);
      sockets.push(s);
      return s;
    };
    const join = async (s: Socket) => {
      const ack = await request(s, 'join-room', { sessionId: w.wsSession.id });
      expect(ack).toMatchObject({ ok: true });
    };

    beforeAll(async () => {
      const res = await w.t.api.get('/api/asyncapi.json');
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
      clientSocket = await open(w.wsParty.client.token);
      psychologistSocket = await open(w.wsParty.psychologist.token);
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
                return [name, w.wsSession.id];
              case 'token':
                return [name, w.wsParty.client.token];
              case 'type':
                return [name, 'offer'];
              case 'data':
                return [name, { type: 'offer', sdp: 'v=0' }];
              default:
                return [name, validProperty(w, name, s)];
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
            JSON.parse(`{"__proto__": {"x": 1}, "sessionId": "${w.wsSession.id}"}`),
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
            fc.oneof(fc.anything({ maxDepth: 3 }), bodyArbitrary(w, spec.payload)),
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
      const victim = await open(w.wsParty.client.token);
      const dropped = new Promise<string>((resolve) =>
        victim.once('disconnect', (reason) => resolve(reason)),
      );
      messages++;
      victim.emit('signal', {
        sessionId: w.wsSession.id,
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
      const again = await open(w.wsParty.client.token);
      expect(await request(again, 'join-room', { sessionId: w.wsSession.id })).toMatchObject({
        ok: true,
      });
    });

    it('refuses malformed handshake auth with connect_error UNAUTHENTICATED', async () => {
      const presenceBefore = await count('room_presence');
      const tokens: Array<[string, unknown]> = [
        ['a number', 42],
        ['an object', { token: w.party.client.token }],
        ['an array', [w.party.client.token]],
        ['null', null],
        ['true', true],
        ['an empty string', ''],
        ['a huge string', 'x'.repeat(100_000)],
        ['a bearer header value', `Bearer ${w.party.client.token}`],
        ['SQL', "' OR 1=1 --"],
        [
          'alg none',
          `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${w.party.client.token.split('.')[1]}.`,
        ],
        [
          'an expired token',
          signed({ sub: w.party.client.id, exp: Math.floor(Date.now() / 1000) - 10 }),
        ],
      ];
      const problems: string[] = [];
      for (const [label, token] of tokens) {
        const socket = io(`${w.t.url}/video-calls`, {
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
      expect(await count('room_presence')).toBe(presenceBefore);
    });

    it('left nothing open: every socket gone means no open presence row', async () => {
      sockets.forEach((s) => s.disconnect());
      await eventually(async () => {
        const rows = await w.t.dataSource.query(
          `SELECT count(*)::int AS n FROM room_presence WHERE left_at IS NULL`,
        );
        return rows[0].n === 0;
      });
      process.stdout.write(`WebSocket fuzzing: ${events.length} events, ${messages} messages\n`);
    });
  });

  describe('afterwards', () => {
    it('the process is healthy and still serves normal requests', async () => {
      expect((await w.t.api.get('/api/health/ready')).status).toBe(200);
      const me = await w.t.api.get('/api/auth/me').set('Authorization', w.party.client.auth);
      expect(me.status).toBe(200);
      expect(me.body.id).toBe(w.party.client.id);
      const list = await w.t.api
        .get('/api/sessions?limit=100')
        .set('Authorization', w.party.admin.auth);
      expect(list.status).toBe(200);
    });

    it('nothing was half-written: the rows are exactly what the accepted requests made', async () => {
      const accepted = (id: string) => tally.accepted.get(id) ?? 0;
      const after = Object.fromEntries(
        await Promise.all(TABLES.map(async (n) => [n, await count(n)])),
      );
      expect(after).toEqual({
        ...after,
        users: before.users + accepted('register'),
        sessions: before.sessions + accepted('bookSession'),
        refresh_tokens:
          before.refresh_tokens +
          accepted('register') +
          accepted('login') +
          accepted('refreshToken'),
        webhook_endpoints:
          before.webhook_endpoints + accepted('createWebhook') - accepted('deleteWebhook'),
      });
      // No one became an admin.
      expect(await w.t.dataSource.query(`SELECT email FROM users WHERE role = 'admin'`)).toEqual([
        { email: TEST_ADMIN.email },
      ]);
      // Every session's history is an unbroken chain from Pending to its current status.
      const sessions: Array<{ id: string; status: string }> = await w.t.dataSource.query(
        `SELECT id, status FROM sessions`,
      );
      for (const s of sessions) {
        const history: Array<{ from_status: string; to_status: string }> =
          await w.t.dataSource.query(
            `SELECT from_status, to_status FROM session_status_changes WHERE session_id = $1 ORDER BY id`,
            [s.id],
          );
        let status = 'Pending';
        for (const h of history) {
          expect({ session: s.id, from: h.from_status }).toEqual({ session: s.id, from: status });
          status = h.to_status;
        }
        expect({ session: s.id, status: s.status }).toEqual({ session: s.id, status });
      }
      process.stdout.write(
        `HTTP fuzzing: ${ops.length} operations, ${tally.requests} requests, accepted ${JSON.stringify(Object.fromEntries(tally.accepted))}\n`,
      );
    });
  });
});

function omit(o: Record<string, unknown>, key: string): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([k]) => k !== key));
}

/** A value nested `depth` arrays deep. */
function nest(depth: number): unknown {
  let v: unknown = 'leaf';
  for (let i = 0; i < depth; i++) {
    v = [v];
  }
  return v;
}
