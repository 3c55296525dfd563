import { connect, type Socket } from 'node:net';

export interface RawRequest {
  method: string;
  /** Path with query, e.g. `/api/video-calls/start/<id>`. */
  path: string;
  headers?: Record<string, string>;
  /** Sent as JSON (with its content type) when given; no body and no content type otherwise. */
  body?: unknown;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  text: string;
  /** The body parsed as a JSON object; empty when it is not one (see `text`). */
  body: Record<string, unknown>;
}

function serialize(req: RawRequest, host: string): Buffer {
  const payload = req.body === undefined ? undefined : Buffer.from(JSON.stringify(req.body));
  const lines = [`${req.method} ${req.path} HTTP/1.1`, `Host: ${host}`, 'Connection: close'];
  for (const [name, value] of Object.entries(req.headers ?? {})) {
    lines.push(`${name}: ${value}`);
  }
  if (payload) {
    lines.push('Content-Type: application/json', `Content-Length: ${payload.length}`);
  }
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`);
  return payload ? Buffer.concat([head, payload]) : head;
}

function dechunk(raw: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = raw.indexOf('\r\n', at);
    if (eol < 0) {
      throw new Error('truncated chunked body');
    }
    const size = parseInt(raw.subarray(at, eol).toString('latin1'), 16);
    if (size === 0) {
      return Buffer.concat(parts);
    }
    parts.push(raw.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}

function parse(raw: Buffer): RawResponse {
  const split = raw.indexOf('\r\n\r\n');
  if (split < 0) {
    throw new Error(`no complete HTTP response: ${JSON.stringify(raw.toString('latin1'))}`);
  }
  const [statusLine, ...headerLines] = raw.subarray(0, split).toString('latin1').split('\r\n');
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
  if (!match) {
    throw new Error(`bad status line: ${statusLine}`);
  }
  const headers: Record<string, string> = {};
  for (const line of headerLines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let payload = raw.subarray(split + 4);
  if (headers['transfer-encoding']?.includes('chunked')) {
    payload = dechunk(payload);
  }
  const text = payload.toString('utf8');
  let body: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null) {
      body = parsed as Record<string, unknown>;
    }
  } catch {
    // not JSON: `text` has it
  }
  return { status: Number(match[1]), headers, text, body };
}

/**
 * Sends requests so that they reach the server together. `Promise.all` of supertest calls opens
 * connections one after the other, so the requests arrive milliseconds apart and a read-then-write
 * race can hide. Here every request gets its own connection, opened first; each request is written
 * except its last byte (the server cannot act on it yet), and only when all are in flight are the
 * last bytes written, back to back. Responses are returned in the order of `requests`.
 */
export async function simultaneousRequests(
  baseUrl: string,
  requests: RawRequest[],
): Promise<RawResponse[]> {
  const url = new URL(baseUrl);
  const port = Number(url.port);
  const hostname = url.hostname.replace(/^\[|\]$/g, '');

  const sockets = await Promise.all(
    requests.map(
      () =>
        new Promise<Socket>((resolve, reject) => {
          const socket = connect({ host: hostname, port }, () => resolve(socket));
          socket.setNoDelay(true);
          socket.once('error', reject);
        }),
    ),
  );

  try {
    const responses = sockets.map(
      (socket) =>
        new Promise<RawResponse>((resolve, reject) => {
          const chunks: Buffer[] = [];
          socket.on('data', (chunk: Buffer) => chunks.push(chunk));
          socket.once('error', reject);
          socket.once('close', () => {
            try {
              resolve(parse(Buffer.concat(chunks)));
            } catch (error) {
              reject(error instanceof Error ? error : new Error(String(error)));
            }
          });
        }),
    );

    const wires = requests.map((req) => serialize(req, url.host));
    await Promise.all(
      sockets.map(
        (socket, i) =>
          new Promise<void>((resolve, reject) =>
            socket.write(wires[i].subarray(0, -1), (error) => (error ? reject(error) : resolve())),
          ),
      ),
    );
    // Give the server time to read every prefix, so the last bytes are all it still waits for.
    await new Promise((resolve) => setTimeout(resolve, 100));
    sockets.forEach((socket, i) => socket.write(wires[i].subarray(-1)));

    return await Promise.all(responses);
  } finally {
    for (const socket of sockets) {
      socket.destroy();
    }
  }
}

/** `count` copies of one request, sent together. */
export function sameRequestTogether(
  baseUrl: string,
  request: RawRequest,
  count: number,
): Promise<RawResponse[]> {
  return simultaneousRequests(
    baseUrl,
    Array.from({ length: count }, () => request),
  );
}
