import { ParseUUIDPipe } from '@nestjs/common';
import { DomainError } from '../errors/domain-error.js';

/** A path id that is not a UUID is a 400 VALIDATION_FAILED, before anything is looked up. */
export const ParseId = (field: string) =>
  new ParseUUIDPipe({
    exceptionFactory: () =>
      new DomainError('VALIDATION_FAILED', `${field} must be a UUID`, [
        { field, messages: ['must be a UUID'] },
      ]),
  });
