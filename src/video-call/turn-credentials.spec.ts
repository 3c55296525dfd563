import { iceServersFor, turnCredential, turnUsername } from './turn-credentials.js';

const SECRET = 'a-turn-secret-of-at-least-32-bytes!!';
const NOW = new Date('2026-01-01T10:00:00.750Z');
const USER = '6f1c2d4e-0000-4000-8000-000000000001';

describe('TURN REST API credentials', () => {
  it('names the expiry in unix seconds and the user', () => {
    expect(turnUsername(new Date('2026-01-01T10:01:00.999Z'), USER)).toBe(`1767261660:${USER}`);
  });

  it("signs the username as coturn's use-auth-secret does: base64(HMAC-SHA1(secret, username))", () => {
    // RFC 2202 test case 2 (key "Jefe"), in base64.
    expect(turnCredential('Jefe', 'what do ya want for nothing?')).toBe(
      Buffer.from('effcdf6ae5eb2fa2d27416d5f184df9c259a7c79', 'hex').toString('base64'),
    );
  });

  it('hands out STUN as configured and TURN with a credential of its own per user', () => {
    const settings = {
      stunUrls: ['stun:t.example.com:3478'],
      turn: { urls: ['turn:t.example.com:3478', 'turns:t.example.com:5349'], secret: SECRET },
      credentialTtlSeconds: 600,
    };
    const a = iceServersFor(settings, USER, NOW);
    expect(a.expiresAt.toISOString()).toBe('2026-01-01T10:10:00.000Z');
    const username = `${a.expiresAt.getTime() / 1000}:${USER}`;
    expect(a.iceServers).toEqual([
      { urls: ['stun:t.example.com:3478'] },
      {
        urls: ['turn:t.example.com:3478', 'turns:t.example.com:5349'],
        username,
        credential: turnCredential(SECRET, username),
      },
    ]);
    const b = iceServersFor(settings, USER.replace(/1$/, '2'), NOW);
    expect(b.iceServers[1].credential).not.toBe(a.iceServers[1].credential);
  });

  it('has nothing to sign without a relay', () => {
    expect(
      iceServersFor({ stunUrls: [], turn: undefined, credentialTtlSeconds: 60 }, USER, NOW)
        .iceServers,
    ).toEqual([]);
  });
});
