import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { DestinationStream } from 'pino';
import { AppModule, type AppModuleOptions } from './app.module.js';
import { toErrorResponse } from './common/errors/error-response.js';
import { createValidationPipe } from './common/errors/validation.js';
import { deferBodyErrors } from './common/http/deferred-body-errors.js';
import { requestIdOf } from './common/http/request-id.js';
import { createRootLogger, NestPinoLogger, RequestLog } from './common/logging/logger.js';
import {
  fallbackSecurityHeaders,
  registerSecurityHeaders,
} from './common/http/security-headers.js';
import { polishOpenApi } from './api-docs/openapi-polish.js';
import { installHttpMetrics } from './metrics/http-metrics.js';
import { serveDemo } from './demo/serve-demo.js';
import { RedisFanout } from './realtime/redis-fanout.js';
import { SocketIoAdapter } from './realtime/socket-io.adapter.js';

export const BODY_LIMIT_BYTES = 1024 * 1024;

/**
 * Builds the whole application (HTTP, WebSocket, docs) without listening, so `main.ts` and the
 * tests assemble it the same way.
 */
export async function createApp(
  options: AppModuleOptions & { logTo?: DestinationStream },
): Promise<NestFastifyApplication> {
  const { config } = options;
  // Fastify's request id is the one every request's log lines carry (its child logger) and the one
  // echoed in `x-request-id` below.
  const logger = createRootLogger(config.logLevel, options.logTo);
  const adapter = new FastifyAdapter({
    loggerInstance: logger,
    logController: new RequestLog(),
    bodyLimit: BODY_LIMIT_BYTES,
    // Only behind a proxy that sets X-Forwarded-For: otherwise clients could pick their address
    // (and so their rate-limit bucket).
    trustProxy: config.trustProxy,
    genReqId: requestIdOf,
    // The router answers a malformed URL (400) or an over-long parameter (414) itself, before any
    // hook runs (and so before the security-header hooks): their headers are set here.
    // This replaces the adapter's default, which only runs Nest's own security-header hook
    // (app.useSecurityHeaders(), not used: registerSecurityHeaders does that job).
    // The body is the API's error body, like every other error's (not Fastify's own `code`).
    frameworkErrors: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      const { status, body } = toErrorResponse(error);
      void reply.headers({ ...fallbackSecurityHeaders(config), 'x-request-id': request.id });
      void reply.status(status).send(body);
    },
    // An id longer than the router's default limit (100 characters) would be refused by the router
    // with a 414; it reaches the id pipe instead, a 400 VALIDATION_FAILED like any malformed id.
    // Node's header size limit (16 KiB) bounds the URL anyway.
    routerOptions: { maxParamLength: 16 * 1024 },
  });
  // bodyParser: false keeps Nest from adding its JSON and urlencoded parsers: the API takes JSON
  // only (Fastify's own parser, under bodyLimit); any other media type is a 415.
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot(options),
    adapter,
    {
      logger: new NestPinoLogger(logger),
      abortOnError: false,
      bodyParser: false,
    },
  );
  // Before the plugins and routes below, so that the security-header hooks cover them all (answers
  // sent before any hook runs get the fallback headers: see security-headers.ts).
  registerSecurityHeaders(app, config);
  app.useWebSocketAdapter(new SocketIoAdapter(app, config, app.get(RedisFanout)));
  // Prometheus scrapes /metrics at the root, outside the API.
  app.setGlobalPrefix('api', { exclude: ['metrics'] });
  app.useGlobalPipes(createValidationPipe());
  app.enableCors({
    origin: config.corsOrigins === true ? true : config.corsOrigins,
    credentials: false,
  });

  const fastify = app.getHttpAdapter().getInstance();
  installHttpMetrics(app);
  await serveDemo(app, config);
  deferBodyErrors(fastify);
  // No error handler of our own: Nest installs one at init that maps Fastify's errors (body too
  // large, bad JSON, wrong media type) to HttpExceptions and runs them through the global filter.
  fastify.addHook('onSend', (request, reply, payload, done) => {
    void reply.header('x-request-id', request.id);
    done(null, payload);
  });

  const document = polishOpenApi(
    SwaggerModule.createDocument(
      app,
      new DocumentBuilder()
        .setTitle('Session video API')
        .setDescription(
          'Booked therapy sessions and their video calls. Errors always carry a stable `code`; see each operation.',
        )
        .setVersion('1.0')
        .addBearerAuth({
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description:
            "A user's access token (JWT), or a service key (`svc_...`, `POST /api/service-keys`). A key works only on the operations whose `x-service-key-scope` it holds (`payments:write`: confirmPayment; `sessions:read`: getSession, getSessionHistory, getSessionAttendance) and acts there with an admin's reach; elsewhere 403 FORBIDDEN; unknown or revoked: 401. Never on the WebSocket.",
        })
        .build(),
    ),
  );
  SwaggerModule.setup('api/docs', app, document, { jsonDocumentUrl: 'api/docs-json' });
  return app;
}
