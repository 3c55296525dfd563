import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { ERROR_CODES, type ErrorCode } from '../../src/common/errors/error-codes.js';
import type { World } from './fuzz-world.js';

/*
 * What the input-fuzzing specs share: the schemas of the API documents, the values that break
 * them, fast-check arbitraries built from them, and what a correct answer looks like.
 *
 * Reproduce a fast-check failure with the seed it prints: FUZZ_SEED=<seed> (and FUZZ_RUNS=<n> to
 * change the number of generated cases per property).
 */

export const RUNS = Number(process.env.FUZZ_RUNS ?? 15);
export const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
export const fcOptions = { numRuns: RUNS, seed: SEED, endOnFailure: true };

export const KNOWN_CODES = Object.keys(ERROR_CODES) as ErrorCode[];
export const MIB = 1024 * 1024;
export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// ---------------------------------------------------------------------------------------------
// Schemas

export interface Schema {
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
export function resolve(doc: unknown, schema: Schema | undefined): Schema | undefined {
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
export function resolveObject(doc: unknown, schema: Schema | undefined): Schema | undefined {
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

export function typeOf(s: Schema): string | undefined {
  const t = Array.isArray(s.type) ? s.type.find((x) => x !== 'null') : s.type;
  if (t) {
    return t;
  }
  if (s.enum?.every((v) => typeof v === 'string') || s.format) {
    return 'string';
  }
  return s.properties ? 'object' : undefined;
}

export function hasType(type: string | undefined, value: unknown): boolean {
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
export const EVERY_TYPE: Array<[string, unknown]> = [
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
export const ODD_STRINGS: Array<[string, string]> = [
  ['a NUL inside', 'nul\u0000inside'],
  ['a lone surrogate', 'half \ud800 a pair'],
  ['emoji and RTL override', '🙂‮evil🙂'],
  ['SQL', "x'); DROP TABLE users; --"],
  ['markup', '<script>alert(1)</script>'],
  ['only blanks', '   '],
  ['a format string', '%s%s%s%n'],
];

export interface Mutation {
  label: string;
  value: unknown;
  /** Certain to be refused by a correct server (400), or only possibly (any non-5xx). */
  sure: boolean;
}

/** Values for one property that a correct server must refuse, plus odd ones it may accept. */
export function mutationsOf(prop: Schema, required: boolean): Mutation[] {
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
export const deepArray = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
export const deepObject = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);

/** `base` as JSON text with one more property whose value is the given JSON text. */
export function withRawProperty(base: Record<string, unknown>, key: string, raw: string): string {
  const text = JSON.stringify(base);
  return `${text.slice(0, -1)}${text.length > 2 ? ',' : ''}${JSON.stringify(key)}:${raw}}`;
}

// ---------------------------------------------------------------------------------------------
// Answers

/** The answer demanded: exactly one of these `[status, code]`, or "any" 2xx / coded 4xx. */
export type Expected = Array<[number, ErrorCode]> | 'any';
export const exactly = (status: number, code: ErrorCode): Expected => [[status, code]];
export const INVALID = exactly(400, 'VALIDATION_FAILED');
export const UNAUTHENTICATED = exactly(401, 'UNAUTHENTICATED');

/** What is wrong with an HTTP answer, or undefined. */
export function httpProblem(
  res: { status: number; body: unknown; text?: string },
  expected: Expected,
) {
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
export function ackProblem(ack: unknown, expected: ErrorCode | 'any'): string | undefined {
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
// fast-check arbitraries from the schemas

export function arbitraryOf(w: World, name: string, s: Schema): fc.Arbitrary<unknown> {
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
export function bodyArbitrary(w: World, schema: Schema): fc.Arbitrary<Record<string, unknown>> {
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
export function wrongTypeArbitrary(s: Schema, required: boolean): fc.Arbitrary<unknown> {
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

export function omit(o: Record<string, unknown>, key: string): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([k]) => k !== key));
}

/** A value nested `depth` arrays deep. */
export function nest(depth: number): unknown {
  let v: unknown = 'leaf';
  for (let i = 0; i < depth; i++) {
    v = [v];
  }
  return v;
}
