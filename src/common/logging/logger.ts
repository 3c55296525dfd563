import type { LoggerService, LogLevel } from '@nestjs/common';
import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';
import { pino, type DestinationStream, type Logger } from 'pino';

/**
 * One pino logger for the process: Fastify logs through it (every request's child logger carries
 * its `reqId`) and Nest's own `Logger` calls reach it through `NestPinoLogger`.
 */
export function createRootLogger(level: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    // Never in a log line: credentials, whatever path they come by.
    redact: ['req.headers.authorization', 'req.headers.cookie', 'password', 'token'],
  };
  return destination ? pino(options, destination) : pino(options);
}

/**
 * Fastify's request log lines, leaner: nothing on arrival, one line when the response is done
 * (method, URL, status, time, on the request's child logger so with its `reqId`), none for the
 * health probes. It replaces the pino-http middleware that ran through Nest's middleware layer
 * (middie): about 8% of the CPU per request in the `GET /api/sessions/:id` profile.
 */
export class RequestLog extends LogController {
  override isLogDisabled(request: FastifyRequest): boolean {
    return request.url.startsWith('/api/health');
  }

  override incomingRequest(): void {}

  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    if (this.isLogDisabled(request)) {
      return;
    }
    const line = {
      method: request.method,
      url: request.url,
      statusCode: reply.statusCode,
      responseTime: Math.round(reply.elapsedTime * 10) / 10,
    };
    if (error) {
      request.log.error({ ...line, err: error }, 'request errored');
    } else {
      request.log.info(line, 'request completed');
    }
  }
}

const LEVEL_OF: Record<LogLevel, 'info' | 'error' | 'warn' | 'debug' | 'trace' | 'fatal'> = {
  log: 'info',
  error: 'error',
  warn: 'warn',
  debug: 'debug',
  verbose: 'trace',
  fatal: 'fatal',
};

/**
 * Nest's own start-up narration (each module initialised, each route mapped: about fifty lines)
 * says nothing an operator acts on; it is kept for LOG_LEVEL=debug.
 */
const BOOT_CONTEXTS = new Set([
  'NestFactory',
  'InstanceLoader',
  'RoutesResolver',
  'RouterExplorer',
  'WebSocketsController',
  'NestApplication',
]);

/** Nest's `LoggerService` on pino: `new Logger('Context').warn(...)` becomes a JSON line. */
export class NestPinoLogger implements LoggerService {
  constructor(private readonly root: Logger) {}

  log(message: unknown, ...params: unknown[]): void {
    const context = params[params.length - 1];
    const boot = typeof context === 'string' && BOOT_CONTEXTS.has(context);
    this.write(boot ? 'debug' : 'log', message, params);
  }
  error(message: unknown, ...params: unknown[]): void {
    this.write('error', message, params);
  }
  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }
  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }
  verbose(message: unknown, ...params: unknown[]): void {
    this.write('verbose', message, params);
  }
  fatal(message: unknown, ...params: unknown[]): void {
    this.write('fatal', message, params);
  }

  /** Nest passes the context last; an error's stack, when given, comes before it. */
  private write(level: LogLevel, message: unknown, params: unknown[]): void {
    const method = LEVEL_OF[level];
    if (!this.root.isLevelEnabled(method)) {
      return;
    }
    const rest = [...params];
    const context = typeof rest[rest.length - 1] === 'string' ? rest.pop() : undefined;
    const stack = level === 'error' && typeof rest[0] === 'string' ? rest.shift() : undefined;
    const fields: Record<string, unknown> = { context };
    if (stack !== undefined) {
      fields.stack = stack;
    }
    if (message instanceof Error) {
      this.root[method]({ ...fields, err: message }, message.message);
    } else if (typeof message === 'object' && message !== null) {
      this.root[method]({ ...fields, ...message });
    } else {
      this.root[method](fields, String(message));
    }
  }
}
