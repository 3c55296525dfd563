import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import type { Response } from 'supertest';
import { ShutdownState } from '../../src/health/shutdown-state.js';
import { registerUser } from '../factories/users.js';
import { startTestApp, type TestApp } from '../utils/test-app.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const MIB = 1024 * 1024;

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Sends a request head, then writes the body in chunks until the server answers (or the body is
 * all written). A server may answer an oversized body on its Content-Length before reading it;
 * a client that kept writing could then see a reset instead of the answer.
 */
function rawRequest(
  url: string,
  head: string,
  body: { size: number; chunk?: number },
): Promise<RawResponse & { bytesWritten: number }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) });
    const received: Buffer[] = [];
    let answered = false;
    let bytesWritten = 0;
    const chunk = Buffer.alloc(body.chunk ?? 64 * 1024, 'a');

    const writeMore = () => {
      while (!answered && bytesWritten < body.size) {
        const n = Math.min(chunk.length, body.size - bytesWritten);
        bytesWritten += n;
        if (!socket.write(chunk.subarray(0, n))) {
          socket.once('drain', writeMore);
          return;
        }
      }
    };

    const parse = (): RawResponse | undefined => {
      const text = Buffer.concat(received).toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) {
        return undefined;
      }
      const [statusLine, ...lines] = text.slice(0, end).split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const i = line.indexOf(':');
        headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
      }
      const length = Number(headers['content-length'] ?? NaN);
      const rest = text.slice(end + 4);
      if (!Number.isNaN(length) && Buffer.byteLength(rest, 'latin1') < length) {
        return undefined;
      }
      return { status: Number(statusLine.split(' ')[1]), headers, body: rest };
    };

    socket.on('data', (data) => {
      answered = true;
      received.push(data);
      const response = parse();
      if (response) {
        socket.destroy();
        resolve({ ...response, bytesWritten });
      }
    });
    socket.on('error', (error) => {
      const response = parse();
      if (response) {
        resolve({ ...response, bytesWritten });
      } else {
        reject(error);
      }
    });
    socket.on('close', () => {
      const response = parse();
      if (response) {
        resolve({ ...response, bytesWritten });
      } else {
        reject(new Error(`connection closed without an answer after ${bytesWritten} bytes`));
      }
    });
    socket.on('connect', () => {
      socket.write(head);
      writeMore();
    });
  });
}

function expectErrorBody(body: unknown, status: number, error: string, code: string) {
  expect(body).toEqual({ statusCode: status, error, code, message: expect.any(String) });
}

