import { HttpException } from '@nestjs/common';
import { STATUS_CODES } from 'node:http';
import { DomainError, type FieldProblem } from './domain-error.js';
import { codeForHttpStatus, httpStatusOf, type ErrorCode } from './error-codes.js';
import { asUnavailable } from './unavailable.js';

export interface ErrorBody {
  statusCode: number;
  error: string;
  code: ErrorCode;
  message: string;
  details?: FieldProblem[];
  /** Code-specific fields, such as `opensAt` on TOO_EARLY. */
  [field: string]: unknown;
}

export interface ErrorResponse {
  status: number;
  body: ErrorBody;
  /**
   * True when the error was not expected (a bug): it is logged with its stack. The database being
   * unreachable is expected, and answered UNAVAILABLE.
   */
  unexpected: boolean;
}

function body(code: ErrorCode, message: string, details?: FieldProblem[]): ErrorBody {
  const statusCode = httpStatusOf(code);
  return {
    statusCode,
    error: STATUS_CODES[statusCode] ?? 'Error',
    code,
    message,
    ...(details ? { details } : {}),
  };
}

/** Errors of the HTTP layer below Nest (Fastify's body parsing) that reach us unmapped. */
function isFrameworkError(e: unknown): e is { statusCode: number; message: string } {
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof (e as { statusCode?: unknown }).statusCode === 'number' &&
    typeof (e as { message?: unknown }).message === 'string'
  );
}

const FRAMEWORK_MESSAGES: Partial<Record<ErrorCode, string>> = {
  PAYLOAD_TOO_LARGE: 'Request body is larger than 1 MiB',
  UNSUPPORTED_MEDIA_TYPE: 'Request body must be application/json',
};

function frameworkMessage(code: ErrorCode, fallback: string): string {
  return FRAMEWORK_MESSAGES[code] ?? fallback;
}

/**
 * Maps anything thrown while serving a request to the one error body of the API. No stack, SQL or
 * driver message ever reaches a client: an unreachable database answers 503 UNAVAILABLE (also
 * from a guard: Nest hands a guard's error to the filter as it is), other unexpected errors 500
 * INTERNAL.
 */
export function toErrorResponse(thrown: unknown): ErrorResponse {
  const exception = asUnavailable(thrown) ?? thrown;
  if (exception instanceof DomainError) {
    const b = { ...exception.extra, ...body(exception.code, exception.message, exception.details) };
    return { status: b.statusCode, body: b, unexpected: false };
  }
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    if (status < 500) {
      const code = codeForHttpStatus(status);
      // Fastify's body errors reach here as HttpExceptions (Nest maps them before the filter).
      const b = { ...body(code, frameworkMessage(code, exception.message)), statusCode: status };
      b.error = STATUS_CODES[status] ?? b.error;
      return { status, body: b, unexpected: false };
    }
  } else if (isFrameworkError(exception) && exception.statusCode < 500) {
    const code = codeForHttpStatus(exception.statusCode);
    const b = { ...body(code, frameworkMessage(code, exception.message)) };
    b.statusCode = exception.statusCode;
    b.error = STATUS_CODES[exception.statusCode] ?? b.error;
    return { status: exception.statusCode, body: b, unexpected: false };
  }
  return { status: 500, body: body('INTERNAL', 'Internal server error'), unexpected: true };
}
