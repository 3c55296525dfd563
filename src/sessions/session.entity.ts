import {
  Column,
  CreateDateColumn,
  Entity,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from 'typeorm';
import { User } from '../auth/user.entity.js';
import type { PaymentStatus, SessionStatus } from './session-transitions.js';

@Entity({ name: 'sessions' })
export class Session {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'client_id', type: 'uuid' })
  clientId: string;

  @ManyToOne(() => User, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'client_id' })
  client?: User;

  @Column({ name: 'psychologist_id', type: 'uuid' })
  psychologistId: string;

  @ManyToOne(() => User, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'psychologist_id' })
  psychologist?: User;

  @Column({ name: 'scheduled_start', type: 'timestamptz' })
  scheduledStart: Date;

  /** scheduledStart + durationMinutes; stored for the database's no-overlap constraints. */
  @Column({ name: 'scheduled_end', type: 'timestamptz' })
  scheduledEnd: Date;

  @Column({ name: 'duration_minutes', type: 'int' })
  durationMinutes: number;

  @Column({ type: 'text' })
  status: SessionStatus;

  @Column({ name: 'payment_status', type: 'text' })
  paymentStatus: PaymentStatus;

  @Column({ name: 'video_call_started', type: 'timestamptz', nullable: true })
  videoCallStarted: Date | null;

  @Column({ name: 'video_call_ended', type: 'timestamptz', nullable: true })
  videoCallEnded: Date | null;

  /** The call's length in whole minutes (rounded to nearest), once it ended. */
  @Column({ name: 'call_duration_minutes', type: 'int', nullable: true })
  duration: number | null;

  @Column({ name: 'cancel_reason', type: 'text', nullable: true })
  cancelReason: string | null;

  /** Set with the No Show transition: true for a participant who never joined the room. */
  @Column({ name: 'no_show_client', type: 'boolean', nullable: true, insert: false, update: false })
  noShowClient: boolean | null;

  @Column({
    name: 'no_show_psychologist',
    type: 'boolean',
    nullable: true,
    insert: false,
    update: false,
  })
  noShowPsychologist: boolean | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
