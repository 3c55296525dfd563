import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { DomainError } from '../common/errors/domain-error.js';
import { assertBodyParsed } from '../common/http/deferred-body-errors.js';
import type { AuthUser } from './auth-user.js';
import { IS_PUBLIC } from './public.decorator.js';
import { TokenService } from './token.service.js';

/**
 * Global guard: every HTTP route needs a valid bearer token unless it is @Public(). Role and
 * membership checks come later, declared per route (sessions/session-access.guard.ts), because the
 * contract puts them after validation (400) and existence (404).
 */
@Injectable()
export class AccessTokenGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly tokens: TokenService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') {
      return true;
    }
    const targets = [context.getHandler(), context.getClass()];
    const request = context.switchToHttp().getRequest<FastifyRequest & { user?: AuthUser }>();
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets)) {
      assertBodyParsed(request);
      return true;
    }
    const [scheme, token] = (request.headers.authorization ?? '').split(' ');
    if (scheme?.toLowerCase() !== 'bearer' || !token) {
      throw new DomainError('UNAUTHENTICATED', 'A bearer access token is required');
    }
    const { id, role } = await this.tokens.verify(token);
    request.user = { id, role };
    // The contract checks authentication first, then the body (see deferred-body-errors.ts).
    assertBodyParsed(request);
    return true;
  }
}
