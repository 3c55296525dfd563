import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { DestinationStream } from 'pino';
import { AppModule, type AppModuleOptions } from './app.module.js';
import { createValidationPipe } from './common/errors/validation.js';
import { requestIdOf } from './common/http/request-id.js';
import { createRootLogger, NestPinoLogger, RequestLog } from './common/logging/logger.js';
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
  fastify.removeContentTypeParser('text/plain');
  // No error handler of our own: Nest installs one at init that maps Fastify's errors (body too
  // large, bad JSON, wrong media type) to HttpExceptions and runs them through the global filter.
  fastify.addHook('onSend', (request, reply, payload, done) => {
    void reply.header('x-request-id', request.id);
    void reply.header('x-content-type-options', 'nosniff');
    void reply.header('x-frame-options', 'DENY');
    if (config.nodeEnv === 'production') {
      void reply.header('strict-transport-security', 'max-age=31536000; includeSubDomains');
    }
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
        .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' })
        .build(),
    ),
  );
  SwaggerModule.setup('api/docs', app, document, { jsonDocumentUrl: 'api/docs-json' });
  return app;
}
