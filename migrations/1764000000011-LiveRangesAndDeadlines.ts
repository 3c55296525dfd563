import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * PostgreSQL updates a row in place (HOT: no new entry in any index) only when no indexed value
 * changes, and the columns of an index's predicate count. Every index of `sessions` that named
 * `status` in its predicate (both no-overlap exclusion constraints, the partial indexes of the
 * reconciler's deadlines) made every status change, so every start and end of a call, a non-HOT
 * update: a new entry in each of the nine indexes of the table (0 of ~50,000 were HOT).
 *
 * What those predicates selected now lives in two narrow tables, written by the statements that
 * change it (never by triggers), so that a call's start and end change no indexed value of
 * `sessions`:
 *
 * - `session_ranges`: a live booking's time (Pending, Confirmed, In Progress), one row from the
 *   booking until the session is over; the exclusion constraints, under their old names, hold
 *   over it without a predicate.
 * - `session_deadlines`: the reconciler's due work, one row per session and cause while the
 *   session is in that cause's status, with the time the deadline counts from (`since`): the
 *   scheduled start for `no-show` (Confirmed), the call's start for `max-duration` and the
 *   room's emptied time for `auto-end` (In Progress).
 *
 * A HOT update also needs room on the row's page: `sessions` keeps 10% of each new page free for
 * the updates of its rows (payment, start, end), which took the share of HOT updates of a start
 * and end from 87% to 93% (bench/hot-updates.ts).
 */
export class LiveRangesAndDeadlines1764000000011 implements MigrationInterface {
  name = 'LiveRangesAndDeadlines1764000000011';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE session_ranges (
        session_id uuid PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
        client_id uuid NOT NULL,
        psychologist_id uuid NOT NULL,
        scheduled_start timestamptz NOT NULL,
        scheduled_end timestamptz NOT NULL
      )`);
    await q.query(`
      CREATE TABLE session_deadlines (
        session_id uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        kind text NOT NULL CHECK (kind IN ('no-show', 'max-duration', 'auto-end')),
        since timestamptz NOT NULL,
        PRIMARY KEY (session_id, kind)
      )`);
    await q.query(`CREATE INDEX session_deadlines_due_idx ON session_deadlines (kind, since)`);
    await q.query(`
      INSERT INTO session_ranges (session_id, client_id, psychologist_id, scheduled_start, scheduled_end)
      SELECT id, client_id, psychologist_id, scheduled_start, scheduled_end FROM sessions
       WHERE status IN ('Pending', 'Confirmed', 'In Progress')`);
    await q.query(`
      INSERT INTO session_deadlines (session_id, kind, since)
      SELECT id, 'no-show', scheduled_start FROM sessions WHERE status = 'Confirmed'
      UNION ALL
      SELECT id, 'max-duration', video_call_started FROM sessions WHERE status = 'In Progress'
      UNION ALL
      SELECT id, 'auto-end', room_emptied_at FROM sessions
       WHERE status = 'In Progress' AND room_emptied_at IS NOT NULL`);
    for (const party of ['client', 'psychologist']) {
      await q.query(`ALTER TABLE sessions DROP CONSTRAINT sessions_${party}_no_overlap`);
      await q.query(`
        ALTER TABLE session_ranges ADD CONSTRAINT sessions_${party}_no_overlap
          EXCLUDE USING gist (${party}_id WITH =, tstzrange(scheduled_start, scheduled_end, '[)') WITH &&)`);
    }
    await q.query(`DROP INDEX sessions_confirmed_by_start_idx`);
    await q.query(`DROP INDEX sessions_running_by_start_idx`);
    await q.query(`DROP INDEX sessions_room_emptied_idx`);
    await q.query(`ALTER TABLE sessions SET (fillfactor = 90)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE sessions RESET (fillfactor)`);
    await q.query(
      `CREATE INDEX sessions_room_emptied_idx ON sessions (room_emptied_at)
        WHERE status = 'In Progress' AND room_emptied_at IS NOT NULL`,
    );
    await q.query(
      `CREATE INDEX sessions_running_by_start_idx ON sessions (video_call_started)
        WHERE status = 'In Progress' AND video_call_started IS NOT NULL`,
    );
    await q.query(
      `CREATE INDEX sessions_confirmed_by_start_idx ON sessions (scheduled_start)
        WHERE status = 'Confirmed' AND scheduled_start IS NOT NULL`,
    );
    await q.query(`DROP TABLE session_deadlines`);
    await q.query(`DROP TABLE session_ranges`);
    for (const party of ['psychologist', 'client']) {
      await q.query(`
        ALTER TABLE sessions ADD CONSTRAINT sessions_${party}_no_overlap
          EXCLUDE USING gist (${party}_id WITH =, tstzrange(scheduled_start, scheduled_end, '[)') WITH &&)
          WHERE (status IN ('Pending', 'Confirmed', 'In Progress') AND ${party}_id IS NOT NULL)`);
    }
  }
}
