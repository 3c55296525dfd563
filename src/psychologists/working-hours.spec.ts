import {
  canonicalTimeZone,
  fitsWorkingHours,
  freeSlots,
  workingHoursProblems,
  workingSpans,
  type WorkingHours,
} from './working-hours.js';

const at = (iso: string): number => Date.parse(iso);
const iso = (ms: number): string => new Date(ms).toISOString();
const sundays = (timeZone: string, start: string, end: string): WorkingHours => ({
  timeZone,
  weekly: [{ day: 'sun', start, end }],
  overrides: [],
});
const slotsOf = (hours: WorkingHours | null, from: string, to: string, busy = []) =>
  freeSlots({
    hours,
    from: at(from),
    to: at(to),
    durationMinutes: 60,
    stepMinutes: 15,
    notBefore: 0,
    busy,
  }).map(iso);

describe('working hours', () => {
  describe('daylight saving in Europe/Berlin', () => {
    it('keeps wall-clock hours on the spring change (2027-03-28): 09:00 is 07:00Z, a week before 08:00Z', () => {
      const hours = sundays('Europe/Berlin', '09:00', '17:00');
      expect(workingSpans(hours, at('2027-03-21T00:00Z'), at('2027-03-29T00:00Z'))).toEqual([
        { start: at('2027-03-21T08:00Z'), end: at('2027-03-21T16:00Z') },
        { start: at('2027-03-28T07:00Z'), end: at('2027-03-28T15:00Z') },
      ]);
    });

    it('has a working night of 5 hours across the spring change and 7 across the autumn one', () => {
      const hours = sundays('Europe/Berlin', '00:00', '06:00');
      const spring = workingSpans(hours, at('2027-03-27T12:00Z'), at('2027-03-28T12:00Z'));
      expect(spring).toEqual([{ start: at('2027-03-27T23:00Z'), end: at('2027-03-28T04:00Z') }]);
      const autumn = workingSpans(hours, at('2027-10-30T12:00Z'), at('2027-10-31T12:00Z'));
      expect(autumn).toEqual([{ start: at('2027-10-30T22:00Z'), end: at('2027-10-31T05:00Z') }]);
      // 60-minute sessions every 15 minutes: (5 h - 1 h) / 15 min + 1 and (7 h - 1 h) / 15 min + 1.
      expect(slotsOf(hours, '2027-03-27T12:00Z', '2027-03-28T12:00Z')).toHaveLength(17);
      const autumnSlots = slotsOf(hours, '2027-10-30T12:00Z', '2027-10-31T12:00Z');
      expect(autumnSlots).toHaveLength(25);
      expect(autumnSlots[0]).toBe('2027-10-30T22:00:00.000Z');
      expect(autumnSlots.at(-1)).toBe('2027-10-31T04:00:00.000Z');
    });

    it('moves the UTC time of a working day on the autumn change (2027-10-31)', () => {
      const hours = sundays('Europe/Berlin', '09:00', '17:00');
      expect(workingSpans(hours, at('2027-10-24T00:00Z'), at('2027-11-01T00:00Z'))).toEqual([
        { start: at('2027-10-24T07:00Z'), end: at('2027-10-24T15:00Z') },
        { start: at('2027-10-31T08:00Z'), end: at('2027-10-31T16:00Z') },
      ]);
    });
  });

  it('keeps the same UTC hours all year in a zone without daylight saving (Asia/Tokyo)', () => {
    const hours = sundays('Asia/Tokyo', '09:00', '17:00');
    const spans = workingSpans(hours, at('2027-03-20T00:00Z'), at('2027-11-01T00:00Z'));
    expect(spans).toHaveLength(33); // the Sundays from 2027-03-21 to 2027-10-31
    for (const span of spans) {
      expect(iso(span.start).slice(11)).toBe('00:00:00.000Z');
      expect(span.end - span.start).toBe(8 * 3_600_000);
    }
  });

  it('lets a date override replace the weekday, and an empty override make it a day off', () => {
    const hours: WorkingHours = {
      timeZone: 'UTC',
      weekly: [{ day: 'mon', start: '09:00', end: '17:00' }],
      overrides: [
        { date: '2027-01-04', intervals: [] },
        { date: '2027-01-11', intervals: [{ start: '13:00', end: '14:00' }] },
        { date: '2027-01-16', intervals: [{ start: '10:00', end: '11:00' }] },
      ],
    };
    expect(workingSpans(hours, at('2027-01-04T00:00Z'), at('2027-01-19T00:00Z'))).toEqual([
      { start: at('2027-01-11T13:00Z'), end: at('2027-01-11T14:00Z') },
      { start: at('2027-01-16T10:00Z'), end: at('2027-01-16T11:00Z') },
      { start: at('2027-01-18T09:00Z'), end: at('2027-01-18T17:00Z') },
    ]);
  });

  it('joins touching intervals, also across midnight, so a session may cross the seam', () => {
    const hours: WorkingHours = {
      timeZone: 'UTC',
      weekly: [
        { day: 'mon', start: '09:00', end: '12:00' },
        { day: 'mon', start: '12:00', end: '24:00' },
        { day: 'tue', start: '00:00', end: '02:00' },
      ],
      overrides: [],
    };
    expect(fitsWorkingHours(hours, at('2027-01-04T11:30Z'), at('2027-01-04T12:30Z'))).toBe(true);
    expect(fitsWorkingHours(hours, at('2027-01-04T23:30Z'), at('2027-01-05T00:30Z'))).toBe(true);
    expect(fitsWorkingHours(hours, at('2027-01-05T01:30Z'), at('2027-01-05T02:30Z'))).toBe(false);
    expect(fitsWorkingHours(hours, at('2027-01-04T08:59Z'), at('2027-01-04T09:30Z'))).toBe(false);
  });

  it('treats no working hours as always working', () => {
    expect(fitsWorkingHours(null, at('2027-01-01T03:07Z'), at('2027-01-01T04:07Z'))).toBe(true);
    const slots = slotsOf(null, '2027-01-01T00:05Z', '2027-01-01T01:00Z');
    expect(slots).toEqual([
      '2027-01-01T00:15:00.000Z',
      '2027-01-01T00:30:00.000Z',
      '2027-01-01T00:45:00.000Z',
    ]);
  });

  it('offers no slot overlapping a busy span, nor before the notice, and slots only start before `to`', () => {
    const hours: WorkingHours = {
      timeZone: 'UTC',
      weekly: [{ day: 'mon', start: '09:00', end: '13:00' }],
      overrides: [],
    };
    const busy = [{ start: at('2027-01-04T10:30Z'), end: at('2027-01-04T11:20Z') }];
    const slots = freeSlots({
      hours,
      from: at('2027-01-04T00:00Z'),
      to: at('2027-01-04T11:45Z'),
      durationMinutes: 30,
      stepMinutes: 15,
      notBefore: at('2027-01-04T09:10Z'),
      busy,
    }).map((ms) => iso(ms).slice(11, 16));
    expect(slots).toEqual(['09:15', '09:30', '09:45', '10:00', '11:30']);
  });

  describe('validation', () => {
    const valid: WorkingHours = {
      timeZone: 'Europe/Berlin',
      weekly: [
        { day: 'mon', start: '09:00', end: '12:00' },
        { day: 'mon', start: '13:00', end: '24:00' },
      ],
      overrides: [{ date: '2027-02-28', intervals: [] }],
    };

    it('accepts a sound document', () => {
      expect(workingHoursProblems(valid)).toEqual([]);
    });

    it.each([
      ['an unknown zone', { timeZone: 'Mars/Olympus' }, 'timeZone'],
      ['an offset instead of a zone', { timeZone: '+02:00' }, 'timeZone'],
      [
        'end before start',
        { weekly: [{ day: 'tue', start: '10:00', end: '09:00' }] },
        'weekly(tue)[0]',
      ],
      [
        'an empty interval',
        { weekly: [{ day: 'tue', start: '10:00', end: '10:00' }] },
        'weekly(tue)[0]',
      ],
      [
        'a time that is not HH:MM',
        { weekly: [{ day: 'tue', start: '9:00', end: '10:00' }] },
        'weekly(tue)[0]',
      ],
      [
        'starting at 24:00',
        { weekly: [{ day: 'tue', start: '24:00', end: '24:00' }] },
        'weekly(tue)[0]',
      ],
      [
        'overlapping intervals',
        {
          weekly: [
            { day: 'wed', start: '09:00', end: '12:00' },
            { day: 'wed', start: '11:00', end: '13:00' },
          ],
        },
        'weekly(wed)[1]',
      ],
      [
        'a date not on the calendar',
        { overrides: [{ date: '2027-02-29', intervals: [] }] },
        'overrides[0].date',
      ],
      [
        'a date given twice',
        {
          overrides: [
            { date: '2027-03-01', intervals: [] },
            { date: '2027-03-01', intervals: [] },
          ],
        },
        'overrides[1].date',
      ],
    ] as const)('refuses %s', (_, change, field) => {
      const problems = workingHoursProblems({ ...valid, ...change } as WorkingHours);
      expect(problems.map((p) => p.field)).toContain(field);
    });

    it('canonicalises zone names', () => {
      expect(canonicalTimeZone('europe/berlin')).toBe('Europe/Berlin');
      expect(canonicalTimeZone('UTC')).toBe('UTC');
      expect(canonicalTimeZone('Asia/Kolkata')).toBe('Asia/Kolkata');
      expect(canonicalTimeZone('Europe/Kyiv')).toBe('Europe/Kyiv');
      expect(canonicalTimeZone('Not/AZone')).toBeNull();
    });
  });
});
