import { Body, Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import { ApiErrors } from '../common/errors/api-errors.decorator.js';
import { ParseId } from '../common/http/uuid.pipe.js';
import { AdminOnly } from '../sessions/session-access.guard.js';
import { CreateWebhookDto } from './dto/webhook.inputs.js';
import { CreatedWebhookView, DeliveryView, WebhookView } from './dto/webhook.views.js';
import { WebhooksService } from './webhooks.service.js';

@ApiTags('webhooks')
@ApiBearerAuth()
@AdminOnly('Only an admin can manage webhooks')
@Controller('webhooks')
export class WebhooksController {
  constructor(private readonly webhooks: WebhooksService) {}

  @Post()
  @ApiOperation({
    operationId: 'createWebhook',
    summary: 'Register a webhook endpoint (admin); the signing secret is shown only here',
  })
  @ApiCreatedResponse({ type: CreatedWebhookView })
  @ApiErrors(
    'VALIDATION_FAILED',
    'UNAUTHENTICATED',
    'FORBIDDEN',
    'PAYLOAD_TOO_LARGE',
    'UNSUPPORTED_MEDIA_TYPE',
  )
  create(@Body() dto: CreateWebhookDto): Promise<CreatedWebhookView> {
    return this.webhooks.create(dto);
  }

  @Get()
  @ApiOperation({ operationId: 'listWebhooks', summary: 'Webhook endpoints (admin), no secrets' })
  @ApiOkResponse({ type: [WebhookView] })
  @ApiErrors('UNAUTHENTICATED', 'FORBIDDEN')
  list(): Promise<WebhookView[]> {
    return this.webhooks.list();
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOperation({
    operationId: 'deleteWebhook',
    summary: 'Remove a webhook endpoint and its pending deliveries (admin)',
  })
  @ApiNoContentResponse({ description: 'Removed' })
  @ApiErrors('VALIDATION_FAILED', 'UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND')
  async remove(@Param('id', ParseId('id')) id: string): Promise<void> {
    await this.webhooks.remove(id);
  }

  @Get(':id/deliveries')
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOperation({
    operationId: 'listWebhookDeliveries',
    summary: 'The endpoint’s latest 100 deliveries, newest first, with every attempt (admin)',
  })
  @ApiOkResponse({ type: [DeliveryView] })
  @ApiErrors('VALIDATION_FAILED', 'UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND')
  deliveries(@Param('id', ParseId('id')) id: string): Promise<DeliveryView[]> {
    return this.webhooks.deliveries(id);
  }
}
