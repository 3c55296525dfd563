import { CanActivate, ExecutionContext, Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DomainError } from '../common/errors/domain-error.js';
import { RateLimiter } from '../common/rate-limit/rate-limiter.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';

/**
 * Login and registration attempts per client address: AUTH_RATE_LIMIT a minute (bursts up to the
 * same number), then 429 RATE_LIMITED with Retry-After. Slows password guessing and sign-up abuse.
 */
@Injectable()
export class AuthThrottleGuard implements CanActivate, OnModuleDestroy {
  private readonly limiter: RateLimiter;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.limiter = new RateLimiter(config.authRateLimit, 60_000);
  }

  canActivate(context: ExecutionContext): boolean {
    const http = context.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const verdict = this.limiter.take(request.ip);
    if (!verdict.allowed) {
      void http
        .getResponse<FastifyReply>()
        .header('retry-after', String(Math.ceil(verdict.retryAfterMs / 1000)));
      throw new DomainError(
        'RATE_LIMITED',
        'Too many login or registration attempts; try again later',
      );
    }
    return true;
  }

  onModuleDestroy(): void {
    this.limiter.close();
  }
}
