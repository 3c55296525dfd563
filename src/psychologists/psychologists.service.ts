import { Inject, Injectable } from '@nestjs/common';
import type { AuthUser } from '../auth/auth-user.js';
import { DomainError, type FieldProblem } from '../common/errors/domain-error.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { pageOffset } from '../common/http/paging.js';
import { Sql } from '../database/sql.js';
import type {
  PsychologistListQuery,
  SetAvailabilityDto,
  SlotsQuery,
  UpdateProfileDto,
} from './dto/psychologist.inputs.js';
import {
  AvailabilityView,
  PsychologistPage,
  PsychologistView,
  SlotsView,
} from './dto/psychologist.views.js';
import {
  LIVE_BOOKINGS_BETWEEN,
  listPsychologists,
  ROLE_AND_HOURS,
  SET_AVAILABILITY,
  UPDATE_PROFILE,
  workingHoursOf,
  type ProfileRow,
  type RoleAndHoursRow,
} from './psychologists.sql.js';
import {
  canonicalTimeZone,
  freeSlots,
  workingHoursProblems,
  type DateOverride,
  type HoursProblem,
  type WeeklyInterval,
} from './working-hours.js';

const MAX_RANGE_DAYS = 31;
const DAY_MS = 86_400_000;

function invalid(field: string, message: string): DomainError {
  return new DomainError('VALIDATION_FAILED', `${field} ${message}`, [
    { field, messages: [message] },
  ]);
}

/**
 * The problems of a working-hours document as field details, named by the request's own paths:
 * `workingHoursProblems` checks day by day, so `weekly(mon)[1]` (the second Monday interval) is
 * reported, in the field and in messages, as that interval's index in `weekly`.
 */
export function hoursDetails(
  problems: readonly HoursProblem[],
  weekly: readonly WeeklyInterval[],
): FieldProblem[] {
  const inRequest = (text: string) =>
    text.replace(/weekly\((\w+)\)\[(\d+)\]/g, (_, day: string, i: string) => {
      const indexes = weekly.flatMap((w, k) => (w.day === day ? [k] : []));
      return `weekly[${indexes[Number(i)]}]`;
    });
  const byField = new Map<string, string[]>();
  for (const { field, message } of problems) {
    const name = inRequest(field);
    byField.set(name, [...(byField.get(name) ?? []), inRequest(message)]);
  }
  return [...byField].map(([field, messages]) => ({ field, messages }));
}

/**
 * Working hours as plain objects with their fields in the documented order (jsonb keeps its own
 * key order, and DTO instances carry their class).
 */
function plainHours(
  weekly: readonly WeeklyInterval[],
  overrides: readonly DateOverride[],
): { weekly: WeeklyInterval[]; overrides: DateOverride[] } {
  return {
    weekly: weekly.map(({ day, start, end }) => ({ day, start, end })),
    overrides: overrides.map(({ date, intervals }) => ({
      date,
      intervals: intervals.map(({ start, end }) => ({ start, end })),
    })),
  };
}

/**
 * The directory, a psychologist's profile and working hours, and free slots. Who may call each
 * is declared on the routes (`@RoleOnly`); this takes the caller as given.
 */
