import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The directory, working hours and rescheduling (#23).
 *
 * `users.time_zone`: the IANA zone a psychologist's working hours are written in (wall-clock
 * times, so a daylight-saving change moves nothing they set); `users.bio`: their profile text.
 * `psychologist_availability`: one document per psychologist (weekly intervals and date
 * overrides), replaced whole by PUT; no row = bookable at any time, as before.
 *
 * History: a reschedule is a row that keeps the status (`from` = `to`), with the start it moved
 * from and to; `cause` gains `reschedule`.
 */
export class PsychologistDirectory1764000000009 implements MigrationInterface {
  name = 'PsychologistDirectory1764000000009';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `ALTER TABLE users ADD COLUMN bio text, ADD COLUMN time_zone text NOT NULL DEFAULT 'UTC'`,
    );
    // The directory lists psychologists by name (paged, with a name search).
    await q.query(
      `CREATE INDEX users_psychologists_by_name_idx ON users (name, id) WHERE role = 'psychologist'`,
    );
    await q.query(`
      CREATE TABLE psychologist_availability (
        psychologist_id uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
        weekly jsonb NOT NULL,
        overrides jsonb NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      ALTER TABLE session_status_changes
        ADD COLUMN previous_start timestamptz,
        ADD COLUMN scheduled_start timestamptz,
        DROP CONSTRAINT session_status_changes_cause_check,
        ADD CONSTRAINT session_status_changes_cause_check
          CHECK (cause IN ('payment', 'start', 'end', 'cancel', 'auto-start', 'auto-end',
                           'max-duration', 'no-show', 'reschedule')),
        ADD CONSTRAINT session_status_changes_reschedule_times
          CHECK ((cause = 'reschedule') = (previous_start IS NOT NULL AND scheduled_start IS NOT NULL))`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DELETE FROM session_status_changes WHERE cause = 'reschedule'`);
    await q.query(`
      ALTER TABLE session_status_changes
        DROP CONSTRAINT session_status_changes_reschedule_times,
        DROP CONSTRAINT session_status_changes_cause_check,
        ADD CONSTRAINT session_status_changes_cause_check
          CHECK (cause IN ('payment', 'start', 'end', 'cancel', 'auto-start', 'auto-end',
                           'max-duration', 'no-show')),
        DROP COLUMN previous_start,
        DROP COLUMN scheduled_start`);
    await q.query(`DROP TABLE psychologist_availability`);
    await q.query(`DROP INDEX users_psychologists_by_name_idx`);
    await q.query(`ALTER TABLE users DROP COLUMN bio, DROP COLUMN time_zone`);
  }
}
