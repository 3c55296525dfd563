import {
  fillShape,
  HOURS_A_DAY,
  FIRST_HOUR,
  LIVE_DAYS,
  PAST_DAYS,
  parseFillArgs,
  slotOf,
} from './fill-shape.js';

describe('fillShape', () => {
  it('brings a client per 10 sessions and a psychologist per 200, at least one of each', () => {
    expect(fillShape(1)).toMatchObject({ clients: 1, psychologists: 1, slots: 1 });
    expect(fillShape(2000)).toMatchObject({ clients: 200, psychologists: 10, slots: 200 });
    expect(fillShape(1_000_000)).toMatchObject({ clients: 100_000, psychologists: 5000 });
    expect(() => fillShape(0)).toThrow('positive integer');
  });

  it('cuts the sessions into contiguous batches that cover them all', () => {
    const { batches } = fillShape(120_001, 50_000);
    expect(batches).toEqual([
      [0, 49_999],
      [50_000, 99_999],
      [100_000, 120_000],
    ]);
  });
});

describe('slotOf', () => {
  it.each([1, 7, 199, 200, 201, 2000, 12_345, 100_001])(
    'never puts two sessions of a participant in one slot (%i sessions)',
    (n) => {
      const shape = fillShape(n);
      const taken = new Set<string>();
      const problems: string[] = [];
      for (let k = 0; k < n; k++) {
        const s = slotOf(k, shape);
        const period = s.live ? LIVE_DAYS : PAST_DAYS;
        if (s.hour < FIRST_HOUR || s.hour >= FIRST_HOUR + HOURS_A_DAY) {
          problems.push(`k=${k}: hour ${s.hour}`);
        }
        if (s.day < 0 || s.day >= period) {
          problems.push(`k=${k}: day ${s.day}`);
        }
        const when = `${s.live}:${s.day}:${s.hour}`;
        for (const key of [`p${s.psychologist}@${when}`, `c${s.client}@${when}`]) {
          if (taken.has(key)) {
            problems.push(`k=${k}: ${key} taken`);
          }
          taken.add(key);
        }
      }
      expect(problems.slice(0, 5)).toEqual([]);
    },
  );

  it('makes one session in a hundred live', () => {
    const shape = fillShape(10_000);
    const live = Array.from({ length: 10_000 }, (_, k) => slotOf(k, shape)).filter((s) => s.live);
    expect(live).toHaveLength(100);
  });
});

describe('parseFillArgs', () => {
  it('reads --sessions N and --sessions=N, with separators', () => {
    expect(parseFillArgs(['--sessions', '2000'])).toEqual({ sessions: 2000 });
    expect(parseFillArgs(['--sessions=1_000_000'])).toEqual({ sessions: 1_000_000 });
    expect(parseFillArgs(['--sessions', '1,000'])).toEqual({ sessions: 1000 });
  });

  it('refuses a missing, unknown or bad argument', () => {
    expect(() => parseFillArgs([])).toThrow('--sessions N is required');
    expect(() => parseFillArgs(['--session', '5'])).toThrow('unknown argument --session');
    expect(() => parseFillArgs(['--sessions', 'many'])).toThrow('integer from 1');
    expect(() => parseFillArgs(['--sessions', '0'])).toThrow('integer from 1');
    expect(() => parseFillArgs(['--sessions'])).toThrow('--sessions N is required');
  });
});
