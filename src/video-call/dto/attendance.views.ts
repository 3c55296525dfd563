import { ApiProperty } from '@nestjs/swagger';

export class AttendanceView {
  @ApiProperty({ format: 'uuid' })
  userId: string;

  @ApiProperty({ enum: ['client', 'psychologist'] })
  role: 'client' | 'psychologist';

  @ApiProperty({
    format: 'date-time',
    nullable: true,
    type: String,
    description: 'First time in the room; null if never',
  })
  firstJoinedAt: string | null;

  @ApiProperty({
    format: 'date-time',
    nullable: true,
    type: String,
    description: 'Last time they left; null if never came or in the room now',
  })
  lastLeftAt: string | null;

  @ApiProperty({
    description: 'Seconds in the room, several devices at once counted once',
    example: 2940,
  })
  secondsPresent: number;

  @ApiProperty({ description: 'Separate stays in the room (a drop and rejoin is a new stay)' })
  stays: number;
}
