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
