import { Module } from '@nestjs/common';
import { AsyncApiController } from './asyncapi.controller.js';

/** Machine-readable documents beside Swagger UI (which create-app sets up). */
@Module({ controllers: [AsyncApiController] })
export class ApiDocsModule {}
