import { DomainError } from '../common/errors/domain-error.js';
import type { WorkingHours } from '../psychologists/working-hours.js';
import { assertInsideWorkingHours, assertReschedulable, isBookableStart } from './booking-rules.js';
import { SESSION_STATUSES } from './session-transitions.js';

const MINUTE = 60_000;
const NOW = Date.parse('2027-01-04T12:00:00Z');

const codeOf = (fn: () => void): string => {
  try {
    fn();
    return 'ok';
  } catch (error) {
    return error instanceof DomainError ? error.code : 'other';
  }
};

describe('isBookableStart', () => {
  it('is true from 5 minutes ago to a calendar year ahead, inclusive', () => {
    expect(isBookableStart(NOW - 5 * MINUTE, NOW)).toBe(true);
    expect(isBookableStart(NOW - 5 * MINUTE - 1, NOW)).toBe(false);
    expect(isBookableStart(Date.parse('2028-01-04T12:00:00Z'), NOW)).toBe(true);
    expect(isBookableStart(Date.parse('2028-01-04T12:00:00Z') + 1, NOW)).toBe(false);
  });
});

describe('assertInsideWorkingHours', () => {
  const hours: WorkingHours = {
    timeZone: 'UTC',
    weekly: [{ day: 'mon', start: '09:00', end: '17:00' }],
    overrides: [],
  };
  const at = (iso: string) => new Date(iso);

  it('passes a session inside the hours and refuses one outside with OUTSIDE_WORKING_HOURS', () => {
    const run = (start: string, end: string, byAdmin = false) =>
      codeOf(() => assertInsideWorkingHours(hours, at(start), at(end), byAdmin));
    expect(run('2027-01-04T09:00:00Z', '2027-01-04T17:00:00Z')).toBe('ok');
    expect(run('2027-01-04T16:30:00Z', '2027-01-04T17:20:00Z')).toBe('OUTSIDE_WORKING_HOURS');
    expect(run('2027-01-05T10:00:00Z', '2027-01-05T10:50:00Z')).toBe('OUTSIDE_WORKING_HOURS');
  });

  it('lets an admin place a session outside them, and anything fits when none are set', () => {
    const start = at('2027-01-05T22:00:00Z');
    const end = at('2027-01-05T22:50:00Z');
    expect(codeOf(() => assertInsideWorkingHours(hours, start, end, true))).toBe('ok');
    expect(codeOf(() => assertInsideWorkingHours(null, start, end, false))).toBe('ok');
  });
});

describe('assertReschedulable', () => {
  const JOIN_EARLY = 15;
  const now = new Date(NOW);

  it.each(SESSION_STATUSES.map((s) => [s]))('from %s, long before the room opens', (status) => {
    const session = {
      status: status,
      scheduledStart: new Date(NOW + 60 * MINUTE),
    };
    expect(codeOf(() => assertReschedulable(session, now, JOIN_EARLY))).toBe(
      status === 'Pending' || status === 'Confirmed' ? 'ok' : 'INVALID_TRANSITION',
    );
  });

  it('only before the room opens (JOIN_EARLY_MINUTES ahead of the start)', () => {
    const startingIn = (minutes: number) => ({
      status: 'Confirmed' as const,
      scheduledStart: new Date(NOW + minutes * MINUTE),
    });
    expect(codeOf(() => assertReschedulable(startingIn(16), now, JOIN_EARLY))).toBe('ok');
    expect(codeOf(() => assertReschedulable(startingIn(15), now, JOIN_EARLY))).toBe(
      'INVALID_TRANSITION',
    );
    expect(codeOf(() => assertReschedulable(startingIn(-5), now, JOIN_EARLY))).toBe(
      'INVALID_TRANSITION',
    );
  });
});
