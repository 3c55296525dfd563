import type { ErrorCode } from './error-codes.js';

export interface FieldProblem {
  field: string;
  messages: string[];
}

/**
 * What services throw. It carries a stable code from the registry and no transport knowledge;
 * the HTTP filter and the WebSocket acknowledgement map it.
 */
export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: FieldProblem[],
    /** Extra top-level fields of the error body, e.g. `opensAt` on TOO_EARLY. */
    readonly extra?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}
