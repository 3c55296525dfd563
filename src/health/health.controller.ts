import { Controller, Get, ServiceUnavailableException } from '@nestjs/common';
import { Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import {
  HealthCheckService,
  TypeOrmHealthIndicator,
  type HealthIndicatorResult,
} from '@nestjs/terminus';
import type { FastifyReply } from 'fastify';
import { Public } from '../auth/public.decorator.js';
import { RedisFanout } from '../realtime/redis-fanout.js';
import { ShutdownState } from './shutdown-state.js';

@ApiExcludeController()
@Public()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly db: TypeOrmHealthIndicator,
    private readonly shutdown: ShutdownState,
    private readonly fanout: RedisFanout,
  ) {}

  /** The process runs. */
  @Get('live')
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /** The process can serve: the database answers and no shutdown has begun. */
  @Get('ready')
  async ready(@Res({ passthrough: true }) reply: FastifyReply): Promise<object> {
    try {
      const result = await this.health.check([
        (): HealthIndicatorResult =>
          this.shutdown.isDraining
            ? { lifecycle: { status: 'down', message: 'shutting down' } }
            : { lifecycle: { status: 'up' } },
        // Abandoned after 2 s: a silent database still gets its 503 well within the 5 s of the
        // contract (the ping's statement itself is bounded by the pool, DATABASE_BOUNDS).
        () => this.db.pingCheck('database', { timeout: 2000 }),
      ]);
      // Redis only carries fan-out between instances: its state is reported, never a reason for 503.
      const redis = { status: this.fanout.status() };
      return { ...result, details: { ...result.details, redis } };
    } catch (error) {
      if (error instanceof ServiceUnavailableException) {
        void reply.status(503);
        return error.getResponse() as object;
      }
      throw error;
    }
  }
}
