import type { DataSource } from 'typeorm';
import { trackingInserts } from '../../src/sessions/session-tracking.sql.js';

/**
 * Rewrites the live ranges and deadline rows of sessions (session-tracking.sql.ts) from their rows
 * of `sessions`: for a test that moved a session in time or status by SQL of its own (the app's
 * statements keep both tables themselves).
 */
export async function retrack(db: DataSource, ...ids: string[]): Promise<void> {
  await db.transaction(async (m) => {
    await m.query(`DELETE FROM session_ranges WHERE session_id = ANY($1::uuid[])`, [ids]);
    await m.query(`DELETE FROM session_deadlines WHERE session_id = ANY($1::uuid[])`, [ids]);
    for (const text of trackingInserts('id = ANY($1::uuid[])')) {
      await m.query(text, [ids]);
    }
  });
}
