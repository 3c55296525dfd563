import { ApiProperty } from '@nestjs/swagger';
import { SessionView } from '../../sessions/dto/session.views.js';

export class CallParticipantView {
  @ApiProperty({ format: 'uuid' })
  userId: string;

  @ApiProperty({ enum: ['client', 'psychologist'] })
  role: 'client' | 'psychologist';

  @ApiProperty()
  name: string;

  @ApiProperty({ description: 'In the room right now, on any instance' })
  present: boolean;

  @ApiProperty({
    format: 'date-time',
    nullable: true,
    type: String,
    description: 'Start of the current stay',
  })
  joinedAt: string | null;
}

export class VideoCallView extends SessionView {
  @ApiProperty({ type: [CallParticipantView] })
  participants: CallParticipantView[];

  @ApiProperty({
    description: 'Length of the call so far (or in total once ended); 0 before it starts',
  })
  callSeconds: number;
}
