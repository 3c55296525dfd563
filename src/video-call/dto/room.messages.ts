import { IsDefined, IsIn, IsJWT, IsOptional, IsUUID } from 'class-validator';

export class JoinRoomMessage {
  @IsUUID()
  sessionId: string;
}

export class LeaveRoomMessage {
  @IsUUID()
  sessionId: string;
}

export const SIGNAL_TYPES = ['offer', 'answer', 'ice-candidate'] as const;
export type SignalType = (typeof SIGNAL_TYPES)[number];

/** The largest `data` a signal may carry, as JSON. */
export const SIGNAL_MAX_BYTES = 64 * 1024;

export class SignalMessage {
  @IsUUID()
  sessionId: string;

  @IsOptional()
  @IsUUID()
  to?: string;

  @IsIn(SIGNAL_TYPES)
  type: SignalType;

  /** An SDP description or an ICE candidate, relayed as it is. */
  @IsDefined()
  data: unknown;
}

export class RenewTokenMessage {
  @IsJWT()
  token: string;
}
