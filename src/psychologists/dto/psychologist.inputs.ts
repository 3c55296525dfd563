import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsIn,
  IsISO8601,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
  MinLength,
  ValidateIf,
  ValidateNested,
} from 'class-validator';
import { PageQuery } from '../../common/http/paging.js';
import { IsIntegerInRange } from '../../sessions/dto/integer-in-range.js';
import { WEEKDAYS, type Weekday } from '../working-hours.js';

const trim = ({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value);

/** Given (not undefined): null is refused like any other non-string, rather than skipped. */
const unlessAbsent = (_: object, value: unknown) => value !== undefined;

const WALL_TIME = /^(?:[01]\d|2[0-3]):[0-5]\d$|^24:00$/;
const WALL_TIME_MESSAGE = '$property must be a time HH:MM (00:00 to 24:00)';
/** Not only blanks, and no control characters (a name is one line of text). */
const ONE_LINE = /^[^\p{Cc}]*\S[^\p{Cc}]*$/u;

export class PsychologistListQuery extends PageQuery {
  @ApiPropertyOptional({
    description:
      'Part of the name, any case; % _ and \\ match themselves. Omit it to list everyone.',
    minLength: 1,
    maxLength: 100,
    example: 'berg',
  })
  @IsOptional()
  @Transform(trim)
  @IsString()
  @MaxLength(100)
  @Matches(ONE_LINE, { message: 'search must be text with a non-blank character' })
  search?: string;
}

export class UpdateProfileDto {
  @ApiPropertyOptional({ example: 'Dr. Ada Berg', minLength: 1, maxLength: 100 })
  @ValidateIf(unlessAbsent)
  @Transform(trim)
  @IsString()
  @MinLength(1)
  @MaxLength(100)
  @Matches(ONE_LINE, { message: 'name must be one line of text' })
  name?: string;

  @ApiPropertyOptional({
    type: String,
    nullable: true,
    maxLength: 2000,
    example: 'Cognitive behavioural therapy for anxiety and sleep; sessions in English and German.',
    description: 'null clears it',
  })
  @ValidateIf((_: object, value: unknown) => value !== undefined && value !== null)
  @IsString()
  @MaxLength(2000)
  bio?: string | null;

  @ApiPropertyOptional({ example: 'Europe/Berlin', maxLength: 64, description: 'An IANA zone' })
  @ValidateIf(unlessAbsent)
  @IsString()
  @MaxLength(64)
  timeZone?: string;
}

export class WallIntervalDto {
  @ApiProperty({ example: '09:00', pattern: WALL_TIME.source })
  @IsString()
  @Matches(WALL_TIME, { message: WALL_TIME_MESSAGE })
  start: string;

  @ApiProperty({ example: '17:00', pattern: WALL_TIME.source, description: '"24:00" = midnight' })
  @IsString()
  @Matches(WALL_TIME, { message: WALL_TIME_MESSAGE })
  end: string;
}

export class WeeklyIntervalDto extends WallIntervalDto {
  @ApiProperty({ enum: WEEKDAYS, example: 'mon' })
  @IsIn(WEEKDAYS)
  day: Weekday;
}

export class DateOverrideDto {
  @ApiProperty({ example: '2027-01-04', pattern: '^\\d{4}-\\d{2}-\\d{2}$' })
  @IsString()
  @Matches(/^\d{4}-\d{2}-\d{2}$/, { message: '$property must be a date YYYY-MM-DD' })
  date: string;

  @ApiProperty({
    type: [WallIntervalDto],
    maxItems: 24,
    description: 'The hours of that date instead of its weekday; none = a day off',
  })
  @IsArray()
  @ArrayMaxSize(24)
  @ValidateNested({ each: true })
  @Type(() => WallIntervalDto)
  intervals: WallIntervalDto[];
}

const WEEKLY_EXAMPLE = [
  { day: 'mon', start: '09:00', end: '12:00' },
  { day: 'mon', start: '13:00', end: '17:00' },
  { day: 'wed', start: '09:00', end: '17:00' },
];

export class SetAvailabilityDto {
  @ApiProperty({
    example: 'Europe/Berlin',
    maxLength: 64,
    description: 'The IANA zone the times are wall-clock in (also becomes the profile zone)',
  })
  @IsString()
  @MaxLength(64)
  timeZone: string;

  @ApiProperty({ type: [WeeklyIntervalDto], maxItems: 70, example: WEEKLY_EXAMPLE })
  @IsArray()
  @ArrayMaxSize(70)
  @ValidateNested({ each: true })
  @Type(() => WeeklyIntervalDto)
  weekly: WeeklyIntervalDto[];

  @ApiProperty({
    type: [DateOverrideDto],
    maxItems: 400,
    example: [{ date: '2027-01-04', intervals: [] }],
  })
  @IsArray()
  @ArrayMaxSize(400)
  @ValidateNested({ each: true })
  @Type(() => DateOverrideDto)
  overrides: DateOverrideDto[];
}

export class SlotsQuery {
  @ApiProperty({
    format: 'date-time',
    example: '2027-01-04T00:00:00Z',
    description: 'Slots start at or after this instant (ISO-8601 with a zone)',
  })
  @IsISO8601({ strict: true, strictSeparator: true })
  @Matches(/T.*(Z|[+-]\d{2}(:?\d{2})?)$/i, { message: 'from must be a date and time with a zone' })
  from: string;

  @ApiProperty({
    format: 'date-time',
    example: '2027-01-11T00:00:00Z',
    description: 'Slots start before this instant; at most 31 days after `from`',
  })
  @IsISO8601({ strict: true, strictSeparator: true })
  @Matches(/T.*(Z|[+-]\d{2}(:?\d{2})?)$/i, { message: 'to must be a date and time with a zone' })
  to: string;

  @ApiPropertyOptional({ type: 'integer', minimum: 15, maximum: 180, default: 50 })
  @IsOptional()
  @Type(() => Number)
  @IsIntegerInRange(15, 180)
  durationMinutes: number = 50;
}
