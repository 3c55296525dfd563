import fastifyStatic from '@fastify/static';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AppConfig } from '../config/app-config.js';

/** `public/demo` of the project, from src/demo (tsx, tests) or dist/src/demo (the build). */
function demoRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [
    join(here, '..', '..', 'public', 'demo'),
    join(here, '..', '..', '..', 'public', 'demo'),
  ];
  const found = candidates.find((dir) => existsSync(join(dir, 'index.html')));
  if (!found) {
    throw new Error(
      `the demo client (public/demo/index.html) is missing; looked in ${candidates.join(', ')}`,
    );
  }
  return found;
}

/**
 * The reference browser client at `/demo/` (plain ES modules, no build step), the browser build of
 * socket.io-client it imports (`/demo/vendor/socket.io/`), and `/demo/config.json` with the STUN
 * servers of this deployment (STUN_URLS). It is public, so it never carries a TURN credential:
 * the page asks GET /api/video-calls/ice-servers/:sessionId for those, with its token.
 */
export async function serveDemo(app: NestFastifyApplication, config: AppConfig): Promise<void> {
  const socketIoDist = join(
    dirname(createRequire(import.meta.url).resolve('socket.io-client/package.json')),
    'dist',
  );
  await app.register(fastifyStatic, {
    root: demoRoot(),
    prefix: '/demo/',
    decorateReply: false,
    index: ['index.html'],
  });
  await app.register(fastifyStatic, {
    root: socketIoDist,
    prefix: '/demo/vendor/socket.io/',
    decorateReply: false,
    allowedPath: (path) => /^\/socket\.io\.esm\.min\.js(\.map)?$/.test(path),
  });
  const fastify = app.getHttpAdapter().getInstance();
  // The page's module URLs are relative: /demo must become /demo/ (the query kept, the #token
  // fragment is kept by the browser).
  fastify.get('/demo', (request, reply) => {
    const query = request.url.includes('?') ? request.url.slice(request.url.indexOf('?')) : '';
    void reply.redirect(`/demo/${query}`, 301);
  });
  fastify.get('/demo/config.json', (_request, reply) => {
    const iceServers = config.stunUrls.length > 0 ? [{ urls: config.stunUrls }] : [];
    void reply.header('cache-control', 'no-store').send({ iceServers });
  });
}
