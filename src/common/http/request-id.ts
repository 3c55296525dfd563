import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

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

/**
 * pino-http's id generator. With Fastify it does not run (middie hands pino-http the request
 * with Fastify's id already on it); it stays for a request that reaches pino-http without one.
 */
export function requestId(req: IncomingMessage, res: ServerResponse): string {
  const id = requestIdOf(req);
  res.setHeader('x-request-id', id);
  return id;
}
