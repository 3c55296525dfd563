import type { AuthUser } from '../auth/auth-user.js';
import { DomainError } from '../common/errors/domain-error.js';
import type { ErrorCode } from '../common/errors/error-codes.js';
import {
  ACCESS,
  assertAccess,
  assertAdmin,
  bookingParty,
  isParticipant,
  roomEntryRefusal,
  type AccessRule,
  type RoomSession,
  type SessionParties,
} from './session-access.js';
import {
  PAYMENT_STATUSES,
  ROOM_OPEN_STATUSES,
  SESSION_STATUSES,
  type PaymentStatus,
} from './session-transitions.js';

const CLIENT: AuthUser = { id: 'client-1', role: 'client' };
const PSYCHOLOGIST: AuthUser = { id: 'psy-1', role: 'psychologist' };
const ADMIN: AuthUser = { id: 'admin-1', role: 'admin' };
const OTHER_CLIENT: AuthUser = { id: 'client-2', role: 'client' };
const OTHER_PSYCHOLOGIST: AuthUser = { id: 'psy-2', role: 'psychologist' };

function session(paymentStatus: PaymentStatus = 'Paid'): SessionParties {
  return { clientId: CLIENT.id, psychologistId: PSYCHOLOGIST.id, paymentStatus };
}

/** The code assertAccess throws, or 'ok' when it lets the user through. */
function outcome(s: SessionParties, user: AuthUser, rule: AccessRule): ErrorCode | 'ok' {
  try {
    assertAccess(s, user, rule);
    return 'ok';
  } catch (error) {
    if (error instanceof DomainError) {
      return error.code;
    }
    throw error;
  }
}

const RULES = Object.entries(ACCESS) as Array<[keyof typeof ACCESS, AccessRule]>;

describe('ACCESS table', () => {
  it('states who may do what, as PRODUCT.md section 4 says', () => {
    expect(ACCESS).toEqual({
      view: { admin: 'allow', participants: true },
      start: { admin: 'forbid', participants: true, requirePayment: true },
      end: { admin: 'allow', participants: true },
      cancel: { admin: 'allow', participants: true },
      reschedule: { admin: 'allow', participants: true },
      payment: { admin: 'allow', participants: false },
    });
  });
});

describe('isParticipant', () => {
  it('is true for the client and the psychologist only', () => {
    expect(isParticipant(session(), CLIENT.id)).toBe(true);
    expect(isParticipant(session(), PSYCHOLOGIST.id)).toBe(true);
    expect(isParticipant(session(), OTHER_CLIENT.id)).toBe(false);
    expect(isParticipant(session(), ADMIN.id)).toBe(false);
  });
});

describe('assertAccess', () => {
  describe('an admin', () => {
    it.each(RULES)('on %s is allowed exactly when the rule allows admins', (_name, rule) => {
      expect(outcome(session(), ADMIN, rule)).toBe(rule.admin === 'allow' ? 'ok' : 'FORBIDDEN');
    });

    it('may view, end, cancel and record payment of a session that is not paid', () => {
      for (const rule of [ACCESS.view, ACCESS.end, ACCESS.cancel, ACCESS.payment]) {
        expect(outcome(session('Pending'), ADMIN, rule)).toBe('ok');
      }
    });

    it('gets FORBIDDEN on start even when the payment is not confirmed (role before payment)', () => {
      expect(outcome(session('Failed'), ADMIN, ACCESS.start)).toBe('FORBIDDEN');
    });
  });

  describe('the participants', () => {
    it.each(RULES)('on %s are allowed exactly when the rule allows participants', (_name, rule) => {
      for (const user of [CLIENT, PSYCHOLOGIST]) {
        expect(outcome(session(), user, rule)).toBe(rule.participants ? 'ok' : 'FORBIDDEN');
      }
    });
  });

  describe('a stranger', () => {
    it.each(RULES)(
      'on %s gets NOT_PARTICIPANT, or FORBIDDEN on an admin-only rule',
      (_name, rule) => {
        for (const user of [OTHER_CLIENT, OTHER_PSYCHOLOGIST]) {
          expect(outcome(session(), user, rule)).toBe(
            rule.participants ? 'NOT_PARTICIPANT' : 'FORBIDDEN',
          );
        }
      },
    );

    it('gets FORBIDDEN, not NOT_PARTICIPANT, on payment (role before membership)', () => {
      expect(outcome(session(), OTHER_CLIENT, ACCESS.payment)).toBe('FORBIDDEN');
    });
  });

  describe('payment', () => {
    it.each(PAYMENT_STATUSES)(
      'with payment %s, a participant may start only if it is confirmed',
      (status) => {
        const confirmed = ['Confirmed', 'Paid', 'Verified'].includes(status);
        for (const user of [CLIENT, PSYCHOLOGIST]) {
          expect(outcome(session(status), user, ACCESS.start)).toBe(
            confirmed ? 'ok' : 'PAYMENT_NOT_CONFIRMED',
          );
        }
      },
    );

    it('is checked after membership: a stranger on an unpaid session gets NOT_PARTICIPANT', () => {
      for (const status of ['Pending', 'Failed', 'Refunded'] as const) {
        expect(outcome(session(status), OTHER_CLIENT, ACCESS.start)).toBe('NOT_PARTICIPANT');
        expect(outcome(session(status), OTHER_PSYCHOLOGIST, ACCESS.start)).toBe('NOT_PARTICIPANT');
      }
    });

    it('is not required to view, end or cancel', () => {
      for (const rule of [ACCESS.view, ACCESS.end, ACCESS.cancel]) {
        expect(outcome(session('Refunded'), CLIENT, rule)).toBe('ok');
      }
    });

    it('applies to an admin when a rule allows admins and requires payment', () => {
      const rule: AccessRule = { admin: 'allow', participants: true, requirePayment: true };
      expect(outcome(session('Pending'), ADMIN, rule)).toBe('PAYMENT_NOT_CONFIRMED');
      expect(outcome(session('Verified'), ADMIN, rule)).toBe('ok');
    });
  });

  it('throws DomainError with a message', () => {
    expect(() => assertAccess(session(), OTHER_CLIENT, ACCESS.view)).toThrow(DomainError);
    expect(() => assertAccess(session(), OTHER_CLIENT, ACCESS.view)).toThrow(/participants/);
  });
});

