import { Controller, Get, Req } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { Public } from '../auth/public.decorator.js';
import { buildAsyncApiDocument } from './asyncapi.document.js';

/** `GET /api/asyncapi.json`: the WebSocket twin of `/api/docs-json`. */
@ApiExcludeController()
@Public()
@Controller()
export class AsyncApiController {
  @Get('asyncapi.json')
  document(@Req() request: FastifyRequest): Record<string, unknown> {
    // With TRUST_PROXY these are the client's view (X-Forwarded-Host, X-Forwarded-Proto).
    return buildAsyncApiDocument({ host: request.host, secure: request.protocol === 'https' });
  }
}
