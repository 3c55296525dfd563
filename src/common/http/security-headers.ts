import helmet, { type HelmetOptions } from 'helmet';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createHash } from 'node:crypto';
import type { AppConfig } from '../../config/app-config.js';

type Directives = Record<string, string[]>;

const HSTS_MAX_AGE = 31_536_000; // a year

/**
 * Everything that is not one of the two HTML pages below (JSON, the OpenAPI and AsyncAPI
 * documents, /metrics, static assets, errors): nothing may load, nothing may frame it.
 */
export const API_POLICY: Directives = {
  'default-src': ["'none'"],
  'frame-ancestors': ["'none'"],
};

/**
 * The reference client at /demo/: its own module scripts and stylesheet, `fetch('config.json')`
 * and the Socket.io WebSocket to the same origin (`connect-src 'self'` covers ws:/wss: to the
 * page's own host and port in CSP Level 3 browsers), and the `data:,` favicon that keeps browsers
 * from asking for /favicon.ico. The videos play MediaStreams through `srcObject`, which no fetch
 * directive governs, and WebRTC is outside CSP.
 */
export const DEMO_POLICY: Directives = {
  'default-src': ["'none'"],
  'script-src': ["'self'"],
  'style-src': ["'self'"],
  'img-src': ['data:'],
  'connect-src': ["'self'"],
  'base-uri': ["'none'"],
  'form-action': ["'none'"],
  'frame-ancestors': ["'none'"],
};

/**
 * The <style> inside the Swagger logo of the top bar, a React element of Swagger UI's standalone
 * preset (swagger-ui-standalone-preset.js, swagger-ui-dist 5.x); the e2e tests of /api/docs fail if
 * an upgrade changes it.
 */
export const SWAGGER_UI_LOGO_STYLE =
  '.logo_small_svg__cls-2{fill:#fff}.logo_small_svg__cls-3{fill:#85ea2d}';

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

/**
 * Swagger UI at /api/docs: its bundle, preset and initializer are files of our origin (no inline
 * script: the OpenAPI document is embedded in swagger-ui-init.js); "Try it out" fetches the API on
 * the same origin; its stylesheet draws icons from data: URLs, the favicons are ours. Inline
 * styles only by hash, never 'unsafe-inline': the logo's <style> here, and the page template's two
 * <style> blocks and style attribute (the hidden SVG sprite), added per response by `docsPolicy`.
 */
export const DOCS_POLICY: Directives = {
  'default-src': ["'none'"],
  'script-src': ["'self'"],
  'style-src': ["'self'", sha256(SWAGGER_UI_LOGO_STYLE)],
  'img-src': ["'self'", 'data:'],
  'connect-src': ["'self'"],
  'base-uri': ["'none'"],
  'form-action': ["'none'"],
  'frame-ancestors': ["'none'"],
};

export function serializePolicy(directives: Directives): string {
  return Object.entries(directives)
    .map(([name, sources]) => [name, ...sources].join(' '))
    .join('; ');
}

/**
 * DOCS_POLICY plus the hashes of the inline styles of the Swagger UI page being sent. The page is
 * rendered by @nestjs/swagger from its fixed template and our own options (no request data goes
 * into it), so hashing what it rendered allows exactly its styles and keeps working when an
 * upgrade changes them. 'unsafe-hashes' only lets these same hashes match a style attribute.
 */
export function docsPolicy(html: string): string {
  const blocks = [...html.matchAll(/<style[^>]*>([\s\S]*?)<\/style>/gi)].map((m) => m[1]);
  const attributes = [...html.matchAll(/\sstyle="([^"&]*)"/gi)].map((m) => m[1]);
  const hashes = [...new Set([...blocks, ...attributes].map(sha256))];
  return serializePolicy({
    ...DOCS_POLICY,
    'style-src': [
      ...DOCS_POLICY['style-src'],
      ...(attributes.length > 0 ? ["'unsafe-hashes'"] : []),
      ...hashes,
    ],
  });
}

/** The Swagger UI page itself (`/api/docs`, `/api/docs/`, `/api/docs/index.html`), not -json. */
const DOCS_PAGE = /^\/api\/docs(\/(index\.html)?)?$/;
const DEMO_PAGE = /^\/demo\/(index\.html)?$/;

/**
 * The headers the contract promises on every response, for the few answers helmet's request hook
 * never sees: a CORS preflight (the Fastify adapter runs the CORS hook before any hook of ours), a
 * 503 while shutting down, and the router's own 400 / 414 for a malformed URL or an over-long
 * parameter (sent before any hook; create-app.ts sets these from Fastify's `frameworkErrors`).
 */
export function fallbackSecurityHeaders(config: AppConfig): Record<string, string> {
  return {
    'content-security-policy': serializePolicy(API_POLICY),
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    ...(config.nodeEnv === 'production'
      ? { 'strict-transport-security': `max-age=${HSTS_MAX_AGE}; includeSubDomains` }
      : {}),
  };
}

/**
 * What helmet's middleware sets with these options. Its headers depend only on the options (no
 * nonces here), so they are computed once, at start-up, by running the middleware against a
 * recording response; @fastify/helmet would run it, through two request hooks (one async), on
 * every request (about 3% of a cheap request's CPU).
 */
export function helmetHeaders(options: HelmetOptions): Record<string, string> {
  const headers: Record<string, string> = {};
  const recorder = {
    setHeader(name: string, value: string | number | readonly string[]) {
      headers[name.toLowerCase()] = String(value);
      return recorder;
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()];
    },
  };
  helmet(options)({} as IncomingMessage, recorder as unknown as ServerResponse, () => undefined);
  return headers;
}

/**
 * Security headers on every response, helmet's set: nosniff, X-Frame-Options DENY, HSTS in
 * production only, no X-Powered-By, a referrer policy, cross-origin isolation headers and a
 * Content-Security-Policy (API_POLICY everywhere; the docs and demo pages get their own).
 */
export function registerSecurityHeaders(app: NestFastifyApplication, config: AppConfig): void {
  const headers = helmetHeaders({
    contentSecurityPolicy: { useDefaults: false, directives: API_POLICY },
    xFrameOptions: { action: 'deny' },
    strictTransportSecurity:
      config.nodeEnv === 'production' ? { maxAge: HSTS_MAX_AGE, includeSubDomains: true } : false,
  });
  const fallback = fallbackSecurityHeaders(config);
  const fastify = app.getHttpAdapter().getInstance();
  fastify.addHook('onRequest', (_request, reply, done) => {
    void reply.headers(headers);
    done();
  });
  fastify.addHook('onSend', (request, reply, payload, done) => {
    // None there means the request hook did not run (an answer sent before the hooks).
    if (!reply.hasHeader('content-security-policy')) {
      void reply.headers(fallback);
    }
    const path = request.url.split('?', 1)[0];
    if (DEMO_PAGE.test(path)) {
      // By path, not content type: a 304 to a reload has none, and the browser applies the 304's
      // headers to the page it kept (API_POLICY there would block the page's own script).
      void reply.header('content-security-policy', serializePolicy(DEMO_POLICY));
    } else if (
      DOCS_PAGE.test(path) &&
      String(reply.getHeader('content-type')).startsWith('text/html') &&
      (typeof payload === 'string' || Buffer.isBuffer(payload))
    ) {
      void reply.header('content-security-policy', docsPolicy(payload.toString()));
    }
    done(null, payload);
  });
}
