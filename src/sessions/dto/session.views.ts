import { ApiProperty } from '@nestjs/swagger';
import {
  PAYMENT_STATUSES,
  HISTORY_CAUSES,
  SESSION_STATUSES,
  type HistoryCause,
  type PaymentStatus,
  type SessionStatus,
} from '../session-transitions.js';
import { PageInfo } from '../../common/http/paging.js';
import type { SessionRecord } from '../session-record.js';

export class PartyView {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty()
  name: string;
}

export class NoShowView {
  @ApiProperty({ description: 'true when the client never joined the room' })
  client: boolean;

  @ApiProperty({ description: 'true when the psychologist never joined the room' })
  psychologist: boolean;
}

export class SessionView {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty({ format: 'uuid' })
  clientId: string;

  @ApiProperty({ format: 'uuid' })
  psychologistId: string;

  @ApiProperty({ type: PartyView })
  client: PartyView;

  @ApiProperty({ type: PartyView })
  psychologist: PartyView;

  @ApiProperty({ format: 'date-time' })
  scheduledStart: string;

  @ApiProperty({ minimum: 15, maximum: 180, example: 50 })
  durationMinutes: number;

  @ApiProperty({ enum: SESSION_STATUSES })
  status: SessionStatus;

  @ApiProperty({ enum: PAYMENT_STATUSES })
  paymentStatus: PaymentStatus;

  @ApiProperty({ format: 'date-time', nullable: true, type: String })
  videoCallStarted: string | null;

  @ApiProperty({ format: 'date-time', nullable: true, type: String })
  videoCallEnded: string | null;

  @ApiProperty({
    nullable: true,
    type: Number,
    description: 'Call length in whole minutes (rounded) once ended',
  })
  duration: number | null;

  @ApiProperty({
    type: NoShowView,
    nullable: true,
    description: 'Who never came; null unless the status is No Show',
  })
  noShow: NoShowView | null;

  @ApiProperty({ format: 'date-time' })
  createdAt: string;

  @ApiProperty({ format: 'date-time' })
  updatedAt: string;

  /** Needs `client` and `psychologist` loaded. */
  static of(s: SessionRecord): SessionView {
    return {
      id: s.id,
      clientId: s.clientId,
      psychologistId: s.psychologistId,
      client: { id: s.clientId, name: s.client?.name ?? '' },
      psychologist: { id: s.psychologistId, name: s.psychologist?.name ?? '' },
      scheduledStart: s.scheduledStart.toISOString(),
      durationMinutes: s.durationMinutes,
      status: s.status,
      paymentStatus: s.paymentStatus,
      videoCallStarted: s.videoCallStarted?.toISOString() ?? null,
      videoCallEnded: s.videoCallEnded?.toISOString() ?? null,
      duration: s.duration,
      noShow:
        s.status === 'No Show'
          ? { client: s.noShowClient ?? true, psychologist: s.noShowPsychologist ?? true }
          : null,
      createdAt: s.createdAt.toISOString(),
      updatedAt: s.updatedAt.toISOString(),
    };
  }
}

export class SessionPage extends PageInfo {
  @ApiProperty({ type: [SessionView] })
  items: SessionView[];
}

export class StatusChangeView {
  @ApiProperty({ enum: SESSION_STATUSES })
  from: SessionStatus;

  @ApiProperty({ enum: SESSION_STATUSES })
  to: SessionStatus;

  @ApiProperty({ format: 'date-time' })
  at: string;

  @ApiProperty({
    format: 'uuid',
    nullable: true,
    type: String,
    description: 'null when the system or a service key acted',
  })
  actorId: string | null;

  @ApiProperty({
    format: 'uuid',
    nullable: true,
    type: String,
    example: '7a1e3c5b-2d4f-4a6b-8c9d-0e1f2a3b4c5d',
    description: 'The service key that acted (`actorId` is then null); null otherwise',
  })
  actorKeyId: string | null;

  @ApiProperty({
    enum: HISTORY_CAUSES,
    description: 'reschedule: the session moved in time and kept its status (from = to)',
  })
  cause: HistoryCause;

  @ApiProperty({
    format: 'date-time',
    nullable: true,
    type: String,
    description: 'The start it moved from (reschedule only)',
  })
  previousStart: string | null;

  @ApiProperty({
    format: 'date-time',
    nullable: true,
    type: String,
    description: 'The start it moved to (reschedule only)',
  })
  scheduledStart: string | null;
}