describe('HTTP errors and common behaviour', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  describe('unknown routes', () => {
    it.each([
      ['GET', '/api/nope'],
      ['GET', '/nope'],
      ['POST', '/api/auth/nope'],
      ['DELETE', '/api/auth/login'],
    ])('%s %s is 404 NOT_FOUND', async (method, path) => {
      const res = await t.api[method.toLowerCase() as 'get'](path);
      expect(res.status).toBe(404);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expectErrorBody(res.body, 404, 'Not Found', 'NOT_FOUND');
    });

    it('answers an unknown route under /api without asking for a token first', async () => {
      const res = await t.api.get('/api/does-not-exist').set('Authorization', 'Bearer garbage');
      expect(res.status).toBe(404);
      expect(res.body.code).toBe('NOT_FOUND');
    });
  });

  describe('request bodies', () => {
    it('refuses malformed JSON with 400 VALIDATION_FAILED', async () => {
      const res = await t.api
        .post('/api/auth/register')
        .set('content-type', 'application/json')
        .send('{"email": "a@b.c", ');
      expect(res.status).toBe(400);
      expectErrorBody(res.body, 400, 'Bad Request', 'VALIDATION_FAILED');
    });

    it('refuses an empty JSON body with 400 VALIDATION_FAILED', async () => {
      const res = await t.api
        .post('/api/auth/login')
        .set('content-type', 'application/json')
        .send('');
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('VALIDATION_FAILED');
    });

    it('refuses a JSON body that poisons the prototype', async () => {
      const res = await t.api
        .post('/api/auth/register')
        .set('content-type', 'application/json')
        .send('{"__proto__": {"role": "admin"}, "email": "x@test.local"}');
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('VALIDATION_FAILED');
    });

    it.each([
      ['text/plain', 'email=a@b.c'],
      [
        'application/x-www-form-urlencoded',
        'email=a%40test.local&password=long-enough&name=A&role=client',
      ],
      ['application/xml', '<user/>'],
      ['multipart/form-data; boundary=x', '--x--'],
    ])('refuses a %s body with 415 UNSUPPORTED_MEDIA_TYPE', async (type, body) => {
      const res = await t.api.post('/api/auth/register').set('content-type', type).send(body);
      expect(res.status).toBe(415);
      expectErrorBody(res.body, 415, 'Unsupported Media Type', 'UNSUPPORTED_MEDIA_TYPE');
      expect(res.body.message).toMatch(/application\/json/);
      expect(res.headers['x-content-type-options']).toBe('nosniff');
    });

    it('checks the token before the body: 401 first, then 400 / 415 for a signed-in caller', async () => {
      const user = await registerUser(t, 'client');
      const malformed = (auth?: string) => {
        const req = t.api.post('/api/sessions').set('content-type', 'application/json');
        return (auth ? req.set('Authorization', auth) : req).send('{"psychologistId": ');
      };
      const foreign = (auth?: string) => {
        const req = t.api.post('/api/sessions').set('content-type', 'application/xml');
        return (auth ? req.set('Authorization', auth) : req).send('<session/>');
      };
      expect((await malformed()).body.code).toBe('UNAUTHENTICATED');
      expect((await foreign()).body.code).toBe('UNAUTHENTICATED');
      expect((await malformed('Bearer not-a-token')).status).toBe(401);
      const bad = await malformed(user.auth);
      expect(bad.status).toBe(400);
      expectErrorBody(bad.body, 400, 'Bad Request', 'VALIDATION_FAILED');
      const unsupported = await foreign(user.auth);
      expect(unsupported.status).toBe(415);
      expectErrorBody(unsupported.body, 415, 'Unsupported Media Type', 'UNSUPPORTED_MEDIA_TYPE');
    });

    it('refuses a text/plain body that is valid JSON, and creates nothing', async () => {
      const email = `plain-${randomBytes(4).toString('hex')}@test.local`;
      const res = await t.api
        .post('/api/auth/register')
        .set('content-type', 'text/plain')
        .send(JSON.stringify({ email, password: 'long-enough', name: 'A', role: 'client' }));
      expect(res.status).toBe(415);
      expect(res.body.code).toBe('UNSUPPORTED_MEDIA_TYPE');
      const rows = await t.dataSource.query('SELECT 1 FROM users WHERE email = $1', [email]);
      expect(rows).toHaveLength(0);
    });

    it('accepts application/json with a charset', async () => {
      const res = await t.api
        .post('/api/auth/register')
        .set('content-type', 'application/json; charset=utf-8')
        .send(
          JSON.stringify({
            email: `charset-${randomBytes(4).toString('hex')}@test.local`,
            password: 'long-enough',
            name: 'A',
            role: 'client',
          }),
        );
      expect(res.status).toBe(201);
    });

    it('refuses a body over 1 MiB with 413 PAYLOAD_TOO_LARGE, and still serves afterwards', async () => {
      const size = MIB + 1;
      const res = await rawRequest(
        t.url,
        [
          'POST /api/auth/register HTTP/1.1',
          `Host: ${new URL(t.url).host}`,
          'Content-Type: application/json',
          `Content-Length: ${size}`,
          'X-Request-Id: too-large-1',
          '',
          '',
        ].join('\r\n'),
        { size },
      );
      expect(res.status).toBe(413);
      const body = JSON.parse(res.body);
      expectErrorBody(body, 413, 'Payload Too Large', 'PAYLOAD_TOO_LARGE');
      expect(body.message).toMatch(/1 MiB/);
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['x-request-id']).toBe('too-large-1');

      const after = await t.api.get('/api/health/live');
      expect(after.status).toBe(200);
      const user = await registerUser(t, 'client');
      expect(user.id).toMatch(UUID);
    });

    it('refuses a much larger body on its Content-Length, before it is sent', async () => {
      const size = 64 * MIB;
      const res = await rawRequest(
        t.url,
        [
          'POST /api/auth/login HTTP/1.1',
          `Host: ${new URL(t.url).host}`,
          'Content-Type: application/json',
          `Content-Length: ${size}`,
          '',
          '',
        ].join('\r\n'),
        { size },
      );
      expect(res.status).toBe(413);
      expect(JSON.parse(res.body).code).toBe('PAYLOAD_TOO_LARGE');
      expect(res.bytesWritten).toBeLessThan(size);
      expect((await t.api.get('/api/health/ready')).status).toBe(200);
    });

    it('refuses a chunked body that grows over 1 MiB with 413 PAYLOAD_TOO_LARGE', async () => {
      // No Content-Length: the limit is found while reading.
      const chunkSize = 64 * 1024;
      const chunks = Math.ceil((MIB + 1) / chunkSize) + 1;
      const res = await new Promise<RawResponse>((resolve, reject) => {
        const { hostname, port } = new URL(t.url);
        const socket = connect({ host: hostname, port: Number(port) });
        const received: Buffer[] = [];
        let answered = false;
        socket.on('connect', () => {
          socket.write(
            'POST /api/auth/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n',
          );
          const payload = Buffer.alloc(chunkSize, 'a');
          let sent = 0;
          const more = () => {
            while (!answered && sent < chunks) {
              sent++;
              const ok = socket.write(
                Buffer.concat([
                  Buffer.from(`${chunkSize.toString(16)}\r\n`),
                  payload,
                  Buffer.from('\r\n'),
                ]),
              );
              if (!ok) {
                socket.once('drain', more);
                return;
              }
            }
            if (!answered) {
              socket.write('0\r\n\r\n');
            }
          };
          more();
        });
        socket.on('data', (d) => {
          answered = true;
          received.push(d);
          const text = Buffer.concat(received).toString();
          const end = text.indexOf('\r\n\r\n');
          const length = /content-length: (\d+)/i.exec(text)?.[1];
          if (end >= 0 && length !== undefined && text.length - end - 4 >= Number(length)) {
            socket.destroy();
            resolve({
              status: Number(text.split(' ')[1]),
              headers: {},
              body: text.slice(end + 4),
            });
          }
        });
        socket.on('error', reject);
      });
      expect(res.status).toBe(413);
      expect(JSON.parse(res.body).code).toBe('PAYLOAD_TOO_LARGE');
      expect((await t.api.get('/api/health/live')).status).toBe(200);
    });

    it('accepts a body just under 1 MiB (it is then validated)', async () => {
      const filler = 'a'.repeat(MIB - 200);
      const res = await t.api
        .post('/api/auth/login')
        .send({ email: 'someone@test.local', password: filler });
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('VALIDATION_FAILED');
    });
  });

  describe('unexpected errors', () => {
    it('answer 500 INTERNAL without stack, SQL or driver message', async () => {
      const user = await registerUser(t, 'client');
      // Take the users table away under the running app: the next query fails inside PostgreSQL.
      await t.dataSource.query('ALTER TABLE users RENAME TO users_hidden_for_test');
      let res;
      try {
        res = await t.api.get('/api/auth/me').set('Authorization', user.auth);
      } finally {
        await t.dataSource.query('ALTER TABLE users_hidden_for_test RENAME TO users');
      }
      expect(res.status).toBe(500);
      expect(res.body).toEqual({
        statusCode: 500,
        error: 'Internal Server Error',
        code: 'INTERNAL',
        message: expect.any(String),
      });
      expect(res.text).not.toMatch(/users|relation|SELECT|QueryFailed|at \w|\.ts:|\.js:/i);
      expect(res.headers['x-content-type-options']).toBe('nosniff');

      const again = await t.api.get('/api/auth/me').set('Authorization', user.auth);
      expect(again.status).toBe(200);
    });

    it('log the whole error under the request id', async () => {
      const lines: Array<Record<string, any>> = [];
      const logged = await startTestApp({
        env: { LOG_LEVEL: 'info' },
        logTo: { write: (line: string) => lines.push(JSON.parse(line)) },
      });
      try {
        const user = await registerUser(logged, 'client');
        await logged.dataSource.query('ALTER TABLE users RENAME TO users_hidden_for_test');
        let res;
        try {
          res = await logged.api
            .get('/api/auth/me')
            .set('Authorization', user.auth)
            .set('x-request-id', 'failing-request-1');
        } finally {
          await logged.dataSource.query('ALTER TABLE users_hidden_for_test RENAME TO users');
        }
        expect(res.status).toBe(500);
        const ofRequest = lines.filter((l) => l.reqId === 'failing-request-1');
        const error = ofRequest.find((l) => l.msg === 'unexpected error');
        expect(error).toMatchObject({
          level: 50,
          err: { message: expect.stringMatching(/users/) },
        });
        expect(error!.err.stack).toMatch(/\n\s+at /);
        // One access line per request, with its outcome, and no credentials in any line.
        expect(ofRequest.filter((l) => l.msg === 'request completed')).toEqual([
          expect.objectContaining({ method: 'GET', url: '/api/auth/me', statusCode: 500 }),
        ]);
        expect(JSON.stringify(lines)).not.toContain(user.token);
      } finally {
        await logged.close();
      }
    });
  });

  describe('headers on every response', () => {
    const probes: Array<[string, (t: TestApp) => Promise<Response>]> = [
      ['a 200', (t) => t.api.get('/api/health/live')],
      [
        'a 201',
        (t) =>
          t.api.post('/api/auth/register').send({
            email: `headers-${randomBytes(4).toString('hex')}@test.local`,
            password: 'long-enough',
            name: 'H',
            role: 'client',
          }),
      ],
      ['a 400', (t) => t.api.post('/api/auth/login').send({})],
      ['a 401', (t) => t.api.get('/api/auth/me')],
      ['a 404', (t) => t.api.get('/api/nope')],
      ['a 415', (t) => t.api.post('/api/auth/login').set('content-type', 'text/plain').send('x')],
      ['the OpenAPI document', (t) => t.api.get('/api/docs-json')],
      ['Swagger UI', (t) => t.api.get('/api/docs')],
      [
        'a CORS preflight',
        (t) =>
          t.api
            .options('/api/auth/login')
            .set('Origin', 'https://app.example.com')
            .set('Access-Control-Request-Method', 'POST'),
      ],
    ];

    it.each(probes)('%s carries nosniff and DENY and no x-powered-by', async (name, probe) => {
      const res = await probe(t);
      expect(`${name} ${res.status}`).toMatch(/^(a (\d+) \2|\D.* (200|204))$/);
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.headers['x-powered-by']).toBeUndefined();
      // HSTS only in production.
      expect(res.headers['strict-transport-security']).toBeUndefined();
    });

    it('echoes a given x-request-id', async () => {
      const res = await t.api.get('/api/health/live').set('x-request-id', 'client-id-123');
      expect(res.headers['x-request-id']).toBe('client-id-123');
      const error = await t.api.get('/api/nope').set('x-request-id', 'client-id-456');
      expect(error.status).toBe(404);
      expect(error.headers['x-request-id']).toBe('client-id-456');
    });

    it('generates a UUID x-request-id when none (or an unsafe one) is given', async () => {
      const a = await t.api.get('/api/health/live');
      const b = await t.api.get('/api/nope');
      expect(a.headers['x-request-id']).toMatch(UUID);
      expect(b.headers['x-request-id']).toMatch(UUID);
      expect(a.headers['x-request-id']).not.toBe(b.headers['x-request-id']);
      const unsafe = await t.api.get('/api/health/live').set('x-request-id', 'a b<script>');
      expect(unsafe.headers['x-request-id']).toMatch(UUID);
      const long = await t.api.get('/api/health/live').set('x-request-id', 'x'.repeat(129));
      expect(long.headers['x-request-id']).toMatch(UUID);
    });
  });

  describe('health', () => {
    it('live is 200 without a token', async () => {
      const res = await t.api.get('/api/health/live');
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ status: 'ok' });
    });

    it('ready is 200 with the database up', async () => {
      const res = await t.api.get('/api/health/ready');
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ status: 'ok', info: { database: { status: 'up' } } });
    });
  });
});

describe('health during a graceful shutdown', () => {
  it('ready answers 503 once draining begins, while live stays 200', async () => {
    const t = await startTestApp();
    try {
      expect((await t.api.get('/api/health/ready')).status).toBe(200);
      t.app.get(ShutdownState).beginDraining();
      const ready = await t.api.get('/api/health/ready');
      expect(ready.status).toBe(503);
      expect(ready.body).toMatchObject({ status: 'error' });
      expect((await t.api.get('/api/health/live')).status).toBe(200);
    } finally {
      await t.close();
    }
  });
});

describe('headers in production', () => {
  it('adds HSTS', async () => {
    const t = await startTestApp({
      env: { NODE_ENV: 'production', CORS_ORIGINS: 'https://app.example.com' },
    });
    try {
      const res = await t.api.get('/api/health/live');
      expect(res.headers['strict-transport-security']).toMatch(/max-age=\d+/);
      const error = await t.api.get('/api/nope');
      expect(error.headers['strict-transport-security']).toMatch(/max-age=\d+/);
    } finally {
      await t.close();
    }
  });
});
