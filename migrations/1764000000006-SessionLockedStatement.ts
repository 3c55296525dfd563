import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `run_under_session_lock(session, name, statement, args)`: locks the session's row, then runs
 * the statement (its arguments in one text[], `$1`) and returns its one jsonb value. The statement
 * is prepared under `name` the first time a connection runs it, so it is parsed and planned once
 * per connection, not on every call (planning a join's statement took longer than running it). A room join or
 * leave must read the room's presence only once the session's row is locked (so that two joins
 * at the same instant see each other, and the call starts exactly once), and under READ
 * COMMITTED only a statement that begins after the lock sees what the previous lock holder
 * committed. In a function, each statement takes a fresh snapshot: lock and statement are one
 * round trip instead of four (BEGIN, lock, statement, COMMIT).
 */
export class SessionLockedStatement1764000000006 implements MigrationInterface {
  name = 'SessionLockedStatement1764000000006';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE FUNCTION run_under_session_lock(
        p_session uuid, p_name text, p_statement text, p_args text[]
      ) RETURNS jsonb LANGUAGE plpgsql VOLATILE AS $$
      DECLARE
        result jsonb;
      BEGIN
        PERFORM 1 FROM sessions WHERE id = p_session FOR UPDATE;
        IF NOT EXISTS (SELECT 1 FROM pg_prepared_statements WHERE name = p_name) THEN
          EXECUTE format('PREPARE %I(text[]) AS %s', p_name, p_statement);
        END IF;
        EXECUTE format('EXECUTE %I(%L)', p_name, p_args) INTO result;
        RETURN result;
      END
      $$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION run_under_session_lock(uuid, text, text, text[])`);
  }
}
