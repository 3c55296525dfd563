import { Logger } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import type { ExtendedError } from 'socket.io';
import { warnDatabaseUnavailable } from '../../database/outage-log.js';
import { DomainError } from './domain-error.js';
import type { ErrorCode } from './error-codes.js';
import { compileMessageCheck, type MessageCheck } from './message-check.js';
import { asUnavailable } from './unavailable.js';
import { assertSafeInput, validationFailed } from './validation.js';

/** An error as WebSocket payloads carry it: a code of the registry, its message, code-specific fields. */
export interface WsError {
  code: ErrorCode;
  message: string;
  [field: string]: unknown;
}

export type Ack<T extends object = object> = ({ ok: true } & T) | { ok: false; error: WsError };

export function wsError(
  code: ErrorCode,
  message: string,
  extra?: Record<string, unknown>,
): WsError {
  return { ...extra, code, message };
}

/** A refusal as an acknowledgement. */
export function errorAck(
  code: ErrorCode,
  message: string,
  extra?: Record<string, unknown>,
): { ok: false; error: WsError } {
  return { ok: false, error: wsError(code, message, extra) };
}

/**
 * A refused handshake, for the namespace middleware's `next`: the client's connect_error has the
 * code as its message and, as `data`, the code with its code-specific fields (`retryAfter`,
 * `reason`).
 */
export function connectError(code: ErrorCode, extra?: Record<string, unknown>): ExtendedError {
  const error: ExtendedError = new Error(code);
  error.data = { ...extra, code };
  return error;
}

/** What a handshake check threw, as its connect_error; anything but a DomainError is `fallback`. */
export function connectErrorOf(thrown: unknown, fallback: ErrorCode): ExtendedError {
  return thrown instanceof DomainError
    ? connectError(thrown.code, thrown.extra)
    : connectError(fallback);
}

const logger = new Logger('WebSocket');

/**
 * The WebSocket twin of the HTTP filter: a handler's result or error as an acknowledgement; an
 * unreachable database is UNAVAILABLE (a rate-limited warning, no stack), another unexpected
 * error INTERNAL (logged with its stack).
 */
export async function toAck<T extends object>(work: () => Promise<T>): Promise<Ack<T>> {
  try {
    return { ok: true, ...(await work()) };
  } catch (thrown) {
    const error = asUnavailable(thrown) ?? thrown;
    if (error instanceof DomainError) {
      if (error.code === 'UNAVAILABLE') {
        warnDatabaseUnavailable('WebSocket', thrown);
      }
      return errorAck(error.code, error.message, error.extra);
    }
    logger.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    return errorAck('INTERNAL', 'Internal server error');
  }
}

/** Each message class's compiled check (null: the class is always checked in full). */
const checks = new WeakMap<object, MessageCheck | null>();

/**
 * Validates an incoming payload like the REST ValidationPipe does: unknown fields refused. A
 * payload that passes the class's compiled check (`compileMessageCheck`: the same rules) is
 * returned as it is; otherwise class-validator runs in full and reports why not.
 * `opaque` fields are relayed as they are (a signal's SDP or ICE candidate): checked by their own
 * decorators and by assertSafeInput, but not copied through class-transformer, which would clone
 * every nested object of every signal (about 6% of the CPU of a signaling load).
 */
export async function parseMessage<T extends object>(
  type: new () => T,
  payload: unknown,
  opaque: ReadonlyArray<keyof T & string> = [],
): Promise<T> {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw new DomainError('VALIDATION_FAILED', 'The payload must be an object');
  }
  assertSafeInput(payload);
  let check = checks.get(type);
  if (check === undefined) {
    check = compileMessageCheck(type);
    checks.set(type, check);
  }
  if (check?.(payload as Record<string, unknown>)) {
    return payload as T;
  }
  return validateInFull(type, payload, opaque);
}

/** class-transformer and class-validator as the REST pipe runs them, for the error report. */
async function validateInFull<T extends object>(
  type: new () => T,
  payload: object,
  opaque: ReadonlyArray<keyof T & string>,
): Promise<T> {
  let plain = payload as Record<string, unknown>;
  if (opaque.length > 0) {
    plain = { ...plain };
    for (const field of opaque) {
      delete plain[field];
    }
  }
  const message = plainToInstance(type, plain);
  for (const field of opaque) {
    if (Object.hasOwn(payload, field)) {
      (message as Record<string, unknown>)[field] = (payload as Record<string, unknown>)[field];
    }
  }
  const errors = await validate(message, { whitelist: true, forbidNonWhitelisted: true });
  if (errors.length > 0) {
    throw validationFailed(errors);
  }
  return message;
}
