import { registerUser } from '../factories/users.js';
import { connected, connectRoom } from '../utils/socket-client.js';
import { startTestApp, type TestApp } from '../utils/test-app.js';

const ALLOWED = 'https://app.example.com';

describe('CORS_ORIGINS on REST and on the WebSocket handshake', () => {
  let t: TestApp;
  let token: string;
  beforeAll(async () => {
    t = await startTestApp({ env: { CORS_ORIGINS: ALLOWED } });
    token = (await registerUser(t, 'client')).token;
  });
  afterAll(() => t.close());

  it('answers a preflight from an allowed origin, and not from a foreign one', async () => {
    const allowed = await t.api
      .options('/api/auth/me')
      .set('Origin', ALLOWED)
      .set('Access-Control-Request-Method', 'GET');
    expect(allowed.headers['access-control-allow-origin']).toBe(ALLOWED);
    const foreign = await t.api
      .options('/api/auth/me')
      .set('Origin', 'https://evil.example.com')
      .set('Access-Control-Request-Method', 'GET');
    expect(foreign.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('accepts a handshake from an allowed origin or without an Origin, and refuses a foreign one', async () => {
    const fromApp = await connected(connectRoom(t.url, token, { origin: ALLOWED }));
    expect(fromApp.connected).toBe(true);
    fromApp.disconnect();
    const nonBrowser = await connected(connectRoom(t.url, token));
    expect(nonBrowser.connected).toBe(true);
    nonBrowser.disconnect();
    const foreign = connectRoom(t.url, token, { origin: 'https://evil.example.com' });
    await expect(connected(foreign)).rejects.toThrow();
    foreign.disconnect();
  });
});
