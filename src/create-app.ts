import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { Logger } from 'nestjs-pino';
import { AppModule, type AppModuleOptions } from './app.module.js';
import { toErrorResponse } from './common/errors/error-response.js';
import { createValidationPipe } from './common/errors/validation.js';
import { SocketIoAdapter } from './common/http/socket-io.adapter.js';

export const BODY_LIMIT_BYTES = 1024 * 1024;

/**
 * Builds the whole application (HTTP, WebSocket, docs) without listening, so `main.ts` and the
 * tests assemble it the same way.
 */
export async function createApp(options: AppModuleOptions): Promise<NestFastifyApplication> {
  const { config } = options;
  const adapter = new FastifyAdapter({ bodyLimit: BODY_LIMIT_BYTES, trustProxy: true });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(options), adapter, {
    bufferLogs: true,
    abortOnError: false,
  });
  app.useLogger(app.get(Logger));
  app.useWebSocketAdapter(new SocketIoAdapter(app, config));
  app.setGlobalPrefix('api');
  app.useGlobalPipes(createValidationPipe());
  app.enableCors({ origin: config.corsOrigins === true ? true : config.corsOrigins, credentials: false });

  const fastify = app.getHttpAdapter().getInstance();
  // Errors raised by Fastify before a route runs (body too large, bad JSON, wrong media type)
  // get the same body as every other error.
  fastify.setErrorHandler((error, _request, reply) => {
    const { status, body } = toErrorResponse(error);
    void reply.status(status).send(body);
  });
  fastify.addHook('onSend', (_request, reply, payload, done) => {
    void reply.header('x-content-type-options', 'nosniff');
    void reply.header('x-frame-options', 'DENY');
    if (config.nodeEnv === 'production') {
      void reply.header('strict-transport-security', 'max-age=31536000; includeSubDomains');
    }
    done(null, payload);
  });

  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Session video API')
      .setDescription(
        'Booked therapy sessions and their video calls. Errors always carry a stable `code`; see each operation.',
      )
      .setVersion('1.0')
      .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' })
      .build(),
  );
  SwaggerModule.setup('api/docs', app, document, { jsonDocumentUrl: 'api/docs-json' });
  return app;
}
