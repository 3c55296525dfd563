import { createHmac, createSecretKey } from 'node:crypto';
import fc from 'fast-check';
import jwt from 'jsonwebtoken';
import { expiredHs256Claims, verifyHs256, type Hs256Rules } from './hs256.js';

const SECRET = 'a-test-secret-of-at-least-thirty-two-bytes!';
const key = createSecretKey(Buffer.from(SECRET, 'utf8'));
const rules: Hs256Rules = { issuer: 'iss-a', audience: 'aud-a', clockToleranceSeconds: 5 };
const NOW = 1_800_000_000;

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A token from raw header and payload objects, signed with `secret` (HS256 over the two parts). */
function forge(header: unknown, payload: unknown, secret = SECRET): string {
  const body = `${b64(header)}.${b64(payload)}`;
  return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`;
}

/** What the previous implementation accepted: jsonwebtoken's verify plus a numeric `exp`. */
function jsonwebtokenAccepts(token: string): boolean {
  try {
    const claims = jwt.verify(token, key, {
      algorithms: ['HS256'],
      issuer: rules.issuer,
      audience: rules.audience,
      clockTolerance: rules.clockToleranceSeconds,
      clockTimestamp: NOW,
    });
    return typeof claims === 'object' && typeof claims.exp === 'number';
  } catch {
    return false;
  }
}

const valid = {
  sub: 'u',
  role: 'client',
  iat: NOW - 10,
  exp: NOW + 60,
  iss: 'iss-a',
  aud: 'aud-a',
};

describe('verifyHs256', () => {
  it('accepts a token jsonwebtoken signed, and returns its claims', () => {
    const token = jwt.sign({ role: 'client' }, key, {
      algorithm: 'HS256',
      subject: 'u',
      issuer: 'iss-a',
      audience: 'aud-a',
      expiresIn: 60,
    });
    expect(verifyHs256(token, key, rules)).toMatchObject({ sub: 'u', role: 'client' });
  });

  it.each([
    ['alg none, no signature', `${b64({ alg: 'none' })}.${b64(valid)}.`],
    ['alg none with a signature', forge({ alg: 'none', typ: 'JWT' }, valid)],
    ['another HMAC algorithm', forge({ alg: 'HS512' }, valid)],
    ['RS256 named in the header', forge({ alg: 'RS256' }, valid)],
    ['another key', forge({ alg: 'HS256' }, valid, 'another-secret-of-thirty-two-bytes-or-more')],
    ['expired beyond the tolerance', forge({ alg: 'HS256' }, { ...valid, exp: NOW - 5 })],
    ['no exp', forge({ alg: 'HS256' }, { ...valid, exp: undefined })],
    ['a string exp', forge({ alg: 'HS256' }, { ...valid, exp: String(NOW + 60) })],
    ['not yet valid', forge({ alg: 'HS256' }, { ...valid, nbf: NOW + 6 })],
    ['a string nbf', forge({ alg: 'HS256' }, { ...valid, nbf: String(NOW) })],
    ['another issuer', forge({ alg: 'HS256' }, { ...valid, iss: 'iss-b' })],
    ['no issuer', forge({ alg: 'HS256' }, { ...valid, iss: undefined })],
    ['another audience', forge({ alg: 'HS256' }, { ...valid, aud: 'aud-b' })],
    ['an audience list without ours', forge({ alg: 'HS256' }, { ...valid, aud: ['aud-b'] })],
    ['a payload that is not an object', forge({ alg: 'HS256' }, [valid])],
    ['a header that is not an object', forge('HS256', valid)],
    ['two parts', `${b64({ alg: 'HS256' })}.${b64(valid)}`],
    ['four parts', `${forge({ alg: 'HS256' }, valid)}.x`],
    ['padding in the signature', `${forge({ alg: 'HS256' }, valid)}=`],
    ['an empty string', ''],
  ])('refuses %s', (_name, token) => {
    expect(verifyHs256(token, key, rules, NOW)).toBeNull();
    expect(jsonwebtokenAccepts(token)).toBe(false);
  });

  it.each([
    ['expired within the tolerance', { ...valid, exp: NOW - 4 }],
    ['valid from within the tolerance', { ...valid, nbf: NOW + 5 }],
    ['an audience list with ours', { ...valid, aud: ['aud-b', 'aud-a'] }],
  ])('accepts %s, as jsonwebtoken does', (_name, claims) => {
    const token = forge({ alg: 'HS256', typ: 'JWT' }, claims);
    expect(verifyHs256(token, key, rules, NOW)).not.toBeNull();
    expect(jsonwebtokenAccepts(token)).toBe(true);
  });

  it('refuses a critical extension, which jsonwebtoken ignored (RFC 7515 4.1.11)', () => {
    const token = forge({ alg: 'HS256', crit: ['x-ext'], 'x-ext': 1 }, valid);
    expect(verifyHs256(token, key, rules, NOW)).toBeNull();
    expect(verifyHs256(forge({ alg: 'HS256' }, valid), key, rules, NOW)).not.toBeNull();
  });

  it('refuses a signature spelt with other trailing bits, as jws does', () => {
    const token = forge({ alg: 'HS256' }, valid);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    // The last of 43 characters carries 2 bits of padding: flipping one decodes to the same bytes.
    const sibling = alphabet[alphabet.indexOf(token.at(-1)!) ^ 1];
    const respelt = token.slice(0, -1) + sibling;
    expect(Buffer.from(respelt.split('.')[2], 'base64url')).toEqual(
      Buffer.from(token.split('.')[2], 'base64url'),
    );
    expect(verifyHs256(respelt, key, rules, NOW)).toBeNull();
    expect(jsonwebtokenAccepts(respelt)).toBe(false);
  });

  it('agrees with jsonwebtoken on random claims and on tokens with a character changed', () => {
    const claims = fc.record(
      {
        sub: fc.string(),
        exp: fc.oneof(fc.integer({ min: NOW - 20, max: NOW + 20 }), fc.string(), fc.constant(null)),
        nbf: fc.oneof(fc.integer({ min: NOW - 20, max: NOW + 20 }), fc.string()),
        iss: fc.constantFrom('iss-a', 'iss-b', ''),
        aud: fc.oneof(
          fc.constantFrom('aud-a', 'aud-b'),
          fc.array(fc.constantFrom('aud-a', 'aud-b', 'x')),
        ),
      },
      { requiredKeys: ['sub'] },
    );
    const header = fc.record(
      { alg: fc.constantFrom('HS256', 'HS384', 'none', 'hs256'), typ: fc.constantFrom('JWT', 'x') },
      { requiredKeys: ['alg'] },
    );
    fc.assert(
      fc.property(header, claims, fc.nat(), fc.integer({ min: 0, max: 127 }), (h, c, at, code) => {
        const token = forge(h, c);
        const mutated =
          token.slice(0, at % token.length) +
          String.fromCharCode(code) +
          token.slice((at % token.length) + 1);
        for (const t of [token, mutated]) {
          expect(verifyHs256(t, key, rules, NOW) !== null).toBe(jsonwebtokenAccepts(t));
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('expiredHs256Claims', () => {
  it('returns the claims of a token whose only fault is its expiry', () => {
    const token = forge({ alg: 'HS256' }, { ...valid, exp: NOW - 5 });
    expect(verifyHs256(token, key, rules, NOW)).toBeNull();
    expect(expiredHs256Claims(token, key, rules, NOW)).toMatchObject({ sub: 'u', exp: NOW - 5 });
  });

  it.each([
    ['a valid token', forge({ alg: 'HS256' }, valid)],
    ['expired within the tolerance', forge({ alg: 'HS256' }, { ...valid, exp: NOW - 4 })],
    ['not valid yet', forge({ alg: 'HS256' }, { ...valid, nbf: NOW + 30 })],
    ['expired, signed with another key', forge({ alg: 'HS256' }, { ...valid, exp: NOW - 60 }, 'x')],
    ['expired, another issuer', forge({ alg: 'HS256' }, { ...valid, exp: NOW - 60, iss: 'b' })],
    ['expired, alg none', `${b64({ alg: 'none' })}.${b64({ ...valid, exp: NOW - 60 })}.`],
    ['a string exp', forge({ alg: 'HS256' }, { ...valid, exp: String(NOW - 60) })],
    ['not a JWT', 'not-a-jwt'],
  ])('returns null for %s', (_label, token) => {
    expect(expiredHs256Claims(token, key, rules, NOW)).toBeNull();
  });
});