@Injectable()
export class PsychologistsService {
  constructor(
    private readonly sql: Sql,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async list(query: PsychologistListQuery): Promise<PsychologistPage> {
    const { page, count } = listPsychologists(query.search, {
      limit: query.limit,
      offset: pageOffset(query),
    });
    const [rows, [{ total }]] = await Promise.all([
      this.sql.rows<ProfileRow>(page.name, page.text, page.values),
      this.sql.rows<{ total: number }>(count.name, count.text, count.values),
    ]);
    return {
      items: rows.map((row) => PsychologistView.of(row)),
      total,
      page: query.page,
      limit: query.limit,
    };
  }

  async updateProfile(dto: UpdateProfileDto, user: AuthUser): Promise<PsychologistView> {
    let timeZone: string | null = null;
    if (dto.timeZone !== undefined) {
      timeZone = canonicalTimeZone(dto.timeZone);
      if (timeZone === null) {
        throw invalid('timeZone', 'must be an IANA time zone name');
      }
    }
    const [row] = await this.sql.rows<ProfileRow>(UPDATE_PROFILE.name, UPDATE_PROFILE.text, [
      user.id,
      dto.name ?? null,
      dto.bio !== undefined,
      dto.bio ?? null,
      timeZone,
    ]);
    if (!row) {
      throw new DomainError('NOT_FOUND', 'No such psychologist');
    }
    return PsychologistView.of(row);
  }

  async setAvailability(dto: SetAvailabilityDto, user: AuthUser): Promise<AvailabilityView> {
    const { weekly, overrides } = plainHours(dto.weekly, dto.overrides);
    const problems = workingHoursProblems({ timeZone: dto.timeZone, weekly, overrides });
    if (problems.length > 0) {
      const details = hoursDetails(problems, weekly);
      throw new DomainError(
        'VALIDATION_FAILED',
        details.map((d) => `${d.field} ${d.messages.join(', ')}`).join('; '),
        details,
      );
    }
    const timeZone = canonicalTimeZone(dto.timeZone) as string;
    const [row] = await this.sql.rows(SET_AVAILABILITY.name, SET_AVAILABILITY.text, [
      user.id,
      timeZone,
      JSON.stringify(weekly),
      JSON.stringify(overrides),
    ]);
    if (!row) {
      throw new DomainError('NOT_FOUND', 'No such psychologist');
    }
    return { psychologistId: user.id, timeZone, weekly, overrides, configured: true };
  }

  async availability(id: string): Promise<AvailabilityView> {
    const row = await this.psychologist(id);
    return {
      psychologistId: id,
      timeZone: row.time_zone,
      ...plainHours(row.weekly ?? [], row.overrides ?? []),
      configured: row.weekly !== null,
    };
  }

  /**
   * Free start times in `[from, to)`: two reads whatever the range (the psychologist with their
   * hours, and their live bookings around the range), then pure computation.
   */
  async slots(id: string, query: SlotsQuery): Promise<SlotsView> {
    const from = Date.parse(query.from);
    const to = Date.parse(query.to);
    if (!(to > from)) {
      throw invalid('to', 'must be after from');
    }
    if (to - from > MAX_RANGE_DAYS * DAY_MS) {
      throw invalid('to', `must be at most ${MAX_RANGE_DAYS} days after from`);
    }
    const length = query.durationMinutes * 60_000;
    const [row, busy] = await Promise.all([
      this.psychologist(id),
      this.sql.rows<{ scheduled_start: Date; scheduled_end: Date }>(
        LIVE_BOOKINGS_BETWEEN.name,
        LIVE_BOOKINGS_BETWEEN.text,
        [id, new Date(from), new Date(to + length)],
      ),
    ]);
    const stepMinutes = this.config.slotStepMinutes;
    const slots = freeSlots({
      hours: workingHoursOf(row),
      from,
      to,
      durationMinutes: query.durationMinutes,
      stepMinutes,
      notBefore: Date.now() + this.config.bookingMinNoticeMinutes * 60_000,
      busy: busy.map((b) => ({
        start: b.scheduled_start.getTime(),
        end: b.scheduled_end.getTime(),
      })),
    });
    return {
      psychologistId: id,
      timeZone: row.time_zone,
      durationMinutes: query.durationMinutes,
      stepMinutes,
      slots: slots.map((ms) => new Date(ms).toISOString()),
    };
  }

  /** The psychologist with their hours; 404 when the id names no psychologist. */
  private async psychologist(id: string): Promise<RoleAndHoursRow> {
    const [row] = await this.sql.rows<RoleAndHoursRow>(ROLE_AND_HOURS.name, ROLE_AND_HOURS.text, [
      id,
    ]);
    if (row?.role !== 'psychologist') {
      throw new DomainError('NOT_FOUND', `Psychologist ${id} does not exist`);
    }
    return row;
  }
}
