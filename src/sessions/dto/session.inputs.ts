import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, IsUUID, Max, MaxLength, Min } from 'class-validator';
import {
  PAYMENT_STATUSES,
  SESSION_STATUSES,
  type PaymentStatus,
  type SessionStatus,
} from '../session-transitions.js';
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

export class ListSessionsQuery {
  @ApiPropertyOptional({ enum: SESSION_STATUSES })
  @IsOptional()
  @IsIn(SESSION_STATUSES)
  status?: SessionStatus;

  @ApiPropertyOptional({ minimum: 1, default: 1 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  page: number = 1;

  @ApiPropertyOptional({ minimum: 1, maximum: 100, default: 20 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100)
  limit: number = 20;
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
