import type { UserRole } from '../auth/user.entity.js';
import type { DateOverride, WeeklyInterval, WorkingHours } from './working-hours.js';

/**
 * The psychologists feature's statements: the directory, profiles, working hours and the
 * bookings a slot listing needs.
 */

/** A user's role with, for a psychologist, their working hours (null when they set none). */
export interface RoleAndHoursRow {
  role: UserRole;
  time_zone: string;
  weekly: WeeklyInterval[] | null;
  overrides: DateOverride[] | null;
}

/**
 * A user's role and working hours in one read: what a booking or a reschedule checks about its
 * psychologist. No lock: hours edited while a booking lands apply to the next one.
 */
export const ROLE_AND_HOURS = {
  name: 'user-role-and-hours',
  text: `SELECT u.role, u.time_zone, a.weekly, a.overrides
  FROM users u
  LEFT JOIN psychologist_availability a ON a.psychologist_id = u.id
 WHERE u.id = $1`,
};

/** The working hours of a row, or null: none set means bookable at any time. */
export function workingHoursOf(row: RoleAndHoursRow): WorkingHours | null {
  return row.weekly
    ? { timeZone: row.time_zone, weekly: row.weekly, overrides: row.overrides ?? [] }
    : null;
}

/** A psychologist as the directory and their profile show them. */
export interface ProfileRow {
  id: string;
  name: string;
  bio: string | null;
  time_zone: string;
}

interface Statement {
  name: string;
  text: string;
  values: unknown[];
}

/** `text` as a LIKE pattern matching it anywhere, its own `%`, `_` and `\` taken literally. */
export function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, '\\$&')}%`;
}

/**
 * A page of the directory, by name then id, and its total; one text with a search and one
 * without, so each prepared statement keeps a plan of its own (the partial index on (name, id)
 * serves the unfiltered one in order).
 */
export function listPsychologists(
  search: string | undefined,
  page: { limit: number; offset: number },
): { page: Statement; count: Statement } {
  const where = `WHERE role = 'psychologist'${search === undefined ? '' : ` AND name ILIKE $1 ESCAPE '\\'`}`;
  const filter = search === undefined ? [] : [containsPattern(search)];
  const next = filter.length + 1;
  const name = `psychologists-list:${search === undefined ? 'all' : 'search'}`;
  return {
    page: {
      name,
      text: `SELECT id, name, bio, time_zone FROM users ${where}
 ORDER BY name, id LIMIT $${next}::int OFFSET $${next + 1}::int`,
      values: [...filter, page.limit, page.offset],
    },
    count: {
      name: `${name}:count`,
      text: `SELECT count(*)::int AS total FROM users ${where}`,
      values: filter,
    },
  };
}

/**
 * A psychologist's own profile edit: each field only when given (`$3`: whether bio was, since
 * null clears it). No row back: the user is not a psychologist.
 */
export const UPDATE_PROFILE = {
  name: 'psychologist-update-profile',
  text: `UPDATE users
   SET name = COALESCE($2::text, name),
       bio = CASE WHEN $3::boolean THEN $4::text ELSE bio END,
       time_zone = COALESCE($5::text, time_zone)
 WHERE id = $1::uuid AND role = 'psychologist'
 RETURNING id, name, bio, time_zone`,
};

/**
 * Replaces a psychologist's working hours and sets the zone they are written in: one statement,
 * so both land or neither. No row back: the user is not a psychologist.
 */
export const SET_AVAILABILITY = {
  name: 'psychologist-set-availability',
  text: `WITH zone AS (
  UPDATE users SET time_zone = $2::text WHERE id = $1::uuid AND role = 'psychologist' RETURNING id
)
INSERT INTO psychologist_availability (psychologist_id, weekly, overrides, updated_at)
SELECT id, $3::jsonb, $4::jsonb, now() FROM zone
ON CONFLICT (psychologist_id) DO UPDATE
   SET weekly = EXCLUDED.weekly, overrides = EXCLUDED.overrides, updated_at = EXCLUDED.updated_at
RETURNING psychologist_id`,
};

/**
 * A psychologist's live bookings overlapping `[$2, $3)`, in one read whatever the range: the live
 * ranges (a row exists exactly while its session is live), through the GiST index of their
 * exclusion constraint. Its pages hold live bookings only, so the read costs the same after a
 * year of history as on day one (on `sessions` the week's bookings sat one per page among the
 * past ones).
 */
export const LIVE_BOOKINGS_BETWEEN = {
  name: 'psychologist-live-bookings',
  text: `SELECT scheduled_start, scheduled_end FROM session_ranges
 WHERE psychologist_id = $1::uuid
   AND tstzrange(scheduled_start, scheduled_end, '[)') && tstzrange($2::timestamptz, $3::timestamptz, '[)')`,
};
