import { ValidationPipe, type ArgumentMetadata, type ValidationError } from '@nestjs/common';
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

/** Far deeper than any input of the API (a signal's SDP object is three levels). */
export const MAX_INPUT_DEPTH = 32;

/**
 * `__proto__`, `constructor`, `valueOf`, `toString`...: class-transformer and Nest drop some of them
 * silently and class-validator's whitelist does not see the others, so they are refused here like
 * any other unknown field (no input of the API has a field of these names).
 */
const PROTOTYPE_KEYS = new Set([...Object.getOwnPropertyNames(Object.prototype), 'prototype']);

/** A lone surrogate: not Unicode text, and validator.js's checks (e.g. isEmail) throw on it. */
const LONE_SURROGATE = /\p{Cs}/u;

function problem(field: string, message: string): DomainError {
  const name = field || 'input';
  return new DomainError('VALIDATION_FAILED', `${name} ${message}`, [
    { field: name, messages: [message] },
  ]);
}

/**
 * Refuses input that class-transformer, class-validator or PostgreSQL cannot be trusted with,
 * before any of them sees it: nesting deep enough to overflow their recursive walks, keys that
 * reach prototypes (otherwise dropped silently instead of refused like other unknown fields),
 * NUL characters (PostgreSQL text cannot hold them) and lone surrogates. Walks without recursion.
 */
export function assertSafeInput(value: unknown): void {
  const stack: Array<{ value: unknown; path: string; depth: number }> = [
    { value, path: '', depth: 0 },
  ];
  for (let item = stack.pop(); item; item = stack.pop()) {
    const { value: v, path, depth } = item;
    if (typeof v === 'string') {
      if (v.includes('\u0000')) {
        throw problem(path, 'must not contain NUL characters');
      }
      if (LONE_SURROGATE.test(v)) {
        throw problem(path, 'must be well-formed Unicode');
      }
      continue;
    }
    if (typeof v !== 'object' || v === null || ArrayBuffer.isView(v) || v instanceof ArrayBuffer) {
      continue;
    }
    if (depth >= MAX_INPUT_DEPTH) {
      throw problem(path, `must not be nested more than ${MAX_INPUT_DEPTH} levels deep`);
    }
    for (const key of Object.keys(v)) {
      const field = path ? `${path}.${key}` : key;
      if (PROTOTYPE_KEYS.has(key) || key.includes('\u0000') || LONE_SURROGATE.test(key)) {
        throw problem(field, 'should not exist');
      }
      stack.push({ value: (v as Record<string, unknown>)[key], path: field, depth: depth + 1 });
    }
  }
}

/**
 * The global pipe: before the DTO rules, a body must be a JSON object (or absent) and bodies and
 * queries must be safe input (see assertSafeInput). Only where a DTO class is validated: the
 * gateway's message bodies (typed `unknown`) pass through here too, and are checked by
 * `parseMessage` inside the acknowledgement instead.
 */
class ApiValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if ((metadata.type === 'body' || metadata.type === 'query') && this.toValidate(metadata)) {
      const notAnObject = typeof value !== 'object' || value === null || Array.isArray(value);
      if (metadata.type === 'body' && value !== undefined && notAnObject) {
        throw new DomainError('VALIDATION_FAILED', 'The body must be a JSON object');
      }
      assertSafeInput(value);
    }
    return super.transform(value, metadata);
  }
}

/** Bodies and queries: unknown fields refused, types converted, failures coded. */
export function createValidationPipe(): ValidationPipe {
  return new ApiValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    forbidUnknownValues: true,
    exceptionFactory: validationFailed,
  });
}
