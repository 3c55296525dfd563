import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { JwtModule } from '@nestjs/jwt';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { ServiceKeysModule } from '../service-keys/service-keys.module.js';
import { AccessTokenGuard } from './access-token.guard.js';
import { AuthThrottleGuard } from './auth-throttle.guard.js';
import { AuthController } from './auth.controller.js';
import { AuthService } from './auth.service.js';
import { PasswordHasher } from './password-hasher.js';
import { RefreshTokenService } from './refresh-token.service.js';
import { jwtKey, TokenService } from './token.service.js';
import { User } from './user.entity.js';
import { UsersService } from './users.service.js';

@Module({
  imports: [
    TypeOrmModule.forFeature([User]),
    // The global access-token guard also admits service keys.
    ServiceKeysModule,
    JwtModule.registerAsync({
      inject: [APP_CONFIG],
      // jsonwebtoken signs; verification is TokenService's own (verifyHs256).
      useFactory: (config: AppConfig) => ({
        secret: jwtKey(config),
        signOptions: {
          algorithm: 'HS256',
          expiresIn: config.jwt.expiresInSeconds,
          issuer: config.jwt.issuer,
          audience: config.jwt.audience,
        },
      }),
    }),
  ],
  controllers: [AuthController],
  providers: [
    AuthService,
    UsersService,
    PasswordHasher,
    AuthThrottleGuard,
    RefreshTokenService,
    TokenService,
    { provide: APP_GUARD, useClass: AccessTokenGuard },
  ],
  exports: [TokenService, UsersService],
})
export class AuthModule {}
