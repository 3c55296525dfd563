import { createHash } from 'node:crypto';
import type { Response } from 'supertest';
import { SWAGGER_UI_LOGO_STYLE } from '../../src/common/http/security-headers.js';
import { startTestApp, type TestApp } from '../utils/test-app.js';

const STRICT = { 'default-src': ["'none'"], 'frame-ancestors': ["'none'"] };

/** `content-security-policy` as directive name -> sources. */
function policyOf(res: Response): Record<string, string[]> {
  const header = res.headers['content-security-policy'];
  expect(typeof header).toBe('string');
  return Object.fromEntries(
    header
      .split(';')
      .map((d) => d.trim().split(/\s+/))
      .filter((parts) => parts[0] !== '')
      .map(([name, ...sources]) => [name, sources]),
  );
}

/** Nothing that opens a page up: wildcards, whole schemes, inline code or eval. */
function expectNoLooseSources(policy: Record<string, string[]>): void {
  for (const [name, sources] of Object.entries(policy)) {
    for (const source of sources) {
      expect(`${name} ${source}`).not.toMatch(
        /\s(\*|https?:|wss?:|blob:|'unsafe-inline'|'unsafe-eval'|'strict-dynamic')$/,
      );
      if (source === 'data:') {
        expect(name).toBe('img-src');
      }
    }
  }
}

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

