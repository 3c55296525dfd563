import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { DataSource, type EntityManager } from 'typeorm';
import { DomainError } from '../common/errors/domain-error.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { Sql } from '../database/sql.js';

const hashOf = (token: string) => createHash('sha256').update(token).digest();

const INSERT_TOKEN_SQL = `INSERT INTO refresh_tokens (user_id, family_id, token_hash, expires_at)
  VALUES ($1, $2, $3, now() + make_interval(days => $4))`;

interface StoredToken {
  id: string;
  user_id: string;
  family_id: string;
  expired: boolean;
  rotated_at: Date | null;
  revoked_at: Date | null;
}

/**
 * Opaque refresh tokens, kept only as SHA-256 hashes. A family is one login: every refresh
 * rotates the token inside it, and a token presented after it was rotated means it was copied,
 * so the whole family is revoked (OAuth 2.0 Security BCP, refresh token rotation).
 */
@Injectable()
export class RefreshTokenService {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly sql: Sql,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** A new token, in a new family (a login) or in the given one (a rotation). */
  async issue(
    userId: string,
    familyId: string = randomUUID(),
    manager?: EntityManager,
  ): Promise<string> {
    const token = randomBytes(32).toString('base64url');
    const values = [userId, familyId, hashOf(token), this.config.jwt.refreshTokenDays];
    if (manager) {
      await manager.query(INSERT_TOKEN_SQL, values);
    } else {
      // Every login: a prepared statement on the pool.
      await this.sql.rows('refresh-token-insert', INSERT_TOKEN_SQL, values);
    }
    return token;
  }

  /** Exchanges a valid token for a new one of the same family; returns its user and the new token. */
  async rotate(token: string): Promise<{ userId: string; refreshToken: string }> {
    const outcome = await this.db.transaction(async (m) => {
      const [stored] = await m.query<StoredToken[]>(
        `SELECT id, user_id, family_id, expires_at <= now() AS expired, rotated_at, revoked_at
           FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE`,
        [hashOf(token)],
      );
      if (!stored || stored.revoked_at || stored.expired) {
        return { ok: false as const };
      }
      if (stored.rotated_at) {
        await this.revokeFamily(m, stored.family_id);
        return { ok: false as const };
      }
      await m.query(`UPDATE refresh_tokens SET rotated_at = now() WHERE id = $1`, [stored.id]);
      const refreshToken = await this.issue(stored.user_id, stored.family_id, m);
      return { ok: true as const, userId: stored.user_id, refreshToken };
    });
    if (!outcome.ok) {
      throw new DomainError('UNAUTHENTICATED', 'The refresh token is invalid, expired or revoked');
    }
    return outcome;
  }

  /** Logout: the token's whole family (that login) stops working. Unknown tokens are ignored. */
  async revoke(token: string): Promise<void> {
    await this.db.transaction(async (m) => {
      const rows: { family_id: string }[] = await m.query(
        `SELECT family_id FROM refresh_tokens WHERE token_hash = $1`,
        [hashOf(token)],
      );
      if (rows[0]) {
        await this.revokeFamily(m, rows[0].family_id);
      }
    });
  }

  private async revokeFamily(m: EntityManager, familyId: string): Promise<void> {
    await m.query(
      `UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL`,
      [familyId],
    );
  }
}
