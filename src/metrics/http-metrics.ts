import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { MetricsService } from './metrics.service.js';

/** Label for requests that matched no route (404s): unbounded URLs must not become labels. */
export const UNMATCHED_ROUTE = '(unmatched)';

/**
 * Counts and times every HTTP response by its route pattern (`/api/sessions/:id`, never the raw
 * URL). A Fastify hook, so it sees every answer, errors and 404s included.
 */
export function installHttpMetrics(app: NestFastifyApplication): void {
  const metrics = app.get(MetricsService);
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onResponse', (request, reply, done) => {
      metrics.httpRequestDone(
        request.method,
        request.routeOptions.url ?? UNMATCHED_ROUTE,
        reply.statusCode,
        reply.elapsedTime / 1000,
      );
      done();
    });
}
