import { DateTime, IANAZone } from 'luxon';

/**
 * A psychologist's working hours as data, and what follows from them: whether a session fits,
 * and which start times are free. Pure (no framework, no database), so the rules can be read and
 * tested on their own. Times are wall-clock in the psychologist's IANA zone and are turned into
 * instants per calendar date by Luxon, so "09:00" stays 09:00 across a daylight-saving change.
 */
export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/** `start` and `end` are "HH:MM" (24-hour); `end` may be "24:00", the end of the day. */
export interface WallInterval {
  start: string;
  end: string;
}

export interface WeeklyInterval extends WallInterval {
  day: Weekday;
}

/** The hours of one calendar date ("YYYY-MM-DD"), instead of that weekday's; none = a day off. */
export interface DateOverride {
  date: string;
  intervals: WallInterval[];
}

export interface WorkingHours {
  timeZone: string;
  weekly: WeeklyInterval[];
  overrides: DateOverride[];
}

/** A stretch of time as epoch milliseconds, `[start, end)`. */
export interface Span {
  start: number;
  end: number;
}

export interface HoursProblem {
  field: string;
  message: string;
}

const HH_MM = /^(?:([01]\d|2[0-3]):([0-5]\d)|(24):(00))$/;

/** Minutes since midnight of "HH:MM" ("24:00" = 1440), or null when it is not such a time. */
export function minutesOf(wall: string): number | null {
  const m = HH_MM.exec(wall);
  if (!m) {
    return null;
  }
  return m[3] ? 1440 : Number(m[1]) * 60 + Number(m[2]);
}

/** The zones this runtime lists, by lower-cased name, for spelling a given name as listed. */
const LISTED_ZONES = new Map(
  [...Intl.supportedValuesOf('timeZone'), 'UTC'].map((zone) => [zone.toLowerCase(), zone]),
);

/**
 * The zone's IANA name as listed ("europe/berlin" -> "Europe/Berlin"), or null if it is none. A
 * valid name the runtime does not list (a newer one such as "Asia/Kolkata", where ICU lists its
 * old "Asia/Calcutta") is kept as given: resolving it would hand back the old name.
 */
export function canonicalTimeZone(name: string): string | null {
  if (!IANAZone.isValidZone(name) || /^[+-]|^UTC[+-]|^GMT[+-]/i.test(name)) {
    return null;
  }
  return LISTED_ZONES.get(name.toLowerCase()) ?? name;
}

/**
 * What is wrong with a working-hours document beyond its shape (which the DTO checks): an unknown
 * zone, an interval that ends before it starts, intervals of one day that overlap, a date given
 * twice or not on the calendar. Empty when it is sound.
 */
export function workingHoursProblems(hours: WorkingHours): HoursProblem[] {
  const problems: HoursProblem[] = [];
  if (canonicalTimeZone(hours.timeZone) === null) {
    problems.push({ field: 'timeZone', message: 'must be an IANA time zone name' });
  }
  const checkDay = (field: string, intervals: readonly WallInterval[]): void => {
    const spans: { field: string; start: number; end: number }[] = [];
    intervals.forEach((interval, i) => {
      const start = minutesOf(interval.start);
      const end = minutesOf(interval.end);
      if (start === null || end === null || start === 1440) {
        problems.push({ field: `${field}[${i}]`, message: 'start and end must be HH:MM times' });
      } else if (end <= start) {
        problems.push({ field: `${field}[${i}]`, message: 'end must be after start' });
      } else {
        spans.push({ field: `${field}[${i}]`, start, end });
      }
    });
    spans.sort((a, b) => a.start - b.start);
    for (let i = 1; i < spans.length; i++) {
      if (spans[i].start < spans[i - 1].end) {
        problems.push({ field: spans[i].field, message: `overlaps ${spans[i - 1].field}` });
      }
    }
  };
  for (const day of WEEKDAYS) {
    const ofDay = hours.weekly.filter((w) => w.day === day);
    checkDay(`weekly(${day})`, ofDay);
  }
  const seen = new Set<string>();
  hours.overrides.forEach((override, i) => {
    if (!DateTime.fromISO(override.date, { zone: 'UTC' }).isValid) {
      problems.push({ field: `overrides[${i}].date`, message: 'must be a calendar date' });
    } else if (seen.has(override.date)) {
      problems.push({ field: `overrides[${i}].date`, message: 'is given twice' });
    }
    seen.add(override.date);
    checkDay(`overrides[${i}].intervals`, override.intervals);
  });
  return problems;
}

