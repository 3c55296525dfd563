import {
  applyDecorators,
  CanActivate,
  createParamDecorator,
  ExecutionContext,
  Injectable,
  SetMetadata,
  UseGuards,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { isUUID } from 'class-validator';
import type { FastifyRequest } from 'fastify';
import type { AuthUser } from '../auth/auth-user.js';
import type { UserRole } from '../auth/user.entity.js';
import { ApiErrors } from '../common/errors/api-errors.decorator.js';
import { DomainError } from '../common/errors/domain-error.js';
import type { ErrorCode } from '../common/errors/error-codes.js';
import { createValidationPipe } from '../common/errors/validation.js';
import { assertRouteInput } from '../common/http/route-input.js';
import { assertAccess, assertRole, type AccessRule } from './session-access.js';
import type { SessionRecord } from './session-record.js';
import { SessionsService } from './sessions.service.js';

const SESSION_ACCESS = 'sessions:access';
const ROLE_ONLY = 'auth:roleOnly';

interface SessionAccessMetadata {
  rule: AccessRule;
  param: 'id' | 'sessionId';
}

/**
 * Who may act on the session named by the route's `param`: existence, role, membership and
 * payment, enforced by RouteAccessGuard in the contract's order. The handler gets the session
 * it loaded with `@AccessedSession()`.
 */
export const SessionAccess = (
  rule: AccessRule,
  param: 'id' | 'sessionId',
  ...outcomes: ErrorCode[]
) =>
  applyDecorators(
    SetMetadata(SESSION_ACCESS, { rule, param } satisfies SessionAccessMetadata),
    UseGuards(SessionAccessGuard),
    ApiErrors(...accessErrors(rule), ...outcomes),
  );

/** The 4xx answers the checks of `rule` can give, for the route's OpenAPI entry. */
function accessErrors(rule: AccessRule): ErrorCode[] {
  return [
    'VALIDATION_FAILED',
    'UNAUTHENTICATED',
    'NOT_FOUND',
    ...(rule.admin === 'forbid' || !rule.participants ? (['FORBIDDEN'] as const) : []),
    ...(rule.participants ? (['NOT_PARTICIPANT'] as const) : []),
    ...(rule.requirePayment ? (['PAYMENT_NOT_CONFIRMED'] as const) : []),
  ];
}

interface RoleOnlyMetadata {
  role: UserRole;
  message: string;
}

/**
 * Only a user of `role` may call this route (or, on a class, any of its routes); everyone else
 * gets FORBIDDEN with `message`, whatever the ids name, so nobody else learns which exist.
 */
export const RoleOnly = (role: UserRole, message: string) =>
  applyDecorators(
    SetMetadata(ROLE_ONLY, { role, message } satisfies RoleOnlyMetadata),
    UseGuards(RoleOnlyGuard),
  );

/** Only an admin may call this route (or, on a class, any of its routes): see RoleOnly. */
export const AdminOnly = (message = 'Only an admin can do this') => RoleOnly('admin', message);

type RequestWithSession = FastifyRequest & { user: AuthUser; session?: SessionRecord };

/** The session that `@SessionAccess` loaded and let the caller act on. */
export const AccessedSession = createParamDecorator(
  (_: unknown, ctx: ExecutionContext): SessionRecord | undefined =>
    ctx.switchToHttp().getRequest<RequestWithSession>().session,
);

/**
 * Runs after the global token guard (401), and checks what Nest's pipes would check later
 * first: malformed ids and bodies are 400 before a session is looked up (404) and before the
 * rule's role, membership and payment checks. The loaded session is left on the request.
 */
@Injectable()
export class SessionAccessGuard implements CanActivate {
  private readonly validation = createValidationPipe();

  constructor(
    private readonly reflector: Reflector,
    private readonly sessions: SessionsService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const access = this.reflector.get<SessionAccessMetadata | undefined>(
      SESSION_ACCESS,
      context.getHandler(),
    );
    if (!access) {
      return true;
    }
    const request = context.switchToHttp().getRequest<RequestWithSession>();
    const id = (request.params as Record<string, string | undefined>)[access.param];
    if (!id || !isUUID(id)) {
      throw new DomainError('VALIDATION_FAILED', `${access.param} must be a UUID`, [
        { field: access.param, messages: ['must be a UUID'] },
      ]);
    }
    await assertRouteInput(context, this.validation);
    const session = await this.sessions.findOrFail(id);
    assertAccess(session, request.user, access.rule);
    request.session = session;
    return true;
  }
}

/**
 * After the global token guard: ids and bodies first (400, as for every route), then the role,
 * before anything is looked up.
 */
@Injectable()
export class RoleOnlyGuard implements CanActivate {
  private readonly validation = createValidationPipe();

  constructor(private readonly reflector: Reflector) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const only = this.reflector.getAllAndOverride<RoleOnlyMetadata | undefined>(ROLE_ONLY, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (only === undefined) {
      return true;
    }
    await assertRouteInput(context, this.validation);
    assertRole(
      context.switchToHttp().getRequest<RequestWithSession>().user,
      only.role,
      only.message,
    );
    return true;
  }
}
