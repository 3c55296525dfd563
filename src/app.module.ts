import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { LoggerModule } from 'nestjs-pino';
import { AuthModule } from './auth/auth.module';
import { HttpExceptionFilter } from './common/errors/http-exception.filter';
import { requestId } from './common/http/request-id';
import type { AppConfig } from './config/app-config';
import { ConfigModule } from './config/config.module';
import { DatabaseModule } from './database/database.module';
import { HealthModule } from './health/health.module';
import { SessionsModule } from './sessions/sessions.module';
import { VideoCallModule } from './video-call/video-call.module';

export interface AppModuleOptions {
  /** Validated configuration with the JWT secret resolved. */
  config: AppConfig;
  /** The database to use: DATABASE_URL, or the embedded server started before the app. */
  databaseUrl: string;
}

@Module({})
export class AppModule {
  static forRoot({ config, databaseUrl }: AppModuleOptions): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        LoggerModule.forRoot({
          pinoHttp: {
            level: config.logLevel,
            genReqId: requestId,
            redact: ['req.headers.authorization', 'req.headers.cookie'],
            autoLogging: { ignore: (req) => (req.url ?? '').startsWith('/api/health') },
          },
        }),
        DatabaseModule.forRoot(databaseUrl),
        HealthModule,
        AuthModule,
        SessionsModule,
        VideoCallModule,
      ],
      providers: [{ provide: APP_FILTER, useClass: HttpExceptionFilter }],
    };
  }
}
