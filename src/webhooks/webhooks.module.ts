import { Module } from '@nestjs/common';
import { WebhookDispatcher } from './webhook-dispatcher.service.js';
import { WebhooksController } from './webhooks.controller.js';
import { WebhooksService } from './webhooks.service.js';

/**
 * Signed webhooks for integrators. Events are written to the outbox by `outboxCtes` (webhooks.sql.ts)
 * inside the transactions that make the changes; the dispatcher sends them from any instance.
 */
@Module({
  controllers: [WebhooksController],
  providers: [WebhooksService, WebhookDispatcher],
  exports: [WebhookDispatcher],
})
export class WebhooksModule {}
