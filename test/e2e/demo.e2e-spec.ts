import { startTestApp, type TestApp } from '../utils/test-app.js';

describe('/demo reference client (static files)', () => {
  let t: TestApp;
  const TURN_SECRET = 'a-turn-secret-of-at-least-32-bytes!!';

  beforeAll(async () => {
    t = await startTestApp({
      env: {
        STUN_URLS: 'stun:turn.example.com:3478',
        TURN_URLS: 'turn:turn.example.com:3478',
        TURN_SECRET,
      },
    });
  });
  afterAll(() => t.close());

  it('serves the page with the elements integrators and tests rely on', async () => {
    const res = await t.api.get('/demo/');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    for (const id of ['status', 'connection', 'remote-video', 'local-video', 'leave']) {
      expect(res.text).toContain(`data-testid="${id}"`);
    }
    expect(res.headers['x-content-type-options']).toBe('nosniff');
  });

  it('redirects /demo to /demo/ so relative module URLs resolve', async () => {
    const res = await t.api.get('/demo?sessionId=abc');
    expect(res.status).toBe(301);
    expect(res.headers.location).toBe('/demo/?sessionId=abc');
  });

  it('serves its modules and the socket.io-client browser build, and nothing else of node_modules', async () => {
    const script = await t.api.get('/demo/demo.js');
    expect(script.status).toBe(200);
    expect(script.headers['content-type']).toMatch(/javascript/);
    const imported = /from '\.\/(vendor\/[^']+)'/.exec(script.text)?.[1];
    expect(imported).toBe('vendor/socket.io/socket.io.esm.min.js');
    const client = await t.api.get(`/demo/${imported}`);
    expect(client.status).toBe(200);
    expect(client.headers['content-type']).toMatch(/javascript/);
    expect(client.text).toMatch(/export\s*\{/);
    expect([403, 404]).toContain((await t.api.get('/demo/vendor/socket.io/socket.io.js')).status);
    expect([403, 404]).toContain(
      (await t.api.get('/demo/vendor/socket.io/../../../package.json')).status,
    );
  });

  it('hands out the STUN servers publicly, and never a TURN URL or credential', async () => {
    const res = await t.api.get('/demo/config.json');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ iceServers: [{ urls: ['stun:turn.example.com:3478'] }] });
    expect(res.text).not.toMatch(/turn:|credential|username/);
  });

  it('takes its ICE servers from the API with its token, and can force the relay', async () => {
    const script = (await t.api.get('/demo/demo.js')).text;
    expect(script).toContain('/api/video-calls/ice-servers/');
    expect(script).toMatch(/authorization: `Bearer \$\{token\}`/);
    expect(script).toMatch(/iceTransportPolicy: relayOnly \? 'relay'/);
  });
});
