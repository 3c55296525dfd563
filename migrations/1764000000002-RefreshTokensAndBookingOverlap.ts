import type { MigrationInterface, QueryRunner } from 'typeorm';

export class RefreshTokensAndBookingOverlap1764000000002 implements MigrationInterface {
  name = 'RefreshTokensAndBookingOverlap1764000000002';

  async up(q: QueryRunner): Promise<void> {
    // Refresh tokens: stored only as SHA-256 hashes. A family is one login; each refresh rotates
    // the token within it, and presenting a rotated token again revokes the whole family.
    await q.query(`
      CREATE TABLE refresh_tokens (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        family_id uuid NOT NULL,
        token_hash bytea NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        rotated_at timestamptz,
        revoked_at timestamptz
      )`);
    await q.query(`CREATE UNIQUE INDEX refresh_tokens_hash_key ON refresh_tokens (token_hash)`);
    await q.query(
      `CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id) WHERE revoked_at IS NULL`,
    );

    // Live bookings of one psychologist, or of one client, never overlap: PostgreSQL enforces it,
    // so two concurrent bookings cannot both pass. The end is stored because an index expression
    // must be immutable and timestamptz + interval is not.
    await q.query(`CREATE EXTENSION IF NOT EXISTS btree_gist`);
    await q.query(`ALTER TABLE sessions ADD COLUMN scheduled_end timestamptz`);
    await q.query(
      `UPDATE sessions SET scheduled_end = scheduled_start + duration_minutes * interval '1 minute'`,
    );
    await q.query(`ALTER TABLE sessions ALTER COLUMN scheduled_end SET NOT NULL`);
    await q.query(`
      ALTER TABLE sessions ADD CONSTRAINT sessions_scheduled_end_matches
        CHECK (scheduled_end = scheduled_start + duration_minutes * interval '1 minute')`);
    for (const party of ['psychologist', 'client']) {
      await q.query(`
        ALTER TABLE sessions ADD CONSTRAINT sessions_${party}_no_overlap
          EXCLUDE USING gist (${party}_id WITH =, tstzrange(scheduled_start, scheduled_end, '[)') WITH &&)
          WHERE (status IN ('Pending', 'Confirmed', 'In Progress'))`);
    }
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE sessions DROP CONSTRAINT sessions_client_no_overlap`);
    await q.query(`ALTER TABLE sessions DROP CONSTRAINT sessions_psychologist_no_overlap`);
    await q.query(`ALTER TABLE sessions DROP CONSTRAINT sessions_scheduled_end_matches`);
    await q.query(`ALTER TABLE sessions DROP COLUMN scheduled_end`);
    await q.query(`DROP TABLE refresh_tokens`);
  }
}
