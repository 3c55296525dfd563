import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, IsUUID, MaxLength } from 'class-validator';
import {
  PAYMENT_STATUSES,
  SESSION_STATUSES,
  type PaymentStatus,
  type SessionStatus,
} from '../session-transitions.js';
import { PageQuery } from '../../common/http/paging.js';
import { IsIntegerInRange } from './integer-in-range.js';
import { ScheduledStart } from './scheduled-start.js';

export class BookSessionDto {
  @ApiProperty({ format: 'uuid', description: 'A user whose role is psychologist' })
  @IsUUID()
  psychologistId: string;

  @ScheduledStart()
  scheduledStart: string;

  @ApiPropertyOptional({ type: 'integer', minimum: 15, maximum: 180, default: 50 })
  @IsOptional()
  @IsIntegerInRange(15, 180)
  durationMinutes?: number;

  @ApiPropertyOptional({ format: 'uuid', description: 'Required when an admin books for a client' })
  @IsOptional()
  @IsUUID()
  clientId?: string;
}

export class ListSessionsQuery extends PageQuery {
  @ApiPropertyOptional({ enum: SESSION_STATUSES })
  @IsOptional()
  @IsIn(SESSION_STATUSES)
  status?: SessionStatus;
}

export class ConfirmPaymentDto {
  @ApiProperty({
    enum: PAYMENT_STATUSES,
    example: 'Paid',
    description: 'Confirmed, Paid or Verified confirm the payment',
  })
  @IsIn(PAYMENT_STATUSES)
  paymentStatus: PaymentStatus;
}

export class CancelSessionDto {
  @ApiPropertyOptional({ maxLength: 500 })
  @IsOptional()
  @IsString()
  @MaxLength(500)
  reason?: string;
}

export class RescheduleSessionDto {
  @ScheduledStart()
  scheduledStart: string;

  @ApiPropertyOptional({
    type: 'integer',
    minimum: 15,
    maximum: 180,
    description: "Default: the session's current length",
  })
  @IsOptional()
  @IsIntegerInRange(15, 180)
  durationMinutes?: number;
}