describe('roomEntryRefusal', () => {
  const START = new Date('2026-03-01T10:00:00Z');
  const OPEN = new Date('2026-03-01T09:45:00Z');
  const room = (over: Partial<RoomSession> = {}): RoomSession => ({
    ...session('Paid'),
    status: 'Confirmed',
    scheduledStart: START,
    ...over,
  });
  const code = (s: RoomSession, user: AuthUser, now = OPEN) =>
    roomEntryRefusal(s, user, now, 15)?.code ?? 'ok';

  it('lets the participants in while the room is open and the session Confirmed or In Progress', () => {
    for (const status of SESSION_STATUSES) {
      const expected = ROOM_OPEN_STATUSES.includes(status) ? 'ok' : 'INVALID_TRANSITION';
      expect(code(room({ status }), CLIENT)).toBe(expected);
      expect(code(room({ status }), PSYCHOLOGIST)).toBe(expected);
    }
  });

  it('answers in the contract order: role, membership, payment, window, status', () => {
    const worst = room({ paymentStatus: 'Pending', status: 'Completed' });
    const early = new Date(OPEN.getTime() - 1);
    expect(code(worst, ADMIN, early)).toBe('FORBIDDEN');
    expect(code(worst, OTHER_CLIENT, early)).toBe('NOT_PARTICIPANT');
    expect(code(worst, CLIENT, early)).toBe('PAYMENT_NOT_CONFIRMED');
    expect(code(room({ status: 'Completed' }), CLIENT, early)).toBe('TOO_EARLY');
    expect(code(room({ status: 'Completed' }), CLIENT)).toBe('INVALID_TRANSITION');
  });

  it('says a finished session has ended', () => {
    expect(roomEntryRefusal(room({ status: 'Completed' }), CLIENT, OPEN, 15)?.message).toMatch(
      /has ended/,
    );
    expect(roomEntryRefusal(room({ status: 'Pending' }), CLIENT, OPEN, 15)?.message).toMatch(
      /Confirmed or In Progress/,
    );
  });
});

describe('bookingParty', () => {
  it('books a client for themselves, with or without naming themselves', () => {
    expect(bookingParty(CLIENT, undefined)).toEqual({
      clientId: CLIENT.id,
      clientToCheck: null,
      refusal: null,
    });
    expect(bookingParty(CLIENT, CLIENT.id).refusal).toBeNull();
  });

  it('refuses a client booking for someone else, and any psychologist, with FORBIDDEN', () => {
    expect(bookingParty(CLIENT, OTHER_CLIENT.id).refusal?.code).toBe('FORBIDDEN');
    expect(bookingParty(PSYCHOLOGIST, undefined).refusal?.code).toBe('FORBIDDEN');
  });

  it('books for the client an admin names, and requires one', () => {
    expect(bookingParty(ADMIN, CLIENT.id)).toEqual({
      clientId: CLIENT.id,
      clientToCheck: CLIENT.id,
      refusal: null,
    });
    expect(() => bookingParty(ADMIN, undefined)).toThrow(/clientId is required/);
  });
});

describe('assertAdmin', () => {
  it('lets only an admin through, with the given message', () => {
    expect(() => assertAdmin(ADMIN)).not.toThrow();
    expect(() => assertAdmin(CLIENT, 'Only an admin can manage webhooks')).toThrow(
      /manage webhooks/,
    );
  });
});
