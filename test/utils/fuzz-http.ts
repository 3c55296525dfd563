import { connect as tcpConnect } from 'node:net';
import type { Response } from 'supertest';
import type { TestUser } from '../factories/users.js';
import {
  exactly,
  httpProblem,
  resolve,
  resolveObject,
  type Expected,
  type Schema,
} from './fuzz.js';
import { Fuzzing, signed, useFuzzWorld, validBody, type World } from './fuzz-world.js';
import { TEST_ADMIN, TEST_JWT_SECRET, type TestApp } from './test-app.js';

/*
 * Schema-driven input fuzzing of the HTTP API (PRODUCT.md sections 4 and 5: "bad input gets a
 * clear 4xx with a code; nothing is half-written"): every operation of `/api/docs-json` is walked
 * with malformed, missing, oversized and wrongly typed input, a deterministic list of classic
 * nasties plus fast-check values generated from the schemas (test/utils/fuzz.ts; replay a failure
 * with FUZZ_SEED=<seed>, FUZZ_RUNS=<n> changes the number of generated cases).
 *
 * Every answer must be a 2xx (only where the input may be valid) or a 4xx with the contract's error
 * body and a known code; never a 5xx or INTERNAL. Where the input is invalid for sure, the exact
 * answer is demanded, in the contract's order of checks: authentication (401) first, then
 * well-formed ids and bodies (400), then existence (404) - so an invalid body sent with a valid
 * token of the "wrong" role is still a 400, not a 403.
 *
 * Here: the operations of the OpenAPI document, and the probes sent to them.
 */

export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

export interface Parameter {
  name: string;
  in: string;
  required?: boolean;
  schema?: Schema;
}

export interface Operation {
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

export function operationsOf(doc: any): Operation[] {
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

/** Admin-only surfaces whose ids are not session ids: they check the role before existence. */
const ADMIN_SURFACE = /^\/api\/(webhooks|service-keys)(\/|$)/;

export function validPathValue(w: World, op: Operation, param: Parameter): string {
  if (ADMIN_SURFACE.test(op.template)) {
    return w.missingWebhookId;
  }
  if (op.template.startsWith('/api/psychologists/')) {
    return w.party.psychologist.id;
  }
  if (param.schema?.format === 'uuid') {
    return w.httpSession.id;
  }
  throw new Error(`no valid value known for ${op.label} path parameter ${param.name}`);
}

/** Valid values of required query parameters, by name (a slot listing's range). */
function validQueryValue(name: string): string {
  const day = Math.ceil(Date.now() / 86_400_000) * 86_400_000;
  switch (name) {
    case 'from':
      return new Date(day + 86_400_000).toISOString();
    case 'to':
      return new Date(day + 2 * 86_400_000).toISOString();
    default:
      throw new Error(`no valid value known for the query parameter ${name}`);
  }
}

/** The operation's path with these path values, and its required query parameters, valid. */
export function urlOf(op: Operation, values: Record<string, string>): string {
  const required = op.queryParams.filter((p) => p.required);
  const query = new URLSearchParams(required.map((p) => [p.name, validQueryValue(p.name)]));
  return fillPath(op.template, values) + (required.length > 0 ? `?${query}` : '');
}

/** `url` with more query parameters (`query`, already encoded). */
export function withMoreQuery(url: string, query: string): string {
  return `${url}${url.includes('?') ? '&' : '?'}${query}`;
}

/**
 * The answer to an unknown (well-formed) id: 404, since existence is checked before role and
 * membership. Except on the webhook and service key routes, admin-only surfaces that check the
 * role first, so that a non-admin learns nothing about which ids exist: 403 FORBIDDEN for them.
 */
export function unknownIdAnswer(op: Operation, user: TestUser): Expected {
  if (ADMIN_SURFACE.test(op.template) && user.role !== 'admin') {
    return exactly(403, 'FORBIDDEN');
  }
  return exactly(404, 'NOT_FOUND');
}

/** Who calls an operation when the walk needs a valid token: the role it is meant for. */
export function callerOf(w: World, op: Operation): TestUser {
  if (/payment|webhooks|service-keys/.test(op.template)) {
    return w.party.admin;
  }
  if (op.template.startsWith('/api/psychologists/me')) {
    return w.party.psychologist;
  }
  return w.party.client;
}

// ---------------------------------------------------------------------------------------------
// HTTP requests

export interface HttpProbe {
  label: string;
  method: Method;
  /** Path and query, already percent-encoded as they go on the wire. */
  url: string;
  headers: Record<string, string>;
  /** Raw body text; undefined sends none. */
  body?: string | Buffer;
  expected: Expected;
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

export function fillPath(template: string, values: Record<string, string>): string {
  return template.replace(/\{([^}]+)\}/g, (_, name: string) => values[name]);
}

/** Sends a request head and a body of `size` bytes, and stops writing once the server answers. */
export function rawStatus(
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

export function badAuthorizations(user: TestUser): Array<[string, string | undefined]> {
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

/** The HTTP walk of a spec: the operations of /api/docs-json, and probes counted in the tally. */
export class HttpFuzzing extends Fuzzing {
  ops!: Operation[];

  /** A request that is valid except for what the caller changes. */
  baseProbe(op: Operation, label: string, expected: Expected): HttpProbe {
    const values = Object.fromEntries(
      op.pathParams.map((p) => [p.name, validPathValue(this.w, op, p)]),
    );
    const headers: Record<string, string> = {};
    if (op.secured) {
      headers.authorization = callerOf(this.w, op).auth;
    }
    if (op.body) {
      headers['content-type'] = 'application/json';
    }
    return {
      label,
      method: op.method,
      url: urlOf(op, values),
      headers,
      body: op.body ? JSON.stringify(validBody(this.w, op.body)) : undefined,
      expected,
    };
  }

  /** Sends one probe; what is wrong with its answer, or undefined. */
  async runProbe(op: Operation, p: HttpProbe): Promise<string | undefined> {
    this.tally.requests++;
    const res = await send(this.w.t, p);
    if (res.status >= 200 && res.status < 300) {
      this.tally.accepted.set(op.operationId, (this.tally.accepted.get(op.operationId) ?? 0) + 1);
    }
    const problem = httpProblem(res, p.expected);
    return problem && `${p.method.toUpperCase()} ${p.url.slice(0, 120)} [${p.label}]: ${problem}`;
  }

  /** Runs probes one after another and returns every problem (not only the first). */
  async runProbes(op: Operation, probes: HttpProbe[]): Promise<string[]> {
    const problems: string[] = [];
    for (const p of probes) {
      const problem = await this.runProbe(op, p);
      if (problem) {
        problems.push(problem);
      }
    }
    return problems;
  }

  /** One probe of a fast-check property: a wrong answer fails the property. */
  async mustPass(op: Operation, p: HttpProbe): Promise<void> {
    const problem = await this.runProbe(op, p);
    if (problem) {
      throw new Error(problem);
    }
  }
}

/** An HTTP walk over the operations of /api/docs-json, with its app started before the spec. */
export function useHttpFuzzing(): HttpFuzzing {
  return useFuzzWorld(new HttpFuzzing(), async (fuzz) => {
    const res = await fuzz.w.t.api.get('/api/docs-json');
    expect(res.status).toBe(200);
    fuzz.ops = operationsOf(res.body);
  });
}
