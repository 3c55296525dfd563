import { ValidationPipe, type ValidationError } from '@nestjs/common';
import { DomainError, type FieldProblem } from './domain-error.js';

function flatten(errors: ValidationError[], parent = ''): FieldProblem[] {
  return errors.flatMap((e) => {
    const field = parent ? `${parent}.${e.property}` : e.property;
    const own = e.constraints ? [{ field, messages: Object.values(e.constraints) }] : [];
    return [...own, ...flatten(e.children ?? [], field)];
  });
}

export function validationFailed(errors: ValidationError[]): DomainError {
  const details = flatten(errors);
  const summary = details.map((d) => d.messages.join(', ')).join('; ');
  return new DomainError('VALIDATION_FAILED', summary || 'Invalid request', details);
}

/** Bodies and queries: unknown fields refused, types converted, failures coded. */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    forbidUnknownValues: true,
    exceptionFactory: validationFailed,
  });
}
