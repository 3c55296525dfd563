import { startTestApp, type TestApp } from '../utils/test-app.js';

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'options', 'head', 'trace'] as const;

interface ResponseObject {
  description?: string;
  headers?: Record<string, { schema?: { type?: string } }>;
  content?: Record<string, { schema?: { $ref?: string }; example?: Record<string, unknown> }>;
}

interface Operation {
  operationId?: string;
  summary?: string;
  responses?: Record<string, ResponseObject>;
  security?: Array<Record<string, string[]>>;
}

/** The parts of an OpenAPI 3 document these tests read. */
interface OpenApiDocument {
  openapi: string;
  info: { title?: string; version?: string };
  paths?: Record<string, Record<string, Operation | undefined>>;
  components?: {
    securitySchemes?: Record<string, Record<string, string>>;
    schemas?: Record<string, { properties?: Record<string, unknown> }>;
  };
}

describe('OpenAPI document and Swagger UI', () => {
  let t: TestApp;
  let doc: OpenApiDocument;
  let operations: Array<{ method: string; path: string; op: Operation }>;

  beforeAll(async () => {
    t = await startTestApp();
    const res = await t.api.get('/api/docs-json');
    expect(res.status).toBe(200);
    doc = res.body as OpenApiDocument;
    operations = Object.entries(doc.paths ?? {}).flatMap(([path, item]) =>
      METHODS.flatMap((method) => {
        const op = item[method];
        return op ? [{ method, path, op }] : [];
      }),
    );
  });
  afterAll(() => t.close());

  it('is served as JSON without a token', async () => {
    const res = await t.api.get('/api/docs-json');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
  });

  it('is an OpenAPI 3 document', () => {
    expect(doc.openapi).toMatch(/^3\.\d+\.\d+$/);
    expect(doc.info).toMatchObject({ title: expect.any(String), version: expect.any(String) });
  });

  it('declares bearer (JWT) authentication', () => {
    const schemes = Object.values(doc.components?.securitySchemes ?? {});
    expect(schemes).toContainEqual(expect.objectContaining({ type: 'http', scheme: 'bearer' }));
  });

  it('covers the auth operations of the contract', () => {
    const list = operations.map(({ method, path }) => `${method.toUpperCase()} ${path}`);
    expect(list).toEqual(
      expect.arrayContaining([
        'POST /api/auth/register',
        'POST /api/auth/login',
        'GET /api/auth/me',
      ]),
    );
  });

  it('leaves out the health probes', () => {
    expect(operations.filter(({ path }) => path.startsWith('/api/health'))).toEqual([]);
  });

  it('lists only /api operations', () => {
    expect(operations.length).toBeGreaterThan(0);
    for (const { path } of operations) {
      expect(path).toMatch(/^\/api\//);
    }
  });

  it('gives every operation an operationId, a summary and at least one 4xx response', () => {
    const problems = operations.flatMap(({ method, path, op }) => {
      const name = `${method.toUpperCase()} ${path}`;
      const found: string[] = [];
      if (!op.operationId) {
        found.push(`${name}: no operationId`);
      }
      if (!op.summary?.trim()) {
        found.push(`${name}: no summary`);
      }
      if (!Object.keys(op.responses ?? {}).some((status) => /^4(\d\d|XX)$/.test(status))) {
        found.push(`${name}: no 4xx response`);
      }
      return found;
    });
    expect(problems).toEqual([]);
  });

  it('has unique operationIds (generated clients need them)', () => {
    const ids = operations.map(({ op }) => op.operationId);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('documents the error body with its code on the auth errors', () => {
    const register = operations.find(
      (o) => o.path === '/api/auth/register' && o.method === 'post',
    )!;
    expect(Object.keys(register.op.responses ?? {})).toEqual(
      expect.arrayContaining(['201', '400', '409']),
    );
    const me = operations.find((o) => o.path === '/api/auth/me' && o.method === 'get')!;
    expect(Object.keys(me.op.responses ?? {})).toContain('401');
    const conflict = register.op.responses!['409'];
    expect(conflict.description).toContain('EMAIL_TAKEN');
    const schema = conflict.content?.['application/json']?.schema;
    const ref: string = schema?.$ref ?? '';
    const errorBody = doc.components?.schemas?.[ref.split('/').pop()!];
    expect(Object.keys(errorBody?.properties ?? {})).toEqual(
      expect.arrayContaining(['statusCode', 'error', 'code', 'message']),
    );
  });

  it('declares 503 UNAVAILABLE with Retry-After on every operation (each reads or writes the database)', () => {
    const problems = operations.flatMap(({ method, path, op }) => {
      const unavailable = op.responses?.['503'];
      const json = unavailable?.content?.['application/json'];
      const fits =
        unavailable?.description?.includes('UNAVAILABLE') &&
        unavailable.headers?.['Retry-After']?.schema?.type === 'integer' &&
        json?.schema?.$ref?.endsWith('/ErrorBodyView') &&
        json.example?.code === 'UNAVAILABLE';
      return fits ? [] : [`${method.toUpperCase()} ${path}`];
    });
    expect(operations.length).toBeGreaterThan(10);
    expect(problems).toEqual([]);
    const errorBody = doc.components?.schemas?.ErrorBodyView?.properties?.code as {
      enum?: string[];
    };
    expect(errorBody.enum).toContain('UNAVAILABLE');
  });

  it('marks token-protected operations with bearer security and public ones without', () => {
    const me = operations.find((o) => o.path === '/api/auth/me' && o.method === 'get')!;
    expect(me.op.security?.length ?? 0).toBeGreaterThan(0);
    const login = operations.find((o) => o.path === '/api/auth/login' && o.method === 'post')!;
    expect(login.op.security ?? []).toEqual([]);
  });

  it('serves Swagger UI as HTML', async () => {
    const res = await t.api.get('/api/docs').redirects(2);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.text).toMatch(/swagger-ui/i);
  });

  it('serves the Swagger UI assets', async () => {
    const html = (await t.api.get('/api/docs').redirects(2)).text;
    const script = /src="([^"]*swagger-ui-bundle\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const url = new URL(script!, `${t.url}/api/docs/`);
    const res = await t.api.get(url.pathname);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/javascript/);
  });
});
