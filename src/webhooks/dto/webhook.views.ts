import { ApiProperty } from '@nestjs/swagger';
import { WEBHOOK_EVENT_TYPES, type WebhookEventType } from '../webhook-events.js';

export class WebhookView {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty()
  url: string;

  @ApiProperty({ enum: WEBHOOK_EVENT_TYPES, isArray: true })
  events: WebhookEventType[];

  @ApiProperty({ format: 'date-time' })
  createdAt: string;
}

export class CreatedWebhookView extends WebhookView {
  @ApiProperty({
    example: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    description: 'The signing secret, shown only in this response',
  })
  secret: string;
}

export class DeliveryAttemptView {
  @ApiProperty({ format: 'date-time' })
  at: string;

  @ApiProperty({ nullable: true, type: Number, description: 'null when no response came' })
  responseStatus: number | null;

  @ApiProperty({ nullable: true, type: String, description: 'Why the attempt failed, if it did' })
  error: string | null;
}

export class DeliveryView {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty({ format: 'uuid', description: 'The `webhook-id` header, the same on every retry' })
  eventId: string;

  @ApiProperty({ enum: WEBHOOK_EVENT_TYPES })
  type: WebhookEventType;

  @ApiProperty({ enum: ['pending', 'delivered', 'failed'] })
  state: 'pending' | 'delivered' | 'failed';

  @ApiProperty({ type: [DeliveryAttemptView] })
  attempts: DeliveryAttemptView[];
}
