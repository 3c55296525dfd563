/**
 * The life of a session as data. Pure: no framework import, so the rules can be read and tested
 * on their own. Every status change in the service goes through `transitionFor`.
 */
export const SESSION_STATUSES = [
  'Pending',
  'Confirmed',
  'In Progress',
  'Completed',
  'Cancelled',
  'No Show',
] as const;
export type SessionStatus = (typeof SESSION_STATUSES)[number];

/** Why a status changed: a person acted (actor set) or the system did (no actor). */
export const TRANSITION_CAUSES = [
  'payment',
  'start',
  'end',
  'cancel',
  'auto-start',
  'auto-end',
  'max-duration',
  'no-show',
] as const;
export type TransitionCause = (typeof TRANSITION_CAUSES)[number];

/**
 * What a history row can record: every transition's cause, and a reschedule, which moves the
 * session in time but keeps its status (so it has no row in TRANSITIONS).
 */
export const HISTORY_CAUSES = [...TRANSITION_CAUSES, 'reschedule'] as const;
export type HistoryCause = (typeof HISTORY_CAUSES)[number];

/** The statuses a session can be rescheduled from (and stays in), before its room opens. */
export const RESCHEDULABLE_STATUSES: readonly SessionStatus[] = ['Pending', 'Confirmed'];

export const SYSTEM_CAUSES: readonly TransitionCause[] = [
  'auto-start',
  'auto-end',
  'max-duration',
  'no-show',
];

export interface TransitionRule {
  cause: TransitionCause;
  from: readonly SessionStatus[];
  to: SessionStatus;
}

/** The whole table: which cause may move a session from which statuses, and to where. */
export const TRANSITIONS: Record<TransitionCause, TransitionRule> = {
  payment: { cause: 'payment', from: ['Pending'], to: 'Confirmed' },
  start: { cause: 'start', from: ['Confirmed'], to: 'In Progress' },
  'auto-start': { cause: 'auto-start', from: ['Confirmed'], to: 'In Progress' },
  end: { cause: 'end', from: ['In Progress'], to: 'Completed' },
  'auto-end': { cause: 'auto-end', from: ['In Progress'], to: 'Completed' },
  'max-duration': { cause: 'max-duration', from: ['In Progress'], to: 'Completed' },
  cancel: { cause: 'cancel', from: ['Pending', 'Confirmed'], to: 'Cancelled' },
  'no-show': { cause: 'no-show', from: ['Confirmed'], to: 'No Show' },
};

export function transitionFor(cause: TransitionCause): TransitionRule {
  return TRANSITIONS[cause];
}

/** Whether any cause moves a session directly from `from` to `to`. */
export function canTransition(from: SessionStatus, to: SessionStatus): boolean {
  return Object.values(TRANSITIONS).some((t) => t.to === to && t.from.includes(from));
}

/** The statuses in which a session's room is open to its participants (join-room). */
export const ROOM_OPEN_STATUSES: readonly SessionStatus[] = ['Confirmed', 'In Progress'];

/**
 * The statuses of a live booking: the ones the no-overlap exclusion constraints cover, so the
 * times a free-slot listing must leave out.
 */
export const LIVE_STATUSES: readonly SessionStatus[] = ['Pending', 'Confirmed', 'In Progress'];

export const TERMINAL_STATUSES: readonly SessionStatus[] = ['Completed', 'Cancelled', 'No Show'];

export function isTerminal(status: SessionStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

export const PAYMENT_STATUSES = [
  'Pending',
  'Confirmed',
  'Paid',
  'Verified',
  'Failed',
  'Refunded',
] as const;
export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];

export const CONFIRMED_PAYMENT_STATUSES: readonly PaymentStatus[] = [
  'Confirmed',
  'Paid',
  'Verified',
];

/** A call may start (or be joined) only once the payment provider has confirmed payment. */
export function isPaymentConfirmed(status: PaymentStatus): boolean {
  return CONFIRMED_PAYMENT_STATUSES.includes(status);
}

/** Where a booking starts: awaiting the payment provider's word. */
export const BOOKED: { status: SessionStatus; paymentStatus: PaymentStatus } = {
  status: 'Pending',
  paymentStatus: 'Pending',
};
