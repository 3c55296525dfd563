import { applyDecorators } from '@nestjs/common';
import { ApiProperty } from '@nestjs/swagger';
import { buildMessage, IsISO8601, Matches, ValidateBy } from 'class-validator';
import { BOOKABLE_START_MESSAGE, isBookableStart } from '../booking-rules.js';

/**
 * Within the bounds of a booking (booking-rules.ts), checked with the body: a start out of bounds
 * is a malformed request, answered before the session is looked up. A text that is no date is
 * left to the format checks, which say so.
 */
function IsBookableStart(): PropertyDecorator {
  return ValidateBy({
    name: 'isBookableStart',
    validator: {
      validate: (value: unknown) => {
        const ms = typeof value === 'string' ? new Date(value).getTime() : NaN;
        return Number.isNaN(ms) || isBookableStart(ms, Date.now());
      },
      defaultMessage: buildMessage(() => `$property ${BOOKABLE_START_MESSAGE}`),
    },
  });
}

/** The `scheduledStart` of a booking or a reschedule: an instant with a zone, within bounds. */
export function ScheduledStart(): PropertyDecorator {
  return applyDecorators(
    ApiProperty({
      format: 'date-time',
      description:
        'ISO-8601 with a time zone, e.g. 2026-12-01T09:00:00Z; from 5 minutes ago to a year ahead',
      example: '2027-01-04T09:00:00Z',
    }),
    IsISO8601({ strict: true, strictSeparator: true }),
    // Without an offset the instant would depend on the server's time zone.
    Matches(/T.*(Z|[+-]\d{2}(:?\d{2})?)$/i, {
      message: 'scheduledStart must be a date and time with a time zone',
    }),
    IsBookableStart(),
  );
}
