import { ApiProperty } from '@nestjs/swagger';
import { USER_ROLES, type User, type UserRole } from '../user.entity.js';

export class UserView {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty()
  email: string;

  @ApiProperty()
  name: string;

  @ApiProperty({ enum: USER_ROLES })
  role: UserRole;

  static of(user: User): UserView {
    return { id: user.id, email: user.email, name: user.name, role: user.role };
  }
}

export class AuthResponse {
  @ApiProperty({ description: 'HS256 JWT to send as `Authorization: Bearer <token>`' })
  accessToken: string;

  @ApiProperty({ enum: ['Bearer'] })
  tokenType: 'Bearer';

  @ApiProperty({ description: 'Lifetime of the access token in seconds', example: 3600 })
  expiresIn: number;

  @ApiProperty({
    description:
      'Opaque refresh token for POST /api/auth/refresh (single use: each refresh returns a new one; reusing an old one revokes the login)',
  })
  refreshToken: string;

  @ApiProperty({ type: UserView })
  user: UserView;
}
