/**
 * The one list of error codes, shared by REST and WebSocket. The HTTP status is part of the
 * contract (PRODUCT.md section 4); the WebSocket acknowledgement carries only the code.
 */
export const ERROR_CODES = {
  VALIDATION_FAILED: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_PARTICIPANT: 403,
  PAYMENT_NOT_CONFIRMED: 403,
  NOT_FOUND: 404,
  EMAIL_TAKEN: 409,
  INVALID_TRANSITION: 409,
  TOO_EARLY: 409,
  SLOT_TAKEN: 409,
  /** A booking or reschedule outside the psychologist's working hours (admins may). */
  OUTSIDE_WORKING_HOURS: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  /** The database cannot be reached right now (with Retry-After on REST). */
  UNAVAILABLE: 503,
  NOT_IN_ROOM: 409,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export function httpStatusOf(code: ErrorCode): number {
  return ERROR_CODES[code];
}

/** The code that answers a bare HTTP status (framework errors that carry no code of ours). */
export function codeForHttpStatus(status: number): ErrorCode {
  switch (status) {
    case 400:
      return 'VALIDATION_FAILED';
    case 401:
      return 'UNAUTHENTICATED';
    case 403:
      return 'FORBIDDEN';
    case 404:
      return 'NOT_FOUND';
    case 413:
      return 'PAYLOAD_TOO_LARGE';
    case 415:
      return 'UNSUPPORTED_MEDIA_TYPE';
    case 429:
      return 'RATE_LIMITED';
    case 503:
      return 'UNAVAILABLE';
    default:
      return status >= 400 && status < 500 ? 'VALIDATION_FAILED' : 'INTERNAL';
  }
}
