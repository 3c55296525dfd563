import { ApiProperty } from '@nestjs/swagger';
import { PageInfo } from '../../common/http/paging.js';
import type { DateOverride, WeeklyInterval } from '../working-hours.js';
import type { ProfileRow } from '../psychologists.sql.js';
import { DateOverrideDto, WeeklyIntervalDto } from './psychologist.inputs.js';

export class PsychologistView {
  @ApiProperty({ format: 'uuid', example: 'c4d5e6f7-1a2b-4c3d-8e9f-0a1b2c3d4e5f' })
  id: string;

  @ApiProperty({ example: 'Dr. Ada Berg' })
  name: string;

  @ApiProperty({
    type: String,
    nullable: true,
    example: 'Cognitive behavioural therapy for anxiety and sleep.',
  })
  bio: string | null;

  @ApiProperty({
    example: 'Europe/Berlin',
    description: 'IANA zone of their working hours ("UTC" until they set one)',
  })
  timeZone: string;

  static of(row: ProfileRow): PsychologistView {
    return { id: row.id, name: row.name, bio: row.bio, timeZone: row.time_zone };
  }
}

export class PsychologistPage extends PageInfo {
  @ApiProperty({ type: [PsychologistView] })
  items: PsychologistView[];
}

export class AvailabilityView {
  @ApiProperty({ format: 'uuid', example: 'c4d5e6f7-1a2b-4c3d-8e9f-0a1b2c3d4e5f' })
  psychologistId: string;

  @ApiProperty({ example: 'Europe/Berlin', description: 'The IANA zone the times are in' })
  timeZone: string;

  @ApiProperty({ type: [WeeklyIntervalDto] })
  weekly: WeeklyInterval[];

  @ApiProperty({ type: [DateOverrideDto] })
  overrides: DateOverride[];

  @ApiProperty({
    example: true,
    description:
      'false: no working hours set, so bookable at any time (weekly and overrides empty)',
  })
  configured: boolean;
}

export class SlotsView {
  @ApiProperty({ format: 'uuid', example: 'c4d5e6f7-1a2b-4c3d-8e9f-0a1b2c3d4e5f' })
  psychologistId: string;

  @ApiProperty({ example: 'Europe/Berlin', description: "The psychologist's IANA zone" })
  timeZone: string;

  @ApiProperty({ example: 50 })
  durationMinutes: number;

  @ApiProperty({ example: 15, description: 'The grid of start times (SLOT_STEP_MINUTES)' })
  stepMinutes: number;

  @ApiProperty({
    type: [String],
    format: 'date-time',
    example: ['2027-01-04T08:00:00.000Z', '2027-01-04T08:15:00.000Z'],
    description: 'Free start times (UTC), ascending',
  })
  slots: string[];
}
