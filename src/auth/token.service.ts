import { Inject, Injectable } from '@nestjs/common';
import { createSecretKey, type KeyObject } from 'node:crypto';
import { JwtService } from '@nestjs/jwt';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/app-config.js';
import { DomainError } from '../common/errors/domain-error.js';
import { USER_ROLES } from './user.entity.js';
import type { AccessTokenClaims, AuthUser } from './auth-user.js';
import { expiredHs256Claims, verifyHs256, type Hs256Rules } from './hs256.js';

/** User ids are UUIDs; any other subject would reach the database as a malformed id. */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The user a verified token's claims name, or null when the claims are not ours. */
function tokenUser(claims: Partial<AccessTokenClaims>): (AuthUser & { expiresAt: Date }) | null {
  if (
    typeof claims.sub !== 'string' ||
    !UUID.test(claims.sub) ||
    claims.role === undefined ||
    !USER_ROLES.includes(claims.role) ||
    typeof claims.exp !== 'number'
  ) {
    return null;
  }
  return { id: claims.sub, role: claims.role, expiresAt: new Date(claims.exp * 1000) };
}

/** A few seconds of clock skew between instances or a client's clock are forgiven. */
export const JWT_CLOCK_TOLERANCE_SECONDS = 5;

/**
 * The HS256 key as a KeyObject, not the string: given a string, jsonwebtoken tries to parse it as
 * a public key on every call (a thrown error each time) before treating it as HMAC.
 */
export function jwtKey(config: AppConfig): KeyObject {
  if (!config.jwt.secret) {
    throw new Error('JWT secret was not resolved before start-up');
  }
  return createSecretKey(Buffer.from(config.jwt.secret, 'utf8'));
}

/**
 * Issues and checks access tokens: HS256 only, with iss, aud and exp demanded. The HTTP guard and
 * the WebSocket handshake both verify through `verify`, so the rules cannot drift apart.
 */
@Injectable()
export class TokenService {
  private readonly key: KeyObject;
  private readonly rules: Hs256Rules;

  constructor(
    private readonly jwt: JwtService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.key = jwtKey(config);
    this.rules = {
      issuer: config.jwt.issuer,
      audience: config.jwt.audience,
      clockToleranceSeconds: JWT_CLOCK_TOLERANCE_SECONDS,
    };
  }

  get expiresInSeconds(): number {
    return this.config.jwt.expiresInSeconds;
  }

  sign(user: AuthUser): Promise<string> {
    return this.jwt.signAsync({ role: user.role }, { subject: user.id });
  }

  /**
   * Async for its callers' sake; the check itself is synchronous (see verifyHs256). A token that
   * was good but has expired is refused with `reason: "expired"`, so a client refreshes it rather
   * than logging the user out.
   */
  // eslint-disable-next-line @typescript-eslint/require-await
  async verify(token: string): Promise<AuthUser & { expiresAt: Date }> {
    const claims = verifyHs256(token, this.key, this.rules);
    if (!claims) {
      const expired = expiredHs256Claims(token, this.key, this.rules);
      if (expired && tokenUser(expired)) {
        throw new DomainError('UNAUTHENTICATED', 'The access token expired', undefined, {
          reason: 'expired',
        });
      }
      throw new DomainError('UNAUTHENTICATED', 'Invalid access token');
    }
    const user = tokenUser(claims);
    if (!user) {
      throw new DomainError('UNAUTHENTICATED', 'Invalid access token claims');
    }
    return user;
  }
}