/** The instant of a wall-clock time on a local date (a time skipped by DST moves forward). */
function instantOf(date: DateTime, minutes: number): number {
  return date
    .plus({ days: Math.floor(minutes / 1440) })
    .set({
      hour: Math.floor((minutes % 1440) / 60),
      minute: minutes % 60,
    })
    .toMillis();
}

/**
 * The working spans that overlap `[from, to)`, as instants, sorted, merged where they touch (so
 * "09:00-12:00" and "12:00-17:00", or a day ending "24:00" and the next starting "00:00", are one
 * span a session may cross).
 */
export function workingSpans(hours: WorkingHours, from: number, to: number): Span[] {
  const zone = hours.timeZone;
  const overrides = new Map(hours.overrides.map((o) => [o.date, o.intervals]));
  const spans: Span[] = [];
  // A day either side: a local date's hours can reach into the neighbouring UTC days.
  let date = DateTime.fromMillis(from, { zone }).startOf('day').minus({ days: 1 });
  const last = DateTime.fromMillis(to, { zone }).startOf('day').plus({ days: 1 });
  while (date <= last) {
    const iso = date.toISODate() as string;
    const intervals =
      overrides.get(iso) ?? hours.weekly.filter((w) => w.day === WEEKDAYS[date.weekday - 1]);
    for (const interval of intervals) {
      const start = instantOf(date, minutesOf(interval.start) ?? 0);
      const end = instantOf(date, minutesOf(interval.end) ?? 0);
      if (end > start && end > from && start < to) {
        spans.push({ start, end });
      }
    }
    date = date.plus({ days: 1 });
  }
  spans.sort((a, b) => a.start - b.start);
  const merged: Span[] = [];
  for (const span of spans) {
    const previous = merged[merged.length - 1];
    if (previous && span.start <= previous.end) {
      previous.end = Math.max(previous.end, span.end);
    } else {
      merged.push({ ...span });
    }
  }
  return merged;
}

/** Whether `[start, end)` lies inside one working span; no working hours = any time. */
export function fitsWorkingHours(hours: WorkingHours | null, start: number, end: number): boolean {
  if (!hours) {
    return true;
  }
  return workingSpans(hours, start, end).some((s) => s.start <= start && end <= s.end);
}

export interface SlotQuery {
  /** null: no working hours set, so any time is working time. */
  hours: WorkingHours | null;
  /** Slots start in `[from, to)`. */
  from: number;
  to: number;
  durationMinutes: number;
  stepMinutes: number;
  /** No slot starts before this (now plus the minimum notice). */
  notBefore: number;
  /** The psychologist's live bookings around the range, in any order. */
  busy: readonly Span[];
}

/**
 * The free start times: on a grid of `stepMinutes` from the start of each working span (from
 * the epoch when there are no working hours), where a session of `durationMinutes` fits inside
 * the span and overlaps no busy span. Linear in slots plus bookings.
 */
export function freeSlots(q: SlotQuery): number[] {
  const length = q.durationMinutes * 60_000;
  const step = q.stepMinutes * 60_000;
  const earliest = Math.max(q.from, q.notBefore);
  const windows = q.hours
    ? workingSpans(q.hours, earliest, q.to + length)
    : [{ start: Math.floor(earliest / step) * step, end: q.to + length }];
  const busy = [...q.busy].sort((a, b) => a.start - b.start);
  const slots: number[] = [];
  let b = 0;
  for (const window of windows) {
    const skip = Math.max(0, Math.ceil((earliest - window.start) / step));
    for (let start = window.start + skip * step; start < q.to; start += step) {
      const end = start + length;
      if (end > window.end) {
        break;
      }
      while (b < busy.length && busy[b].end <= start) {
        b++;
      }
      // Busy spans are sorted by start; one that ends before this slot ends no later slot.
      let free = true;
      for (let k = b; k < busy.length && busy[k].start < end; k++) {
        if (busy[k].end > start) {
          free = false;
          break;
        }
      }
      if (free) {
        slots.push(start);
      }
    }
  }
  return slots;
}
