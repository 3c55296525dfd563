import { Controller, Get, Headers, Inject, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { timingSafeEqual } from 'node:crypto';
import { Public } from '../auth/public.decorator.js';
import { DomainError } from '../common/errors/domain-error.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { MetricsService } from './metrics.service.js';

/**
 * `GET /metrics` (outside the /api prefix, as Prometheus expects): not behind the JWT guard, but
 * off with METRICS_ENABLED=false (404) or protected by METRICS_TOKEN (a bearer token of its own).
 */
@ApiExcludeController()
@Public()
@Controller('metrics')
export class MetricsController {
  constructor(
    private readonly metrics: MetricsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Get()
  async scrape(
    @Headers('authorization') authorization: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<string> {
    const { enabled, token } = this.config.metrics;
    if (!enabled) {
      throw new DomainError('NOT_FOUND', 'Not found');
    }
    if (token !== undefined && !bearerMatches(authorization, token)) {
      throw new DomainError('UNAUTHENTICATED', 'Metrics need the METRICS_TOKEN bearer token');
    }
    const { contentType, body } = await this.metrics.render();
    void reply.header('content-type', contentType);
    return body;
  }
}

function bearerMatches(header: string | undefined, token: string): boolean {
  const [scheme, given] = (header ?? '').split(' ');
  if (scheme?.toLowerCase() !== 'bearer' || !given) {
    return false;
  }
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}
