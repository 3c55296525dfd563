import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Service keys: long-lived, scoped, revocable credentials for integrations (a payment backend).
 * Only the key's SHA-256 is stored (the key is shown once, at creation). Revoking keeps the row:
 * the history rows that a key caused still name it (`actor_key_id`).
 */
export class ServiceKeys1764000000010 implements MigrationInterface {
  name = 'ServiceKeys1764000000010';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE service_keys (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
        scopes text[] NOT NULL
          CHECK (cardinality(scopes) > 0 AND scopes <@ ARRAY['payments:write', 'sessions:read']),
        key_hash bytea NOT NULL UNIQUE CHECK (octet_length(key_hash) = 32),
        created_at timestamptz NOT NULL DEFAULT now(),
        last_used_at timestamptz,
        revoked_at timestamptz
      )`);
    // A change is caused by a person or by a key, never both (the system: neither).
    await q.query(`
      ALTER TABLE session_status_changes
        ADD COLUMN actor_key_id uuid REFERENCES service_keys (id) ON DELETE SET NULL,
        ADD CONSTRAINT session_status_changes_one_actor CHECK (actor_id IS NULL OR actor_key_id IS NULL)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(
      `ALTER TABLE session_status_changes DROP CONSTRAINT session_status_changes_one_actor, DROP COLUMN actor_key_id`,
    );
    await q.query(`DROP TABLE service_keys`);
  }
}
