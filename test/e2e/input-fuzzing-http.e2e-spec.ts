import fc from 'fast-check';
import { randomUUID } from 'node:crypto';
import {
  arbitraryOf,
  exactly,
  type Expected,
  fcOptions,
  INVALID,
  typeOf,
  UNAUTHENTICATED,
  UUID_RE,
} from '../utils/fuzz.js';
import {
  badAuthorizations,
  callerOf,
  urlOf,
  withMoreQuery,
  type HttpProbe,
  unknownIdAnswer,
  useHttpFuzzing,
  validPathValue,
} from '../utils/fuzz-http.js';
import { describeAfterwards } from '../utils/fuzz-world.js';

/**
 * Schema-driven input fuzzing of the HTTP API, path and query parameters, the Authorization header
 * and unknown routes: every operation of `/api/docs-json` with malformed, missing, oversized and
 * wrongly typed input (what is demanded of the answers, and how to replay a seed: test/utils/fuzz-
 * http.ts). The rest of the walk is in input-fuzzing-http-bodies (bodies).
 */
describe('input fuzzing, HTTP: every operation of /api/docs-json', () => {
  const fuzz = useHttpFuzzing();

  it('walks a document that lists the known operations', () => {
    const labels = fuzz.ops.map((o) => o.label);
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
        'POST /api/sessions/{id}/reschedule',
        'POST /api/video-calls/start/{sessionId}',
        'POST /api/video-calls/end/{sessionId}',
        'GET /api/video-calls/session/{sessionId}',
        'GET /api/psychologists',
        'PATCH /api/psychologists/me',
        'PUT /api/psychologists/me/availability',
        'GET /api/psychologists/{id}/availability',
        'GET /api/psychologists/{id}/slots',
      ]),
    );
    // The walk below must have something to chew on in each category.
    expect(fuzz.ops.filter((o) => o.pathParams.length > 0).length).toBeGreaterThanOrEqual(5);
    expect(fuzz.ops.filter((o) => o.queryParams.length > 0).length).toBeGreaterThanOrEqual(1);
    expect(fuzz.ops.filter((o) => o.body?.properties).length).toBeGreaterThanOrEqual(5);
    expect(fuzz.ops.filter((o) => o.secured).length).toBeGreaterThanOrEqual(10);
  });

  it('path parameters: non-UUIDs are 400, unknown UUIDs 404', async () => {
    const withParams = fuzz.ops.filter((o) => o.pathParams.length > 0);
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
          const p = fuzz.baseProbe(op, `${param.name}: ${label}`, expected);
          const values = Object.fromEntries(
            op.pathParams.map((q) => [q.name, q === param ? raw : validPathValue(fuzz.w, op, q)]),
          );
          return { ...p, url: urlOf(op, values) };
        });
        // The valid id in upper case is still the same UUID: it may be served.
        const upper = fuzz.baseProbe(op, `${param.name}: upper case`, 'any');
        upper.url = urlOf(op, {
          [param.name]: validPathValue(fuzz.w, op, param).toUpperCase(),
        });
        problems.push(...(await fuzz.runProbes(op, [...probes, upper])));

        await fc.assert(
          fc.asyncProperty(
            fc
              .string({ unit: 'binary', minLength: 1, maxLength: 60 })
              .filter((s) => !UUID_RE.test(s)),
            fc.constantFrom(...fuzz.w.users),
            async (value, user) => {
              // Whatever the caller's role: a malformed id is refused before roles matter.
              const p = fuzz.baseProbe(op, `${param.name} = ${JSON.stringify(value)}`, INVALID);
              if (op.secured) {
                p.headers.authorization = user.auth;
              }
              p.url = urlOf(op, { [param.name]: encodeURIComponent(value) });
              await fuzz.mustPass(op, p);
            },
          ),
          fcOptions,
        );
        await fc.assert(
          fc.asyncProperty(fc.uuid(), fc.constantFrom(...fuzz.w.users), async (id, user) => {
            const p = fuzz.baseProbe(
              op,
              `${param.name} = unknown ${id}`,
              unknownIdAnswer(op, user),
            );
            if (op.secured) {
              p.headers.authorization = user.auth;
            }
            p.url = urlOf(op, { [param.name]: id });
            await fuzz.mustPass(op, p);
          }),
          fcOptions,
        );
      }
    }
    expect(problems).toEqual([]);
  });

  it('query parameters: wrong types, out of range, repeated and unknown ones are 400', async () => {
    const problems: string[] = [];
    for (const op of fuzz.ops) {
      const base = fuzz.baseProbe(op, '', 'any');
      const withQuery = (query: string, label: string, expected: Expected): HttpProbe => ({
        ...base,
        label,
        url: withMoreQuery(base.url, query),
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
        ];
        // Free text (a name search) may well contain these; any other parameter refuses them.
        const freeText = typeOf(s) === 'string' && !s.enum && !s.format && !s.pattern;
        const textLike: Array<[string, string]> = [
          ['SQL', q(encodeURIComponent("1' OR '1'='1"))],
          ['JSON', q(encodeURIComponent('{"$gt":0}'))],
        ];
        if (!freeText) {
          bad.push(...textLike);
        }
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
          ...(freeText ? textLike : []).map(([label, query]) =>
            withQuery(query, `${param.name}: ${label}`, 'any'),
          ),
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
      problems.push(...(await fuzz.runProbes(op, probes)));

      await fc.assert(
        fc.asyncProperty(
          fc.dictionary(
            fc.string({ minLength: 1, maxLength: 12 }).filter((k) => !known.has(k)),
            fc.string({ unit: 'binary', maxLength: 20 }),
            { minKeys: 1, maxKeys: 3 },
          ),
          async (extra) => {
            const query = new URLSearchParams(extra).toString();
            await fuzz.mustPass(op, withQuery(query, `unknown ${query}`, unknownExpected));
          },
        ),
        fcOptions,
      );
      if (op.queryParams.length > 0) {
        const values = Object.fromEntries(
          op.queryParams.map((p) => [
            p.name,
            fc.oneof(
              arbitraryOf(fuzz.w, p.name, p.schema ?? {}).map(String),
              fc.string({ unit: 'binary', maxLength: 20 }),
            ),
          ]),
        );
        await fc.assert(
          fc.asyncProperty(fc.record(values, { requiredKeys: [] }), async (query) => {
            const qs = new URLSearchParams(query as Record<string, string>).toString();
            await fuzz.mustPass(op, withQuery(qs, qs, 'any'));
          }),
          fcOptions,
        );
      }
    }
    expect(problems).toEqual([]);
  });

  it('authorization: a missing, malformed or foreign bearer token is 401 before anything else', async () => {
    const problems: string[] = [];
    for (const op of fuzz.ops) {
      const probes = badAuthorizations(callerOf(fuzz.w, op)).map(([label, value]) => {
        // On a public operation the header is not read: whatever it says, no 5xx.
        const p = fuzz.baseProbe(op, label, op.secured ? UNAUTHENTICATED : 'any');
        delete p.headers.authorization;
        if (value !== undefined) {
          p.headers.authorization = value;
        }
        return p;
      });
      problems.push(...(await fuzz.runProbes(op, probes)));
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
            const p = fuzz.baseProbe(
              op,
              `Authorization: ${JSON.stringify(authorization)}`,
              UNAUTHENTICATED,
            );
            p.headers.authorization = authorization;
            await fuzz.mustPass(op, p);
          },
        ),
        fcOptions,
      );
    }
    expect(problems).toEqual([]);
  });

  it('unknown routes under the walked paths are 404 NOT_FOUND', async () => {
    const problems: string[] = [];
    for (const op of fuzz.ops) {
      const p = fuzz.baseProbe(op, 'an unknown sub-path', exactly(404, 'NOT_FOUND'));
      // Two segments more: no template of the API has a parameter that could take them.
      const [path, query] = p.url.split('?');
      p.url = `${path}/nope/nope${query === undefined ? '' : `?${query}`}`;
      const problem = await fuzz.runProbe(op, p);
      if (problem) {
        problems.push(problem);
      }
    }
    expect(problems).toEqual([]);
  });

  describeAfterwards(
    fuzz,
    () =>
      `HTTP fuzzing (parameters, authorization): ${fuzz.ops.length} operations, ${fuzz.tally.requests} requests, accepted ${JSON.stringify(Object.fromEntries(fuzz.tally.accepted))}`,
  );
});
