import { DomainError } from '../common/errors/domain-error.js';
import {
  assertRoomOpen,
  CALL_DEADLINES,
  deadlineAt,
  isRoomOpen,
  roomOpensAt,
  roomsOpenStartingBy,
  summarizeAttendance,
} from './session-policies.js';
import { SYSTEM_CAUSES, TRANSITIONS } from './session-transitions.js';

const T = new Date('2026-03-01T10:00:00.000Z');
const at = (seconds: number) => new Date(T.getTime() + seconds * 1000);

describe('session policies', () => {
  it('opens the room JOIN_EARLY_MINUTES before the start, inclusive', () => {
    expect(roomOpensAt(T, 15).toISOString()).toBe('2026-03-01T09:45:00.000Z');
    expect(isRoomOpen(T, 15, at(-15 * 60))).toBe(true);
    expect(isRoomOpen(T, 15, at(-15 * 60 - 1))).toBe(false);
    expect(isRoomOpen(T, 0, at(-1))).toBe(false);
    expect(isRoomOpen(T, 0, T)).toBe(true);
  });

  it('bounds the start of the sessions whose room is open, as isRoomOpen decides', () => {
    const now = at(-15 * 60);
    expect(roomsOpenStartingBy(now, 15).toISOString()).toBe(T.toISOString());
    expect(isRoomOpen(T, 15, now)).toBe(true);
    expect(isRoomOpen(at(1), 15, now)).toBe(false);
  });

  it('refuses too early with TOO_EARLY and the opening moment', () => {
    expect(() => assertRoomOpen(T, 15, at(-15 * 60))).not.toThrow();
    let thrown: unknown;
    try {
      assertRoomOpen(T, 15, at(-16 * 60));
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(DomainError);
    expect((thrown as DomainError).code).toBe('TOO_EARLY');
    expect((thrown as DomainError).extra).toEqual({ opensAt: '2026-03-01T09:45:00.000Z' });
  });

  it('computes the no-show and cap deadlines', () => {
    expect(deadlineAt(T, 15).toISOString()).toBe('2026-03-01T10:15:00.000Z');
    expect(deadlineAt(T, 240).toISOString()).toBe('2026-03-01T14:00:00.000Z');
  });

  it("lists the deadlines: the cap counts from the call's start, no-show from the scheduled start", () => {
    expect(CALL_DEADLINES.map((d) => [d.cause, d.anchor, d.minutes])).toEqual([
      ['max-duration', 'video_call_started', 'maxCallMinutes'],
      ['no-show', 'scheduled_start', 'noShowAfterMinutes'],
    ]);
  });

  it("moves each deadline's sessions from one status, by a system cause", () => {
    for (const { cause } of CALL_DEADLINES) {
      expect(SYSTEM_CAUSES).toContain(cause);
      expect(TRANSITIONS[cause].from).toHaveLength(1);
    }
    expect(TRANSITIONS['no-show']).toMatchObject({ from: ['Confirmed'], to: 'No Show' });
    expect(TRANSITIONS['max-duration']).toMatchObject({ from: ['In Progress'], to: 'Completed' });
  });

  describe('attendance', () => {
    it('is empty for someone who never came', () => {
      expect(summarizeAttendance([], T)).toEqual({
        firstJoinedAt: null,
        lastLeftAt: null,
        secondsPresent: 0,
        stays: 0,
      });
    });

    it('counts overlapping devices once and a rejoin as a new stay', () => {
      const summary = summarizeAttendance(
        [
          { joinedAt: at(300), leftAt: at(400) },
          { joinedAt: at(0), leftAt: at(60) },
          { joinedAt: at(30), leftAt: at(120) },
        ],
        at(1000),
      );
      expect(summary).toEqual({
        firstJoinedAt: at(0),
        lastLeftAt: at(400),
        secondsPresent: 220,
        stays: 2,
      });
    });

    it('treats back-to-back sockets as one stay and a contained one as nothing extra', () => {
      const summary = summarizeAttendance(
        [
          { joinedAt: at(0), leftAt: at(100) },
          { joinedAt: at(100), leftAt: at(150) },
          { joinedAt: at(10), leftAt: at(20) },
        ],
        at(1000),
      );
      expect(summary).toMatchObject({ secondsPresent: 150, stays: 1, lastLeftAt: at(150) });
    });

    it('counts a stay still open up to now and has no last leave while present', () => {
      const summary = summarizeAttendance(
        [
          { joinedAt: at(0), leftAt: at(50) },
          { joinedAt: at(100), leftAt: null },
        ],
        at(160),
      );
      expect(summary).toEqual({
        firstJoinedAt: at(0),
        lastLeftAt: null,
        secondsPresent: 110,
        stays: 2,
      });
    });
  });
});
