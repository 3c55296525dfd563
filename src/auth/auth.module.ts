import { createSecretKey } from 'node:crypto';
import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { JwtModule } from '@nestjs/jwt';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { AccessTokenGuard } from './access-token.guard.js';
import { AuthThrottleGuard } from './auth-throttle.guard.js';
import { AuthController } from './auth.controller.js';
import { AuthService } from './auth.service.js';
import { PasswordHasher } from './password-hasher.js';
import { RefreshTokenService } from './refresh-token.service.js';
import { TokenService } from './token.service.js';
import { User } from './user.entity.js';
import { UsersService } from './users.service.js';

@Module({
  imports: [
    TypeOrmModule.forFeature([User]),
    JwtModule.registerAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => {
        if (!config.jwt.secret) {
          throw new Error('JWT secret was not resolved before start-up');
        }
        return {
          // A KeyObject, not the string: given a string, jsonwebtoken tries to parse it as a
          // public key on every verify (a thrown error each time) before treating it as HMAC.
          secret: createSecretKey(Buffer.from(config.jwt.secret, 'utf8')),
          signOptions: {
            algorithm: 'HS256',
            expiresIn: config.jwt.expiresInSeconds,
            issuer: config.jwt.issuer,
            audience: config.jwt.audience,
          },
          verifyOptions: {
            algorithms: ['HS256'],
            issuer: config.jwt.issuer,
            audience: config.jwt.audience,
            // A few seconds of clock skew between instances or a client's clock are forgiven.
            clockTolerance: 5,
          },
        };
      },
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