describe('security headers', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  /** What the contract promises on every response. */
  function expectContractHeaders(res: Response): void {
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.headers['x-powered-by']).toBeUndefined();
    expect(res.headers['strict-transport-security']).toBeUndefined(); // NODE_ENV=test
    expect(res.headers['x-request-id']).toBe('probe-1');
  }

  /** Plus the rest of helmet's set, on every answer that went through the request hooks. */
  function expectBaseHeaders(res: Response): void {
    expectContractHeaders(res);
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.headers['cross-origin-opener-policy']).toBe('same-origin');
    expect(res.headers['cross-origin-resource-policy']).toBe('same-origin');
    expect(res.headers['origin-agent-cluster']).toBe('?1');
    expect(res.headers['x-dns-prefetch-control']).toBe('off');
    expect(res.headers['x-download-options']).toBe('noopen');
    expect(res.headers['x-permitted-cross-domain-policies']).toBe('none');
    expect(res.headers['x-xss-protection']).toBe('0');
  }

  it.each([
    ['a JSON API route', '/api/health/live', 200],
    ['an unknown route', '/api/nope', 404],
    ['an unknown route outside /api', '/nope.html', 404],
    ['the OpenAPI document', '/api/docs-json', 200],
    ['the AsyncAPI document', '/api/asyncapi.json', 200],
    ['a Swagger UI asset', '/api/docs/swagger-ui-bundle.js', 200],
    ['the demo configuration', '/demo/config.json', 200],
    ['a demo module', '/demo/demo.js', 200],
  ])('%s gets the strict policy', async (_name, path, status) => {
    const res = await t.api.get(path).set('x-request-id', 'probe-1');
    expect(res.status).toBe(status);
    expectBaseHeaders(res);
    expect(policyOf(res)).toEqual(STRICT);
  });

  it('answers sent before the request hooks (CORS preflight, malformed URL) and a 413 carry them too', async () => {
    const preflight = await t.api
      .options('/api/auth/login')
      .set('x-request-id', 'probe-1')
      .set('Origin', 'https://app.example.com')
      .set('Access-Control-Request-Method', 'POST');
    expect(preflight.status).toBe(204);
    expectContractHeaders(preflight);
    expect(policyOf(preflight)).toEqual(STRICT);

    const tooLarge = await t.api
      .post('/api/auth/login')
      .set('x-request-id', 'probe-1')
      .set('content-type', 'application/json')
      .send(JSON.stringify({ email: 'x'.repeat(1024 * 1024 + 10) }));
    expect(tooLarge.status).toBe(413);
    expectBaseHeaders(tooLarge);
    expect(policyOf(tooLarge)).toEqual(STRICT);

    const badUrl = await t.api.get('/api/sessions/%E0%A4%A').set('x-request-id', 'probe-1');
    expect(badUrl.status).toBe(400);
    expectContractHeaders(badUrl);
    expect(policyOf(badUrl)).toEqual(STRICT);
  });

  describe('Swagger UI page', () => {
    it('the logo style allowed by hash is the one Swagger UI inserts', async () => {
      const preset = await t.api.get('/api/docs/swagger-ui-standalone-preset.js');
      expect(preset.status).toBe(200);
      const element = `createElement("style",null,"${SWAGGER_UI_LOGO_STYLE}")`;
      expect(preset.text.includes(element)).toBe(true); // not toContain: 400 kB in a failure
    });

    it.each(['/api/docs', '/api/docs/', '/api/docs/index.html'])(
      '%s allows its own files and exactly its inline styles, by hash',
      async (path) => {
        const res = await t.api.get(path).set('x-request-id', 'probe-1');
        expect(res.status).toBe(200);
        expect(res.headers['content-type']).toMatch(/^text\/html/);
        expectBaseHeaders(res);
        const policy = policyOf(res);
        expectNoLooseSources(policy);
        expect(policy).toMatchObject({
          'default-src': ["'none'"],
          'script-src': ["'self'"],
          'img-src': ["'self'", 'data:'],
          'connect-src': ["'self'"],
          'base-uri': ["'none'"],
          'form-action': ["'none'"],
          'frame-ancestors': ["'none'"],
        });

        // No inline script at all: every <script> loads a file.
        const scripts = [...res.text.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/gi)];
        expect(scripts.length).toBeGreaterThan(0);
        for (const [, attributes, body] of scripts) {
          expect(attributes).toMatch(/\ssrc=/);
          expect(body.trim()).toBe('');
        }
        // Every inline style of the page and the logo's is allowed by its hash, nothing else is.
        const blocks = [...res.text.matchAll(/<style>([\s\S]*?)<\/style>/g)].map((m) => m[1]);
        const attributes = [...res.text.matchAll(/\sstyle="([^"]*)"/g)].map((m) => m[1]);
        expect(blocks.length).toBeGreaterThan(0);
        const expected = new Set([...blocks, ...attributes, SWAGGER_UI_LOGO_STYLE].map(sha256));
        const [self, ...rest] = policy['style-src'];
        expect(self).toBe("'self'");
        expect(new Set(rest.filter((s) => s !== "'unsafe-hashes'"))).toEqual(expected);
        expect(rest.includes("'unsafe-hashes'")).toBe(attributes.length > 0);
      },
    );
  });

  describe('demo page', () => {
    it.each(['/demo/', '/demo/index.html'])(
      '%s allows its own files and the same-origin WebSocket only',
      async (path) => {
        const res = await t.api.get(path).set('x-request-id', 'probe-1');
        expect(res.status).toBe(200);
        expectBaseHeaders(res);
        const policy = policyOf(res);
        expectNoLooseSources(policy);
        expect(policy).toEqual({
          'default-src': ["'none'"],
          'script-src': ["'self'"],
          'style-src': ["'self'"],
          'img-src': ['data:'],
          'connect-src': ["'self'"],
          'base-uri': ["'none'"],
          'form-action': ["'none'"],
          'frame-ancestors': ["'none'"],
        });
        // Hence the page may hold no inline script or style.
        expect(res.text).not.toMatch(/<style|\sstyle=|\son\w+=/i);
        for (const [, attributes] of res.text.matchAll(/<script([^>]*)>/gi)) {
          expect(attributes).toMatch(/\ssrc=/);
        }
      },
    );

    it.each([
      ['If-None-Match', (res: { headers: Record<string, string> }) => res.headers.etag],
      [
        'If-Modified-Since',
        (res: { headers: Record<string, string> }) => res.headers['last-modified'],
      ],
    ])(
      'keeps its policy on a 304 to a reload (%s): the browser applies those headers to the page it kept',
      async (header, validator) => {
        const first = await t.api.get('/demo/').expect(200);
        const value = validator(first);
        expect(value).toEqual(expect.any(String));
        const again = await t.api.get('/demo/').set(header, value);
        expect(again.status).toBe(304);
        expect(policyOf(again)).toEqual(policyOf(first));
      },
    );
  });
});

describe('security headers in production', () => {
  it('add HSTS and keep the same policies', async () => {
    const t = await startTestApp({
      env: { NODE_ENV: 'production', CORS_ORIGINS: 'https://app.example.com' },
    });
    try {
      for (const path of ['/api/health/live', '/api/nope', '/api/docs', '/demo/']) {
        const res = await t.api.get(path);
        expect(res.headers['strict-transport-security']).toBe(
          'max-age=31536000; includeSubDomains',
        );
        expect(res.headers['x-frame-options']).toBe('DENY');
        expect(policyOf(res)['frame-ancestors']).toEqual(["'none'"]);
      }
    } finally {
      await t.close();
    }
  });
});
