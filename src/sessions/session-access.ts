import { DomainError } from '../common/errors/domain-error.js';
import type { AuthUser } from '../auth/auth-user.js';
import type { UserRole } from '../auth/user.entity.js';
import { assertRoomOpen } from './session-policies.js';
import {
  isPaymentConfirmed,
  isTerminal,
  ROOM_OPEN_STATUSES,
  type PaymentStatus,
  type SessionStatus,
} from './session-transitions.js';

/**
 * Who may do what to a session. Pure, and applied in the contract's order: role (FORBIDDEN),
 * then membership (NOT_PARTICIPANT), then payment (PAYMENT_NOT_CONFIRMED). Existence (404) is
 * checked by the caller before, and the status (INVALID_TRANSITION) after.
 */
export interface AccessRule {
  /** 'allow': an admin may act on any session; 'forbid': admins get FORBIDDEN. */
  admin: 'allow' | 'forbid';
  /** Whether the session's client and psychologist may act (false: admin-only action). */
  participants: boolean;
  requirePayment?: boolean;
}

export const ACCESS = {
  view: { admin: 'allow', participants: true },
  start: { admin: 'forbid', participants: true, requirePayment: true },
  end: { admin: 'allow', participants: true },
  cancel: { admin: 'allow', participants: true },
  reschedule: { admin: 'allow', participants: true },
  payment: { admin: 'allow', participants: false },
} as const satisfies Record<string, AccessRule>;

export interface SessionParties {
  clientId: string;
  psychologistId: string;
  paymentStatus: PaymentStatus;
}

export function isParticipant(session: SessionParties, userId: string): boolean {
  return session.clientId === userId || session.psychologistId === userId;
}

/** Routes of one role (RoleOnly, AdminOnly): anyone else is the wrong role. */
export function assertRole(user: AuthUser, role: UserRole, message: string): void {
  if (user.role !== role) {
    throw new DomainError('FORBIDDEN', message);
  }
}

/** Admin-only routes (AdminOnly): anyone else is the wrong role. */
export function assertAdmin(user: AuthUser, message = 'Only an admin can do this'): void {
  assertRole(user, 'admin', message);
}

/**
 * Who a booking is for, by the booker's role: a client books for themselves, an admin for the
 * `clientId` they name (required: VALIDATION_FAILED without it), a psychologist not at all.
 * `refusal` is the role's FORBIDDEN, raised by the caller after the ids are known to be valid
 * (the contract checks the body before the role).
 */
export function bookingParty(
  user: AuthUser,
  requestedClientId: string | undefined,
): { clientId: string; clientToCheck: string | null; refusal: DomainError | null } {
  if (user.role === 'admin') {
    if (!requestedClientId) {
      throw new DomainError('VALIDATION_FAILED', 'clientId is required when an admin books', [
        { field: 'clientId', messages: ['clientId is required when an admin books'] },
      ]);
    }
    return { clientId: requestedClientId, clientToCheck: requestedClientId, refusal: null };
  }
  let refusal: DomainError | null = null;
  if (user.role === 'psychologist') {
    refusal = new DomainError('FORBIDDEN', 'Psychologists cannot book sessions');
  } else if (requestedClientId !== undefined && requestedClientId !== user.id) {
    refusal = new DomainError('FORBIDDEN', 'A client can only book for themselves');
  }
  return { clientId: user.id, clientToCheck: null, refusal };
}

export function assertAccess(session: SessionParties, user: AuthUser, rule: AccessRule): void {
  if (user.role === 'admin') {
    if (rule.admin === 'forbid') {
      throw new DomainError(
        'FORBIDDEN',
        'Admins cannot do this; only the session participants can',
      );
    }
  } else if (!rule.participants) {
    assertAdmin(user);
  } else if (!isParticipant(session, user.id)) {
    throw new DomainError('NOT_PARTICIPANT', 'Only the participants of this session can do this');
  }
  if (rule.requirePayment && !isPaymentConfirmed(session.paymentStatus)) {
    throw new DomainError('PAYMENT_NOT_CONFIRMED', 'The payment for this session is not confirmed');
  }
}

/** What deciding about a session's room needs to know of the session. */
export interface RoomSession extends SessionParties {
  status: SessionStatus;
  scheduledStart: Date;
}

/**
 * Why `user` may not enter the session's room (join-room, or start the call) at `now`, or null
 * when they may. The contract's order: role, membership, payment, the room's window, the status.
 * join-room's statement applies the same rules in SQL, built from the same lists; when it refuses,
 * this names the reason.
 */
export function roomEntryRefusal(
  session: RoomSession,
  user: AuthUser,
  now: Date,
  joinEarlyMinutes: number,
): DomainError | null {
  try {
    assertAccess(session, user, ACCESS.start);
    assertRoomOpen(session.scheduledStart, joinEarlyMinutes, now);
  } catch (error) {
    if (error instanceof DomainError) {
      return error;
    }
    throw error;
  }
  if (ROOM_OPEN_STATUSES.includes(session.status)) {
    return null;
  }
  return new DomainError(
    'INVALID_TRANSITION',
    isTerminal(session.status)
      ? `The session has ended: it is ${session.status}`
      : `The room is open only while the session is ${ROOM_OPEN_STATUSES.join(' or ')}; it is ${session.status}`,
  );
}
