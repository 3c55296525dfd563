import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A partial index whose predicate a statement implies is one the planner may read whole, and
 * VACUUM counts a partial index at whatever it held at that moment: a quiet hour (no open stay, no
 * call running) leaves it counted empty while it fills again, and a whole scan of it then looks
 * free.
 *
 * So every partial index of the hot tables now also requires its leading key to be set
 * (`... AND session_id IS NOT NULL`). The columns are never null, so the indexes hold the same
 * rows, but only a statement with a condition on that key (which the index then serves as its
 * Index Cond) implies the predicate. A status check or `left_at IS NULL` alone no longer does.
 * Where a statement is shaped around this, its comment in its feature's `*.sql.ts` says why;
 * `test/e2e/query-plans.e2e-spec.ts` checks the plans with the statistics made stale.
 *
 * Open stays: the unique key leads with the session again and serves lookups by session (the
 * separate index by session is dropped); lookups by socket get an index of their own.
 * `sessions_in_progress_idx` served nothing a statement asked.
 */
export class PartialIndexesByKey1764000000007 implements MigrationInterface {
  name = 'PartialIndexesByKey1764000000007';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE UNIQUE INDEX room_presence_open_stay_key ON room_presence (session_id, socket_id)
        WHERE left_at IS NULL AND session_id IS NOT NULL`,
    );
    await q.query(
      `CREATE INDEX room_presence_open_by_socket_idx ON room_presence (socket_id)
        WHERE left_at IS NULL AND socket_id IS NOT NULL`,
    );
    await q.query(
      `CREATE INDEX room_presence_open_by_instance_idx ON room_presence (instance_id)
        WHERE left_at IS NULL AND instance_id IS NOT NULL`,
    );
    await q.query(`DROP INDEX room_presence_open_socket_session_key`);
    await q.query(`DROP INDEX room_presence_open_session_idx`);
    await q.query(`DROP INDEX room_presence_open_instance_idx`);

    await q.query(
      `CREATE INDEX sessions_confirmed_by_start_idx ON sessions (scheduled_start)
        WHERE status = 'Confirmed' AND scheduled_start IS NOT NULL`,
    );
    await q.query(
      `CREATE INDEX sessions_running_by_start_idx ON sessions (video_call_started)
        WHERE status = 'In Progress' AND video_call_started IS NOT NULL`,
    );
    await q.query(`DROP INDEX sessions_confirmed_start_idx`);
    await q.query(`DROP INDEX sessions_running_started_idx`);
    await q.query(`DROP INDEX sessions_in_progress_idx`);
    await this.noOverlap(
      q,
      `status IN ('Pending', 'Confirmed', 'In Progress') AND %_id IS NOT NULL`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await this.noOverlap(q, `status IN ('Pending', 'Confirmed', 'In Progress')`);
    await q.query(
      `CREATE INDEX sessions_in_progress_idx ON sessions (id) WHERE status = 'In Progress'`,
    );
    await q.query(
      `CREATE INDEX sessions_running_started_idx ON sessions (video_call_started) WHERE status = 'In Progress'`,
    );
    await q.query(
      `CREATE INDEX sessions_confirmed_start_idx ON sessions (scheduled_start) WHERE status = 'Confirmed'`,
    );
    await q.query(`DROP INDEX sessions_running_by_start_idx`);
    await q.query(`DROP INDEX sessions_confirmed_by_start_idx`);

    await q.query(
      `CREATE INDEX room_presence_open_instance_idx ON room_presence (instance_id) WHERE left_at IS NULL`,
    );
    await q.query(
      `CREATE INDEX room_presence_open_session_idx ON room_presence (session_id) WHERE left_at IS NULL`,
    );
    await q.query(
      `CREATE UNIQUE INDEX room_presence_open_socket_session_key ON room_presence (socket_id, session_id) WHERE left_at IS NULL`,
    );
    await q.query(`DROP INDEX room_presence_open_by_instance_idx`);
    await q.query(`DROP INDEX room_presence_open_by_socket_idx`);
    await q.query(`DROP INDEX room_presence_open_stay_key`);
  }

  /** The two no-overlap constraints of live bookings, with `predicate` (`%` = the party). */
  private async noOverlap(q: QueryRunner, predicate: string): Promise<void> {
    for (const party of ['psychologist', 'client']) {
      await q.query(`
        ALTER TABLE sessions DROP CONSTRAINT sessions_${party}_no_overlap,
          ADD CONSTRAINT sessions_${party}_no_overlap
          EXCLUDE USING gist (${party}_id WITH =, tstzrange(scheduled_start, scheduled_end, '[)') WITH &&)
          WHERE (${predicate.replace('%', party)})`);
    }
  }
}
