import type { MigrationInterface, QueryRunner } from 'typeorm';

export class InitialSchema1764000000000 implements MigrationInterface {
  name = 'InitialSchema1764000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE users (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        email text NOT NULL,
        name text NOT NULL,
        role text NOT NULL CHECK (role IN ('client', 'psychologist', 'admin')),
        password_hash text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT users_email_lower CHECK (email = lower(email))
      )`);
    await q.query(`CREATE UNIQUE INDEX users_email_key ON users (email)`);

    await q.query(`
      CREATE TABLE sessions (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        client_id uuid NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
        psychologist_id uuid NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
        scheduled_start timestamptz NOT NULL,
        duration_minutes int NOT NULL CHECK (duration_minutes BETWEEN 15 AND 180),
        status text NOT NULL DEFAULT 'Pending'
          CHECK (status IN ('Pending', 'Confirmed', 'In Progress', 'Completed', 'Cancelled', 'No Show')),
        payment_status text NOT NULL DEFAULT 'Pending'
          CHECK (payment_status IN ('Pending', 'Confirmed', 'Paid', 'Verified', 'Failed', 'Refunded')),
        video_call_started timestamptz,
        video_call_ended timestamptz,
        call_duration_minutes int,
        cancel_reason text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT sessions_distinct_participants CHECK (client_id <> psychologist_id),
        CONSTRAINT sessions_started_when_running
          CHECK (status NOT IN ('In Progress', 'Completed') OR video_call_started IS NOT NULL),
        CONSTRAINT sessions_ended_when_completed
          CHECK ((status = 'Completed') = (video_call_ended IS NOT NULL)),
        CONSTRAINT sessions_end_after_start CHECK (video_call_ended >= video_call_started)
      )`);
    await q.query(
      `CREATE INDEX sessions_client_start_idx ON sessions (client_id, scheduled_start DESC)`,
    );
    await q.query(
      `CREATE INDEX sessions_psychologist_start_idx ON sessions (psychologist_id, scheduled_start DESC)`,
    );
    await q.query(`CREATE INDEX sessions_start_idx ON sessions (scheduled_start DESC)`);
    await q.query(
      `CREATE INDEX sessions_in_progress_idx ON sessions (id) WHERE status = 'In Progress'`,
    );

    await q.query(`
      CREATE TABLE session_status_changes (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        session_id uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        from_status text NOT NULL,
        to_status text NOT NULL,
        at timestamptz NOT NULL,
        actor_id uuid REFERENCES users (id) ON DELETE SET NULL,
        cause text NOT NULL
          CHECK (cause IN ('payment', 'start', 'end', 'cancel', 'auto-start', 'auto-end', 'max-duration', 'no-show'))
      )`);
    await q.query(
      `CREATE INDEX session_status_changes_session_idx ON session_status_changes (session_id, id)`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE session_status_changes`);
    await q.query(`DROP TABLE sessions`);
    await q.query(`DROP TABLE users`);
  }
}
