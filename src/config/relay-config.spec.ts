import { loadConfig } from './app-config.js';
import { oneProblem, SECRET } from '../../test/utils/config-problems.js';

describe('loadConfig: metrics and the relay', () => {
  it('reads the metrics switch and token', () => {
    expect(loadConfig({ METRICS_ENABLED: 'false' }).metrics).toEqual({
      enabled: false,
      token: undefined,
    });
    expect(loadConfig({ METRICS_TOKEN: 'scrape-token-0123456789' }).metrics).toEqual({
      enabled: true,
      token: 'scrape-token-0123456789',
    });
    oneProblem({ METRICS_ENABLED: 'off?' }, 'METRICS_ENABLED');
    oneProblem({ METRICS_TOKEN: 'short' }, 'METRICS_TOKEN');
  });

  it('reads the relay: TURN_URLS with a TURN_SECRET of 32+ bytes, STUN_URLS, the credential lifetime', () => {
    const config = loadConfig({
      TURN_URLS: 'turn:turn.example.com:3478?transport=udp, turns:turn.example.com:5349',
      TURN_SECRET: SECRET,
      STUN_URLS: 'stun:turn.example.com:3478',
      TURN_CREDENTIAL_TTL_SECONDS: '600',
    });
    expect(config.turn).toEqual({
      urls: ['turn:turn.example.com:3478?transport=udp', 'turns:turn.example.com:5349'],
      secret: SECRET,
    });
    expect(config.stunUrls).toEqual(['stun:turn.example.com:3478']);
    expect(config.turnCredentialTtlSeconds).toBe(600);
    // The default covers the join window and the longest call.
    expect(
      loadConfig({ JOIN_EARLY_MINUTES: '10', MAX_CALL_MINUTES: '60' }).turnCredentialTtlSeconds,
    ).toBe(70 * 60);
  });

  it('refuses a relay it could not issue credentials for, and bad URLs', () => {
    for (const env of [{}, { NODE_ENV: 'production', JWT_SECRET: SECRET }]) {
      expect(oneProblem({ ...env, TURN_URLS: 'turn:t.example.com' }, 'TURN_SECRET')).toMatch(
        /required with TURN_URLS/,
      );
    }
    expect(
      oneProblem({ TURN_URLS: 'turn:t.example.com', TURN_SECRET: 'x'.repeat(31) }, 'TURN_SECRET'),
    ).toMatch(/32 bytes/);
    oneProblem({ TURN_URLS: 'http://t.example.com', TURN_SECRET: SECRET }, 'TURN_URLS');
    oneProblem({ TURN_URLS: 'stun:t.example.com', TURN_SECRET: SECRET }, 'TURN_URLS');
    oneProblem({ STUN_URLS: 'turn:t.example.com' }, 'STUN_URLS');
    oneProblem({ TURN_CREDENTIAL_TTL_SECONDS: '0' }, 'TURN_CREDENTIAL_TTL_SECONDS');
  });

  it('refuses ICE_SERVERS, saying what replaces it', () => {
    const line = oneProblem({ ICE_SERVERS: '[{"urls":"stun:x"}]' }, 'ICE_SERVERS');
    expect(line).toMatch(/STUN_URLS/);
    expect(line).toMatch(/TURN_URLS/);
    expect(line).toMatch(/TURN_SECRET/);
  });
});
