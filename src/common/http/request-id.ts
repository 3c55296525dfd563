import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

const SAFE_ID = /^[\w.:-]{1,128}$/;

/**
 * The request id on every log line of a request: the caller's `x-request-id` when it looks like
 * an id, a new UUID otherwise. It is echoed in the response's `x-request-id` header.
 */
export function requestId(req: IncomingMessage, res: ServerResponse): string {
  const given = req.headers['x-request-id'];
  const id = typeof given === 'string' && SAFE_ID.test(given) ? given : randomUUID();
  res.setHeader('x-request-id', id);
  return id;
}
