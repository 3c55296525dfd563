import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';

/** HS256 tokens, framework-free: the harness signs with it and the baselines verify with it. */
export interface Claims {
  sub: string;
  role: 'client' | 'psychologist' | 'admin';
  iat: number;
  exp: number;
  iss: string;
  aud: string;
}

const HEADER = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');

export function signToken(
  key: KeyObject,
  claims: Pick<Claims, 'sub' | 'role'>,
  options: { issuer: string; audience: string; expiresInSeconds?: number },
): string {
  const iat = Math.floor(Date.now() / 1000);
  const payload = Buffer.from(
    JSON.stringify({
      role: claims.role,
      iat,
      exp: iat + (options.expiresInSeconds ?? 3600),
      aud: options.audience,
      iss: options.issuer,
      sub: claims.sub,
    }),
  ).toString('base64url');
  const signature = createHmac('sha256', key).update(`${HEADER}.${payload}`).digest('base64url');
  return `${HEADER}.${payload}.${signature}`;
}

/**
 * The same check as the project's: HS256 pinned, signature, exp, iss, aud, a UUID subject and a
 * known role. Returns undefined for any bad token.
 */
export function verifyToken(
  key: KeyObject,
  token: string,
  options: { issuer: string; audience: string },
): Claims | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) {
    return undefined;
  }
  const [header, payload, signature] = parts;
  try {
    const h = JSON.parse(Buffer.from(header, 'base64url').toString('utf8'));
    if (h?.alg !== 'HS256') {
      return undefined;
    }
    const expected = createHmac('sha256', key).update(`${header}.${payload}`).digest();
    const given = Buffer.from(signature, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return undefined;
    }
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Claims;
    const now = Math.floor(Date.now() / 1000);
    if (
      typeof claims.exp !== 'number' ||
      claims.exp <= now ||
      claims.iss !== options.issuer ||
      claims.aud !== options.audience ||
      typeof claims.sub !== 'string' ||
      !UUID.test(claims.sub) ||
      !['client', 'psychologist', 'admin'].includes(claims.role)
    ) {
      return undefined;
    }
    return claims;
  } catch {
    return undefined;
  }
}

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function secretKey(secret: string): KeyObject {
  return createSecretKey(Buffer.from(secret, 'utf8'));
}
