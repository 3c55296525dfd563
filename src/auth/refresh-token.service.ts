import { Inject, Injectable } from '@nestjs/common';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { DomainError } from '../common/errors/domain-error.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { Sql, type Queryable } from '../database/sql.js';
import {
  INSERT_REFRESH_TOKEN,
  LOCK_REFRESH_TOKEN,
  MARK_ROTATED,
  REVOKE_FAMILY,
  TOKEN_FAMILY,
  type StoredToken,
} from './auth.sql.js';

const hashOf = (token: string) => createHash('sha256').update(token).digest();

/**
 * Opaque refresh tokens, kept only as SHA-256 hashes. A family is one login: every refresh
 * rotates the token inside it, and a token presented after it was rotated means it was copied,
 * so the whole family is revoked (OAuth 2.0 Security BCP, refresh token rotation).
 */
@Injectable()
export class RefreshTokenService {
  constructor(
    private readonly sql: Sql,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** A new token, in a new family (a login) or in the given one (a rotation, inside `tx`). */
  async issue(userId: string, familyId: string = randomUUID(), tx?: Queryable): Promise<string> {
    const token = randomBytes(32).toString('base64url');
    const values = [userId, familyId, hashOf(token), this.config.jwt.refreshTokenDays];
    if (tx) {
      await tx.query(INSERT_REFRESH_TOKEN.text, values);
    } else {
      await this.sql.rows(INSERT_REFRESH_TOKEN.name, INSERT_REFRESH_TOKEN.text, values);
    }
    return token;
  }

  /** Exchanges a valid token for a new one of the same family; returns its user and the new token. */
  async rotate(token: string): Promise<{ userId: string; refreshToken: string }> {
    const outcome = await this.sql.transaction(async (tx) => {
      const [stored] = await tx.query<StoredToken[]>(LOCK_REFRESH_TOKEN, [hashOf(token)]);
      if (!stored || stored.revoked_at || stored.expired) {
        return { ok: false as const };
      }
      if (stored.rotated_at) {
        await tx.query(REVOKE_FAMILY, [stored.family_id]);
        return { ok: false as const };
      }
      await tx.query(MARK_ROTATED, [stored.id]);
      const refreshToken = await this.issue(stored.user_id, stored.family_id, tx);
      return { ok: true as const, userId: stored.user_id, refreshToken };
    });
    if (!outcome.ok) {
      throw new DomainError('UNAUTHENTICATED', 'The refresh token is invalid, expired or revoked');
    }
    return outcome;
  }

  /** Logout: the token's whole family (that login) stops working. Unknown tokens are ignored. */
  async revoke(token: string): Promise<void> {
    await this.sql.transaction(async (tx) => {
      const [row] = await tx.query<{ family_id: string }[]>(TOKEN_FAMILY, [hashOf(token)]);
      if (row) {
        await tx.query(REVOKE_FAMILY, [row.family_id]);
      }
    });
  }
}
