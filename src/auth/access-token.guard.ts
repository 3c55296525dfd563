import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { isUUID } from 'class-validator';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DomainError } from '../common/errors/domain-error.js';
import { createValidationPipe } from '../common/errors/validation.js';
import { assertBodyParsed } from '../common/http/deferred-body-errors.js';
import { assertRouteInput } from '../common/http/route-input.js';
import {
  KEY_SCOPE,
  looksLikeServiceKey,
  type ServiceKeyScope,
} from '../service-keys/service-key-scopes.js';
import { KeyAttemptsThrottled, ServiceKeyVerifier } from '../service-keys/service-key-verifier.js';
import type { AuthUser } from './auth-user.js';
import { IS_PUBLIC } from './public.decorator.js';
import { TokenService } from './token.service.js';

type AuthRequest = FastifyRequest & { user?: AuthUser };

/**
 * Global guard: every HTTP route needs a valid bearer token unless it is @Public(). Role and
 * membership checks come later, declared per route (sessions/session-access.guard.ts), because the
 * contract puts them after validation (400) and existence (404). A service key (`svc_...`) is
 * also a bearer token, good only on the routes that name one of its scopes (`@KeyScope`).
 */
@Injectable()
export class AccessTokenGuard implements CanActivate {
  private readonly validation = createValidationPipe();

  constructor(
    private readonly reflector: Reflector,
    private readonly tokens: TokenService,
    private readonly keys: ServiceKeyVerifier,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') {
      return true;
    }
    const targets = [context.getHandler(), context.getClass()];
    const request = context.switchToHttp().getRequest<AuthRequest>();
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets)) {
      assertBodyParsed(request);
      return true;
    }
    const [scheme, token] = (request.headers.authorization ?? '').split(' ');
    if (scheme?.toLowerCase() !== 'bearer' || !token) {
      throw new DomainError('UNAUTHENTICATED', 'A bearer access token is required');
    }
    if (looksLikeServiceKey(token)) {
      await this.admitServiceKey(context, request, token);
      return true;
    }
    const { id, role } = await this.tokens.verify(token);
    request.user = { id, role };
    // The contract checks authentication first, then the body (see deferred-body-errors.ts).
    assertBodyParsed(request);
    return true;
  }

  /**
   * A key acts with an admin's reach, but only where the route names one of its scopes; on any
   * other route it is the wrong role, answered as @AdminOnly answers: after the input (400),
   * before anything is looked up, so a key learns nothing of what exists there.
   */
  private async admitServiceKey(
    context: ExecutionContext,
    request: AuthRequest,
    token: string,
  ): Promise<void> {
    let key;
    try {
      key = await this.keys.verify(token, request.ip);
    } catch (error) {
      if (error instanceof KeyAttemptsThrottled) {
        void context
          .switchToHttp()
          .getResponse<FastifyReply>()
          .header('retry-after', String(Math.ceil(error.retryAfterMs / 1000)));
      }
      throw error;
    }
    request.user = { id: key.id, role: 'admin', keyId: key.id };
    assertBodyParsed(request);
    const scope = this.reflector.getAllAndOverride<ServiceKeyScope | undefined>(KEY_SCOPE, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (!scope || !key.scopes.includes(scope)) {
      // Every path parameter of this API is an id; the session routes check theirs in their own
      // guard, which a refused key does not reach.
      for (const [field, value] of Object.entries(request.params as Record<string, string>)) {
        if (!isUUID(value)) {
          throw new DomainError('VALIDATION_FAILED', `${field} must be a UUID`, [
            { field, messages: ['must be a UUID'] },
          ]);
        }
      }
      await assertRouteInput(context, this.validation);
      throw new DomainError(
        'FORBIDDEN',
        scope
          ? `This service key lacks the scope ${scope}`
          : 'A service key cannot call this route',
      );
    }
  }
}
