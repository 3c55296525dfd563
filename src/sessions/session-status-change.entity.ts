import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';
import type { SessionStatus, TransitionCause } from './session-transitions.js';

/** One row per status change, written in the same transaction as the change itself. */
@Entity({ name: 'session_status_changes' })
export class SessionStatusChange {
  @PrimaryGeneratedColumn('identity', { type: 'bigint' })
  id: string;

  @Column({ name: 'session_id', type: 'uuid' })
  sessionId: string;

  @Column({ name: 'from_status', type: 'text' })
  from: SessionStatus;

  @Column({ name: 'to_status', type: 'text' })
  to: SessionStatus;

  @Column({ type: 'timestamptz' })
  at: Date;

  @Column({ name: 'actor_id', type: 'uuid', nullable: true })
  actorId: string | null;

  @Column({ type: 'text' })
  cause: TransitionCause;
}
