import type { UserRole } from './user.entity.js';

/**
 * Who is calling, as proven by the access token, or by a service key: then `keyId` is set, `id`
 * is the key's id (never a user's) and `role` is admin, an admin's reach over sessions that the
 * access-token guard limits to the routes of the key's scopes.
 */
export interface AuthUser {
  id: string;
  role: UserRole;
  keyId?: string;
}

/** Who a change is recorded as made by: a person (`actorId`) or a service key (`actorKeyId`). */
export function actorOf(user: AuthUser): { actorId: string | null; actorKeyId: string | null } {
  return user.keyId
    ? { actorId: null, actorKeyId: user.keyId }
    : { actorId: user.id, actorKeyId: null };
}

export interface AccessTokenClaims {
  sub: string;
  role: UserRole;
  iat: number;
  exp: number;
  iss: string;
  aud: string;
}
