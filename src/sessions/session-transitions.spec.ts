import {
  canTransition,
  HISTORY_CAUSES,
  isPaymentConfirmed,
  isTerminal,
  PAYMENT_STATUSES,
  SESSION_STATUSES,
  TRANSITION_CAUSES,
  transitionFor,
  TRANSITIONS,
  type SessionStatus,
} from './session-transitions.js';

/** Every ordered pair of statuses, written out: the table of PRODUCT.md section 1. */
const ALLOWED: ReadonlyArray<[SessionStatus, SessionStatus]> = [
  ['Pending', 'Confirmed'],
  ['Pending', 'Cancelled'],
  ['Confirmed', 'In Progress'],
  ['Confirmed', 'Cancelled'],
  ['Confirmed', 'No Show'],
  ['In Progress', 'Completed'],
];

describe('session transitions', () => {
  const pairs = SESSION_STATUSES.flatMap((from) =>
    SESSION_STATUSES.map((to) => [from, to] as const),
  );

  it.each(pairs)('%s -> %s is allowed only if listed', (from, to) => {
    const listed = ALLOWED.some(([f, t]) => f === from && t === to);
    expect(canTransition(from, to)).toBe(listed);
  });

  it('covers all 36 pairs', () => {
    expect(pairs).toHaveLength(36);
  });

  it.each([
    ['payment', ['Pending'], 'Confirmed'],
    ['start', ['Confirmed'], 'In Progress'],
    ['auto-start', ['Confirmed'], 'In Progress'],
    ['end', ['In Progress'], 'Completed'],
    ['auto-end', ['In Progress'], 'Completed'],
    ['max-duration', ['In Progress'], 'Completed'],
    ['cancel', ['Pending', 'Confirmed'], 'Cancelled'],
    ['no-show', ['Confirmed'], 'No Show'],
  ] as const)('cause %s moves %j to %s', (cause, from, to) => {
    expect(transitionFor(cause)).toEqual({ cause, from, to });
  });

  it('has a rule for every cause', () => {
    for (const cause of TRANSITION_CAUSES) {
      expect(transitionFor(cause).cause).toBe(cause);
    }
  });

  it('knows the terminal statuses and nothing leaves them', () => {
    expect(SESSION_STATUSES.filter(isTerminal)).toEqual(['Completed', 'Cancelled', 'No Show']);
    for (const from of SESSION_STATUSES.filter(isTerminal)) {
      for (const to of SESSION_STATUSES) {
        expect(canTransition(from, to)).toBe(false);
      }
    }
  });

  it('treats Confirmed, Paid and Verified as confirmed payment', () => {
    expect(PAYMENT_STATUSES.filter(isPaymentConfirmed)).toEqual(['Confirmed', 'Paid', 'Verified']);
  });
});

describe('history causes', () => {
  it('are the transitions and a reschedule, which moves no status and has no transition', () => {
    expect(HISTORY_CAUSES).toEqual([...TRANSITION_CAUSES, 'reschedule']);
    expect(Object.keys(TRANSITIONS)).not.toContain('reschedule');
  });
});
