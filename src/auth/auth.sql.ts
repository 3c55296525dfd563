import type { UserRole } from './user.entity.js';
import { User } from './user.entity.js';

/** Every statement of accounts and refresh tokens. */

const USER_COLUMNS = 'id, email, name, role, created_at';

/** A new account; the unique index users_email_key (emails stored lower-cased) refuses a taken email. */
export const INSERT_USER = {
  name: 'user-insert',
  text: `INSERT INTO users (email, name, role, password_hash) VALUES ($1, $2, $3, $4)
  RETURNING ${USER_COLUMNS}`,
};

/** An account by id (every /auth/me and refresh), without its password hash. */
export const USER_BY_ID = {
  name: 'user-by-id',
  text: `SELECT ${USER_COLUMNS} FROM users WHERE id = $1`,
};

/** An account by its lower-cased email, with the hash: for login only. */
export const USER_BY_EMAIL = {
  name: 'user-by-email',
  text: `SELECT ${USER_COLUMNS}, password_hash FROM users WHERE email = $1`,
};

/**
 * ADMIN_EMAIL / ADMIN_PASSWORD at start-up: the account exists with that password and the admin
 * role afterwards, whether it existed before or not (one statement, so two instances starting
 * together do not collide). `$3` is the admin role.
 */
export const UPSERT_ADMIN = {
  name: 'admin-upsert',
  text: `INSERT INTO users (email, name, role, password_hash) VALUES ($1, 'Administrator', $3, $2)
  ON CONFLICT (email) DO UPDATE SET role = EXCLUDED.role, password_hash = EXCLUDED.password_hash`,
};

export interface UserRow {
  id: string;
  email: string;
  name: string;
  role: UserRole;
  created_at: Date;
  password_hash?: string;
}

export function userOf(row: UserRow): User {
  return Object.assign(new User(), {
    id: row.id,
    email: row.email,
    name: row.name,
    role: row.role,
    createdAt: row.created_at,
    ...(row.password_hash === undefined ? {} : { passwordHash: row.password_hash }),
  });
}

/**
 * A refresh token of a family (a login), kept as its SHA-256 hash; `$4` its lifetime in days.
 * Every login and rotation runs it.
 */
export const INSERT_REFRESH_TOKEN = {
  name: 'refresh-token-insert',
  text: `INSERT INTO refresh_tokens (user_id, family_id, token_hash, expires_at)
  VALUES ($1, $2, $3, now() + make_interval(days => $4))`,
};

/**
 * The presented token, locked for its rotation, so that two refreshes with one token cannot both
 * succeed (the second sees it rotated: reuse, the family is revoked). By the unique hash index.
 */
export const LOCK_REFRESH_TOKEN = `SELECT id, user_id, family_id, expires_at <= now() AS expired, rotated_at, revoked_at
  FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE`;

export interface StoredToken {
  id: string;
  user_id: string;
  family_id: string;
  expired: boolean;
  rotated_at: Date | null;
  revoked_at: Date | null;
}

/** A rotated token stays, marked, so that presenting it again is recognised as reuse. */
export const MARK_ROTATED = `UPDATE refresh_tokens SET rotated_at = now() WHERE id = $1`;

/** The family of a presented token (logout); unknown tokens find none. */
export const TOKEN_FAMILY = `SELECT family_id FROM refresh_tokens WHERE token_hash = $1`;

/**
 * Logout or reuse: the whole family (that login) stops working; by refresh_tokens_family_idx,
 * partial on the tokens not yet revoked.
 */
export const REVOKE_FAMILY = `UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL`;
