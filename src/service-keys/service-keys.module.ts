import { Module } from '@nestjs/common';
import { ServiceKeyVerifier } from './service-key-verifier.js';
import { ServiceKeysController } from './service-keys.controller.js';
import { ServiceKeysService } from './service-keys.service.js';

/**
 * Scoped, revocable credentials for integrations (a payment backend). The global access-token
 * guard verifies them through ServiceKeyVerifier; routes open to them say so with `@KeyScope`.
 */
@Module({
  controllers: [ServiceKeysController],
  providers: [ServiceKeysService, ServiceKeyVerifier],
  exports: [ServiceKeyVerifier],
})
export class ServiceKeysModule {}
