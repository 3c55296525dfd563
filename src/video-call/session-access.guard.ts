import { CanActivate, ExecutionContext, Injectable, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { isUUID } from 'class-validator';
import type { FastifyRequest } from 'fastify';
import type { AuthUser } from '../auth/auth-user.js';
import { DomainError } from '../common/errors/domain-error.js';
import type { AccessRule } from '../sessions/session-access.js';
import type { SessionRecord } from '../sessions/session-record.js';
import { SessionsService } from '../sessions/sessions.service.js';

const SESSION_ACCESS = 'video-call:sessionAccess';

/**
 * Declares who may act on the session named by the route's `:sessionId`: membership, role and
 * payment are enforced by SessionAccessGuard, in the contract's order.
 */
export const SessionAccess = (rule: AccessRule) => SetMetadata(SESSION_ACCESS, rule);

export type RequestWithSession = FastifyRequest & { user: AuthUser; session?: SessionRecord };

/**
 * Runs after the global token guard: a malformed id is 400, an unknown session 404, then the
 * rule's role, membership and payment checks. The loaded session is left on the request.
 */
@Injectable()
export class SessionAccessGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly sessions: SessionsService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const rule = this.reflector.get<AccessRule | undefined>(SESSION_ACCESS, context.getHandler());
    if (!rule) {
      return true;
    }
    const request = context.switchToHttp().getRequest<RequestWithSession>();
    const { sessionId } = request.params as { sessionId?: string };
    if (!sessionId || !isUUID(sessionId)) {
      throw new DomainError('VALIDATION_FAILED', 'sessionId must be a UUID', [
        { field: 'sessionId', messages: ['must be a UUID'] },
      ]);
    }
    request.session = await this.sessions.findAuthorized(sessionId, request.user, rule);
    return true;
  }
}
