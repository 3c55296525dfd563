import { connect } from 'node:net';
import request from 'supertest';
import { ShutdownState } from '../../src/health/shutdown-state.js';
import { startTestApp, type TestApp } from '../utils/test-app.js';

/** Raw HTTP: a request whose body is held back until `finish()`, then the whole response. */
function heldRequest(url: string, path: string, body: string) {
  const { hostname, port } = new URL(url);
  const socket = connect({ host: hostname, port: Number(port) });
  let response = '';
  socket.on('data', (d) => (response += d.toString()));
  const closed = new Promise<string>((resolve) => socket.on('close', () => resolve(response)));
  const opened = new Promise<void>((resolve) => socket.on('connect', () => resolve()));
  return {
    async start() {
      await opened;
      socket.write(
        `POST ${path} HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body.slice(0, 5)}`,
      );
    },
    finish: () => socket.write(body.slice(5)),
    closed,
  };
}

describe('graceful shutdown', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });

  it('turns readiness 503 at once, lets an open request finish, and refuses new connections', async () => {
    const open = heldRequest(
      t.url,
      '/api/auth/login',
      JSON.stringify({ email: 'nobody@test.local', password: 'whatever-1' }),
    );
    await open.start();
    await new Promise((r) => setTimeout(r, 100));

    t.app.get(ShutdownState).beginDraining();
    const ready = await request(t.url).get('/api/health/ready');
    expect(ready.status).toBe(503);

    const closing = t.app.close();
    await new Promise((r) => setTimeout(r, 200));
    // New connections are refused while the open request is still being served.
    await expect(request(t.url).get('/api/health/live')).rejects.toThrow(
      /ECONNREFUSED|socket hang up|ECONNRESET/,
    );

    open.finish();
    const response = await open.closed;
    expect(response).toMatch(/^HTTP\/1\.1 401 /);
    expect(response).toContain('"code":"UNAUTHENTICATED"');
    await closing;
    await t.db.drop();
  });
});
