import { ArgumentsHost, Catch, ExceptionFilter } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { warnDatabaseUnavailable } from '../../database/outage-log.js';
import { toErrorResponse } from './error-response.js';
import { RETRY_AFTER_SECONDS } from './unavailable.js';

/** The one place REST errors become responses (the WebSocket has its own mapper). */
@Catch()
export class HttpExceptionFilter implements ExceptionFilter {
  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') {
      throw exception;
    }
    const { status, body, unexpected } = toErrorResponse(exception);
    if (unexpected) {
      // The whole error (stack, SQL, driver text) goes to the log under the request's id; the
      // body says only INTERNAL.
      host
        .switchToHttp()
        .getRequest<FastifyRequest>()
        .log.error({ err: exception }, 'unexpected error');
    }
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    if (body.code === 'UNAVAILABLE') {
      // An outage, not a bug: a rate-limited warning without a stack, and the client is told when
      // to try again.
      warnDatabaseUnavailable('REST', exception);
      void reply.header('retry-after', String(RETRY_AFTER_SECONDS));
    }
    void reply.status(status).header('content-type', 'application/json; charset=utf-8').send(body);
  }
}
