import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startTestApp, type TestApp } from '../utils/test-app.js';

// ajv-formats is CommonJS with a default export that ESM sees as the module object.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ??
  addFormatsModule) as unknown as (ajv: Ajv) => Ajv;

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const bin = (path: string) => join(ROOT, 'node_modules', path);

interface RedoclyProblem {
  ruleId: string;
  severity: 'error' | 'warn';
  message: string;
  location: Array<{ pointer?: string }>;
}

/** Runs a Node CLI of node_modules; resolves with its output whatever its exit code. */
async function cli(script: string, args: string[], cwd: string) {
  try {
    const { stdout, stderr } = await run(process.execPath, [script, ...args], {
      cwd,
      env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
      maxBuffer: 32 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/**
 * The OpenAPI document as integrators use it: it lints clean with Redocly's recommended rules, and
 * a client generated from it with openapi-typescript type-checks against a small usage file.
 */
describe('OpenAPI document for integrators', () => {
  let t: TestApp;
  let dir: string;
  let specPath: string;

  beforeAll(async () => {
    t = await startTestApp();
    const res = await t.api.get('/api/docs-json');
    expect(res.status).toBe(200);
    dir = await mkdtemp(join(tmpdir(), 'svapi-openapi-'));
    specPath = join(dir, 'openapi.json');
    await writeFile(specPath, res.text);
  });
  afterAll(async () => {
    await t.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('gives every schema property an example that fits the property', async () => {
    const doc = (await t.api.get('/api/docs-json')).body;
    const ajv = new Ajv({ strict: false });
    addFormats(ajv);
    const problems: string[] = [];
    const check = (where: string, schema: any) => {
      for (const [name, property] of Object.entries<any>(schema.properties ?? {})) {
        const at = `${where}.${name}`;
        if (property.$ref || property.allOf || property.oneOf) {
          continue;
        }
        if (property.type === 'array' && (property.items?.$ref || property.items?.properties)) {
          if (property.items.properties) {
            check(`${at}[]`, property.items);
          }
          continue;
        }
        if (property.example === undefined) {
          problems.push(`${at}: no example`);
          continue;
        }
        // OpenAPI 3.0's `nullable` is not JSON Schema; the examples here are never null.
        const schema = { ...property };
        delete schema.example;
        delete schema.nullable;
        if (!ajv.validate(schema, property.example)) {
          problems.push(`${at}: example ${JSON.stringify(property.example)} ${ajv.errorsText()}`);
        }
      }
    };
    const schemas = Object.entries<any>(doc.components.schemas);
    expect(schemas.length).toBeGreaterThan(5);
    for (const [name, schema] of schemas) {
      check(name, schema);
    }
    expect(problems).toEqual([]);
  });

  it('marks an operation public exactly when it answers without a token', async () => {
    const doc = (await t.api.get('/api/docs-json')).body;
    const problems: string[] = [];
    let publicCount = 0;
    for (const [path, item] of Object.entries<any>(doc.paths)) {
      for (const [method, op] of Object.entries<any>(item)) {
        expect(Array.isArray(op.security)).toBe(true);
        const isPublic = op.security.length === 0;
        publicCount += isPublic ? 1 : 0;
        const url = path.replace(/\{[^}]+\}/g, '3f1c2a9e-8d7b-4c6a-9e5f-1a2b3c4d5e6f');
        const res = await (t.api as any)[method](url).send({});
        if (isPublic === (res.status === 401)) {
          problems.push(`${method.toUpperCase()} ${path}: public=${isPublic}, got ${res.status}`);
        }
      }
    }
    expect(publicCount).toBeGreaterThanOrEqual(2);
    expect(problems).toEqual([]);
  });

  it('lints clean with `redocly lint --extends=recommended`', async () => {
    const out = await cli(
      bin('@redocly/cli/bin/cli.js'),
      ['lint', '--extends=recommended', '--format=json', '--max-problems=1000', specPath],
      dir,
    );
    const report = JSON.parse(out.stdout.slice(out.stdout.indexOf('{'))) as {
      problems: RedoclyProblem[];
    };
    const problems = report.problems.map(
      (p) => `${p.severity} ${p.ruleId} ${p.location[0]?.pointer ?? ''}: ${p.message}`,
    );
    expect(problems).toEqual([]);
    expect(out.code).toBe(0);
  }, 120_000);

  it('generates a typed client with openapi-typescript that a usage file type-checks against', async () => {
    const schemaTs = join(dir, 'schema.d.ts');
    const gen = await cli(bin('openapi-typescript/bin/cli.js'), [specPath, '-o', schemaTs], dir);
    expect({ code: gen.code, stderr: gen.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    await copyFile(
      join(ROOT, 'test', 'openapi', 'client-usage.ts.txt'),
      join(dir, 'client-usage.ts'),
    );
    await writeFile(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          noEmit: true,
          target: 'ES2022',
          lib: ['ES2022', 'DOM'],
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          types: [],
        },
        files: ['client-usage.ts', 'schema.d.ts'],
      }),
    );
    const tsc = await cli(bin('typescript/bin/tsc'), ['-p', join(dir, 'tsconfig.json')], dir);
    expect(tsc.stdout + tsc.stderr).toBe('');
    expect(tsc.code).toBe(0);
  }, 120_000);
});
