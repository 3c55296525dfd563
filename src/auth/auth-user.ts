import type { UserRole } from './user.entity.js';

/** Who is calling, as proven by the access token. */
export interface AuthUser {
  id: string;
  role: UserRole;
}

export interface AccessTokenClaims {
  sub: string;
  role: UserRole;
  iat: number;
  exp: number;
  iss: string;
  aud: string;
}
