import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiExtension } from '@nestjs/swagger';
import { createHash, randomBytes } from 'node:crypto';

/** What a service key may be allowed to do; each scope names the routes it opens (`@KeyScope`). */
export const SERVICE_KEY_SCOPES = ['payments:write', 'sessions:read'] as const;
export type ServiceKeyScope = (typeof SERVICE_KEY_SCOPES)[number];

export const KEY_SCOPE = 'serviceKeys:scope';

/**
 * A service key holding `scope` may call this route (with an admin's reach over sessions); on a
 * route without it, or with another scope, a key gets 403 FORBIDDEN (AccessTokenGuard). The
 * OpenAPI operation names the scope as `x-service-key-scope`.
 */
export const KeyScope = (scope: ServiceKeyScope) =>
  applyDecorators(SetMetadata(KEY_SCOPE, scope), ApiExtension('x-service-key-scope', scope));

export const SERVICE_KEY_PREFIX = 'svc_';

/** `svc_` and the base64url text of 32 random bytes. */
const KEY_FORMAT = /^svc_[A-Za-z0-9_-]{43}$/;

export function newServiceKey(): string {
  return SERVICE_KEY_PREFIX + randomBytes(32).toString('base64url');
}

export function looksLikeServiceKey(token: string): boolean {
  return token.startsWith(SERVICE_KEY_PREFIX);
}

export function isWellFormedServiceKey(token: string): boolean {
  return KEY_FORMAT.test(token);
}

/**
 * What the table stores of a key. A plain SHA-256 is right here, unlike for passwords: a key holds
 * 256 random bits, so nobody can search the key space from a stolen hash, and a fast hash lets
 * every lookup be one index probe (a salted slow hash would need the row before the check).
 */
export function serviceKeyHash(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}
