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
import type { AuthUser } from '../auth/auth-user.js';
import { CurrentUser } from '../auth/current-user.decorator.js';
import { ApiErrors } from '../common/errors/api-errors.decorator.js';
import { DomainError } from '../common/errors/domain-error.js';
import { ParseId } from '../common/http/uuid.pipe.js';
import { CreateWebhookDto } from './dto/webhook.inputs.js';
import { CreatedWebhookView, DeliveryView, WebhookView } from './dto/webhook.views.js';
import { WebhooksService } from './webhooks.service.js';

function assertAdmin(user: AuthUser): void {
  if (user.role !== 'admin') {
    throw new DomainError('FORBIDDEN', 'Only an admin can manage webhooks');
  }
}

@ApiTags('webhooks')
@ApiBearerAuth()
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
  create(
    @Body() dto: CreateWebhookDto,
    @CurrentUser() user: AuthUser,
  ): Promise<CreatedWebhookView> {
    assertAdmin(user);
    return this.webhooks.create(dto);
  }

  @Get()
  @ApiOperation({ operationId: 'listWebhooks', summary: 'Webhook endpoints (admin), no secrets' })
  @ApiOkResponse({ type: [WebhookView] })
  @ApiErrors('UNAUTHENTICATED', 'FORBIDDEN')
  list(@CurrentUser() user: AuthUser): Promise<WebhookView[]> {
    assertAdmin(user);
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
  async remove(
    @Param('id', ParseId('id')) id: string,
    @CurrentUser() user: AuthUser,
  ): Promise<void> {
    assertAdmin(user);
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
  deliveries(
    @Param('id', ParseId('id')) id: string,
    @CurrentUser() user: AuthUser,
  ): Promise<DeliveryView[]> {
    assertAdmin(user);
    return this.webhooks.deliveries(id);
  }
}
