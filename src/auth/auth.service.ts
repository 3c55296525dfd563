import { Injectable } from '@nestjs/common';
import { DomainError } from '../common/errors/domain-error.js';
import { AuthResponse, UserView } from './dto/auth.views.js';
import type { LoginDto } from './dto/login.dto.js';
import type { RegisterDto } from './dto/register.dto.js';
import { PasswordHasher } from './password-hasher.js';
import { RefreshTokenService } from './refresh-token.service.js';
import { TokenService } from './token.service.js';
import type { User } from './user.entity.js';
import { UsersService } from './users.service.js';

@Injectable()
export class AuthService {
  constructor(
    private readonly users: UsersService,
    private readonly hasher: PasswordHasher,
    private readonly tokens: TokenService,
    private readonly refreshTokens: RefreshTokenService,
  ) {}

  async register(dto: RegisterDto): Promise<AuthResponse> {
    const user = await this.users.create(dto);
    return this.issue(user);
  }

  /** Unknown email and wrong password answer alike, in about the same time. */
  async login(dto: LoginDto): Promise<AuthResponse> {
    const user = await this.users.findByEmailWithHash(dto.email);
    const ok = await this.hasher.verify(user?.passwordHash, dto.password);
    if (!user || !ok) {
      throw new DomainError('UNAUTHENTICATED', 'Invalid email or password');
    }
    return this.issue(user);
  }

  /** Rotation: a new access token and a new refresh token; the presented one stops working. */
  async refresh(refreshToken: string): Promise<AuthResponse> {
    const rotated = await this.refreshTokens.rotate(refreshToken);
    const user = await this.users.findById(rotated.userId);
    if (!user) {
      throw new DomainError('UNAUTHENTICATED', 'The account of this token no longer exists');
    }
    return this.respond(user, rotated.refreshToken);
  }

  logout(refreshToken: string): Promise<void> {
    return this.refreshTokens.revoke(refreshToken);
  }

  async me(id: string): Promise<UserView> {
    const user = await this.users.findById(id);
    if (!user) {
      throw new DomainError('UNAUTHENTICATED', 'The account of this token no longer exists');
    }
    return UserView.of(user);
  }

  /** A new login: access token plus the first refresh token of a new family. */
  private async issue(user: User): Promise<AuthResponse> {
    return this.respond(user, await this.refreshTokens.issue(user.id));
  }

  private async respond(user: User, refreshToken: string): Promise<AuthResponse> {
    return {
      accessToken: await this.tokens.sign({ id: user.id, role: user.role }),
      tokenType: 'Bearer',
      expiresIn: this.tokens.expiresInSeconds,
      refreshToken,
      user: UserView.of(user),
    };
  }
}
