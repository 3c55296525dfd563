import { DomainError } from '../common/errors/domain-error.js';
import type { AuthUser } from '../auth/auth-user.js';
import { isPaymentConfirmed, type PaymentStatus } from './session-transitions.js';

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

export function assertAccess(session: SessionParties, user: AuthUser, rule: AccessRule): void {
  if (user.role === 'admin') {
    if (rule.admin === 'forbid') {
      throw new DomainError(
        'FORBIDDEN',
        'Admins cannot do this; only the session participants can',
      );
    }
  } else if (!rule.participants) {
    throw new DomainError('FORBIDDEN', 'Only an admin can do this');
  } else if (!isParticipant(session, user.id)) {
    throw new DomainError('NOT_PARTICIPANT', 'Only the participants of this session can do this');
  }
  if (rule.requirePayment && !isPaymentConfirmed(session.paymentStatus)) {
    throw new DomainError('PAYMENT_NOT_CONFIRMED', 'The payment for this session is not confirmed');
  }
}
