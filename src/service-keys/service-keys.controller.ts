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
import { CreateServiceKeyDto } from './dto/service-key.inputs.js';
import { CreatedServiceKeyView, ListedServiceKeyView } from './dto/service-key.views.js';
import { ServiceKeysService } from './service-keys.service.js';

@ApiTags('service-keys')
@ApiBearerAuth()
@AdminOnly('Only an admin can manage service keys')
@Controller('service-keys')
export class ServiceKeysController {
  constructor(private readonly keys: ServiceKeysService) {}

  @Post()
  @ApiOperation({
    operationId: 'createServiceKey',
    summary: 'Create a scoped service key for an integration (admin); the key is shown only here',
  })
  @ApiCreatedResponse({ type: CreatedServiceKeyView })
  @ApiErrors(
    'VALIDATION_FAILED',
    'UNAUTHENTICATED',
    'FORBIDDEN',
    'PAYLOAD_TOO_LARGE',
    'UNSUPPORTED_MEDIA_TYPE',
  )
  create(@Body() dto: CreateServiceKeyDto): Promise<CreatedServiceKeyView> {
    return this.keys.create(dto);
  }

  @Get()
  @ApiOperation({
    operationId: 'listServiceKeys',
    summary: 'The service keys in force (admin), without the keys themselves',
  })
  @ApiOkResponse({ type: [ListedServiceKeyView] })
  @ApiErrors('UNAUTHENTICATED', 'FORBIDDEN')
  list(): Promise<ListedServiceKeyView[]> {
    return this.keys.list();
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOperation({
    operationId: 'revokeServiceKey',
    summary: 'Revoke a service key (admin): refused everywhere within seconds',
  })
  @ApiNoContentResponse({ description: 'Revoked' })
  @ApiErrors('VALIDATION_FAILED', 'UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND')
  async revoke(@Param('id', ParseId('id')) id: string): Promise<void> {
    await this.keys.revoke(id);
  }
}
