/**
 * Attendance's statement. Every stay in a room is kept after it ends (left_at set), so who
 * attended is read from room_presence.
 */

/**
 * A session's stays, open and closed, with the database's clock for the open ones (so that an
 * open stay is counted up to the same now on every instance); served by
 * room_presence_session_idx (session_id, joined_at).
 */
export const SESSION_STAYS = {
  name: 'attendance-stays',
  text: `SELECT user_id, joined_at, left_at, now() AS now FROM room_presence WHERE session_id = $1`,
};

export interface StayRow {
  user_id: string;
  joined_at: Date;
  left_at: Date | null;
  now: Date;
}
