import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

const SAFE_ID = /^[\w.:-]{1,128}$/;

/**
 * The request id on every log line of a request: the caller's `x-request-id` when it looks like
 * an id, a new UUID otherwise. Fastify assigns it (create-app.ts), which echoes it in the
 * response's `x-request-id` header.
 */
export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && SAFE_ID.test(given) ? given : randomUUID();
}
