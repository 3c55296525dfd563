import { Inject, Injectable } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { APP_CONFIG } from '../config/config.module.js';
import type { AppConfig } from '../config/app-config.js';
import { DomainError } from '../common/errors/domain-error.js';
import { USER_ROLES } from './user.entity.js';
import type { AccessTokenClaims, AuthUser } from './auth-user.js';

/** User ids are UUIDs; any other subject would reach the database as a malformed id. */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Issues and checks access tokens: HS256 only, with iss, aud and exp demanded. The HTTP guard and
 * the WebSocket handshake both verify through `verify`, so the rules cannot drift apart.
 */
@Injectable()
export class TokenService {
  constructor(
    private readonly jwt: JwtService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  get expiresInSeconds(): number {
    return this.config.jwt.expiresInSeconds;
  }

  sign(user: AuthUser): Promise<string> {
    return this.jwt.signAsync({ role: user.role }, { subject: user.id });
  }

  async verify(token: string): Promise<AuthUser & { expiresAt: Date }> {
    let claims: AccessTokenClaims;
    try {
      claims = await this.jwt.verifyAsync<AccessTokenClaims>(token);
    } catch {
      throw new DomainError('UNAUTHENTICATED', 'Invalid or expired access token');
    }
    if (
      typeof claims.sub !== 'string' ||
      !UUID.test(claims.sub) ||
      !USER_ROLES.includes(claims.role) ||
      typeof claims.exp !== 'number'
    ) {
      throw new DomainError('UNAUTHENTICATED', 'Invalid access token claims');
    }
    return { id: claims.sub, role: claims.role, expiresAt: new Date(claims.exp * 1000) };
  }
}
