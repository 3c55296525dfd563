import type { MigrationInterface, QueryRunner } from 'typeorm';

export class SessionPolicies1764000000003 implements MigrationInterface {
  name = 'SessionPolicies1764000000003';

  async up(q: QueryRunner): Promise<void> {
    // Who never joined the room, recorded with the No Show transition (null on other sessions).
    await q.query(`ALTER TABLE sessions ADD COLUMN no_show_client boolean`);
    await q.query(`ALTER TABLE sessions ADD COLUMN no_show_psychologist boolean`);
    await q.query(`
      ALTER TABLE sessions ADD CONSTRAINT sessions_no_show_flags
        CHECK ((status = 'No Show') = (no_show_client IS NOT NULL AND no_show_psychologist IS NOT NULL))`);
    // The reconciler's deadlines: sessions nobody started, and calls running too long.
    await q.query(
      `CREATE INDEX sessions_confirmed_start_idx ON sessions (scheduled_start) WHERE status = 'Confirmed'`,
    );
    await q.query(
      `CREATE INDEX sessions_running_started_idx ON sessions (video_call_started) WHERE status = 'In Progress'`,
    );
    // Attendance reads every stay of a session's participant.
    await q.query(
      `CREATE INDEX room_presence_session_user_idx ON room_presence (session_id, user_id, joined_at)`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX room_presence_session_user_idx`);
    await q.query(`DROP INDEX sessions_running_started_idx`);
    await q.query(`DROP INDEX sessions_confirmed_start_idx`);
    await q.query(`ALTER TABLE sessions DROP CONSTRAINT sessions_no_show_flags`);
    await q.query(`ALTER TABLE sessions DROP COLUMN no_show_psychologist`);
    await q.query(`ALTER TABLE sessions DROP COLUMN no_show_client`);
  }
}
