import fc from 'fast-check';
import {
  bodyArbitrary,
  deepArray,
  deepObject,
  exactly,
  type Expected,
  fcOptions,
  httpProblem,
  INVALID,
  MIB,
  mutationsOf,
  omit,
  withRawProperty,
  wrongTypeArbitrary,
} from '../utils/fuzz.js';
import { type HttpProbe, rawStatus, useHttpFuzzing } from '../utils/fuzz-http.js';
import { describeAfterwards, validBody } from '../utils/fuzz-world.js';

/**
 * Schema-driven input fuzzing of the HTTP API, request bodies and their size: every operation of
 * `/api/docs-json` with malformed, missing, oversized and wrongly typed input (what is demanded of
 * the answers, and how to replay a seed: test/utils/fuzz-http.ts). The rest of the walk is in
 * input-fuzzing-http (parameters, Authorization, unknown routes).
 */
describe('input fuzzing, HTTP: the body of every operation of /api/docs-json that takes one', () => {
  const fuzz = useHttpFuzzing();

  it('bodies: missing, wrongly typed, oversized, unknown and non-object input is 400; other media types 415', async () => {
    const problems: string[] = [];
    const withBody = fuzz.ops.filter((o) => o.body);
    for (const op of withBody) {
      const schema = op.body!;
      const required = new Set(schema.required ?? []);
      const probe = (label: string, body: string | Buffer | undefined, expected: Expected) => {
        const p = fuzz.baseProbe(op, label, expected);
        return { ...p, body };
      };
      const valid = () => validBody(fuzz.w, schema);
      const json = (label: string, value: unknown, expected: Expected) =>
        probe(label, JSON.stringify(value), expected);
      const probes: HttpProbe[] = [];
      for (const [name, prop] of Object.entries(schema.properties ?? {})) {
        for (const m of mutationsOf(prop, required.has(name))) {
          probes.push(
            json(`${name}: ${m.label}`, { ...valid(), [name]: m.value }, m.sure ? INVALID : 'any'),
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
        json('a 900 KiB unknown property', { ...valid(), filler: 'z'.repeat(900 * 1024) }, INVALID),
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
      problems.push(...(await fuzz.runProbes(op, probes)));

      // Bodies generated from the schema: may be valid, must never be a 5xx.
      await fc.assert(
        fc.asyncProperty(
          bodyArbitrary(fuzz.w, schema),
          fc.constantFrom(...fuzz.w.users),
          async (body, user) => {
            const p = json(JSON.stringify(body).slice(0, 200), body, 'any');
            if (op.secured) {
              p.headers.authorization = user.auth;
            }
            await fuzz.mustPass(op, p);
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
          fc.constantFrom(...fuzz.w.users),
          async ([name, value], user) => {
            const p = json(
              `${name} = ${JSON.stringify(value)}`,
              { ...valid(), [name]: value },
              INVALID,
            );
            if (op.secured) {
              p.headers.authorization = user.auth;
            }
            await fuzz.mustPass(op, p);
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
            await fuzz.mustPass(op, probe(`unknown ${JSON.stringify(key)}`, text, INVALID));
          },
        ),
        fcOptions,
      );
    }

    // Operations without a body ignore one (nothing binds it), but must not fail on it.
    for (const op of fuzz.ops.filter((o) => !o.body && o.method !== 'get')) {
      const junk: Array<[string, string, string]> = [
        ['a JSON object', 'application/json', '{"status":"Completed","x":1}'],
        ['invalid JSON', 'application/json', '{"'],
        ['an array 10k deep', 'application/json', deepArray(10_000)],
        ['text', 'text/plain', 'hello'],
      ];
      problems.push(
        ...(await fuzz.runProbes(
          op,
          junk.map(([label, type, body]) => {
            const p = fuzz.baseProbe(op, label, 'any');
            p.headers['content-type'] = type;
            return { ...p, body };
          }),
        )),
      );
    }
    expect(problems).toEqual([]);
  }, 120_000); // about 1,300 requests: 10-15 s alone, several times that on a busy machine

  it('a body just over 1 MiB is 413 PAYLOAD_TOO_LARGE on every operation that takes one', async () => {
    const problems: string[] = [];
    for (const op of fuzz.ops.filter((o) => o.body)) {
      const p = fuzz.baseProbe(op, '1 MiB + 1', exactly(413, 'PAYLOAD_TOO_LARGE'));
      const head = [
        `${op.method.toUpperCase()} ${p.url} HTTP/1.1`,
        `Host: ${new URL(fuzz.w.t.url).host}`,
        ...Object.entries(p.headers).map(([k, v]) => `${k}: ${v}`),
        `Content-Length: ${MIB + 1}`,
        '',
        '',
      ].join('\r\n');
      fuzz.tally.requests++;
      const res = await rawStatus(fuzz.w.t.url, head, MIB + 1);
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

  describeAfterwards(
    fuzz,
    () =>
      `HTTP fuzzing (bodies): ${fuzz.ops.length} operations, ${fuzz.tally.requests} requests, accepted ${JSON.stringify(Object.fromEntries(fuzz.tally.accepted))}`,
  );
});
