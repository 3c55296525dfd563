import { ApiProperty } from '@nestjs/swagger';
import { SERVICE_KEY_SCOPES, type ServiceKeyScope } from '../service-key-scopes.js';

export class ServiceKeyView {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty({ example: 'stripe-webhook-handler' })
  name: string;

  @ApiProperty({ enum: SERVICE_KEY_SCOPES, isArray: true, example: ['payments:write'] })
  scopes: ServiceKeyScope[];

  @ApiProperty({ format: 'date-time' })
  createdAt: string;
}

export class ListedServiceKeyView extends ServiceKeyView {
  @ApiProperty({
    format: 'date-time',
    nullable: true,
    type: String,
    example: '2026-12-01T09:00:03.000Z',
    description: 'Last use, to within a minute; null when never used',
  })
  lastUsedAt: string | null;
}

export class CreatedServiceKeyView extends ServiceKeyView {
  @ApiProperty({
    example: 'svc_q3J0nW8Zb1rXc5Yt2kLm9PvA7sD4fG6hJ0eR1tU3iO8',
    description: 'The key, shown only in this response; send it as `Authorization: Bearer svc_...`',
  })
  key: string;
}
