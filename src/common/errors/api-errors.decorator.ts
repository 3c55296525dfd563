import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional, ApiResponse } from '@nestjs/swagger';
import { ERROR_CODES, type ErrorCode } from './error-codes.js';

class FieldProblemView {
  @ApiProperty({ example: 'email' })
  field: string;

  @ApiProperty({ type: [String], example: ['email must be an email'] })
  messages: string[];
}

export class ErrorBodyView {
  @ApiProperty({ example: 403 })
  statusCode: number;

  @ApiProperty({ example: 'Forbidden' })
  error: string;

  @ApiProperty({ enum: Object.keys(ERROR_CODES), example: 'NOT_PARTICIPANT' })
  code: string;

  @ApiProperty({ example: 'Only the participants of this session may do this' })
  message: string;

  @ApiPropertyOptional({ type: [FieldProblemView], description: 'Present on VALIDATION_FAILED' })
  details?: FieldProblemView[];

  @ApiPropertyOptional({
    enum: ['expired'],
    example: 'expired',
    description:
      'On UNAUTHENTICATED: why. "expired" when the access token has expired (refresh it rather than log in again)',
  })
  reason?: string;
}

/** Documents an operation's error responses, one per HTTP status, naming the codes it can carry. */
export function ApiErrors(...codes: ErrorCode[]) {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) {
    const status = ERROR_CODES[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return applyDecorators(
    ...[...byStatus].map(([status, list]) =>
      ApiResponse({ status, description: list.join(' | '), type: ErrorBodyView }),
    ),
  );
}
