/** Every statement of the service keys: the admins' management and the guard's verification. */

const KEY_COLUMNS = 'id, name, scopes, created_at, last_used_at';

export const INSERT_KEY = {
  name: 'service-key-insert',
  text: `INSERT INTO service_keys (name, scopes, key_hash) VALUES ($1, $2, $3) RETURNING ${KEY_COLUMNS}`,
};

/** The keys still in force, oldest first; revoked rows stay for the history that names them. */
export const LIST_KEYS = {
  name: 'service-keys-list',
  text: `SELECT ${KEY_COLUMNS} FROM service_keys WHERE revoked_at IS NULL ORDER BY created_at, id`,
};

/** No row back: no key in force has this id (unknown, or revoked already). */
export const REVOKE_KEY = {
  name: 'service-key-revoke',
  text: `UPDATE service_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL RETURNING id`,
};

/**
 * The key in force with this hash (the unique index on key_hash), and its `last_used_at` moved
 * on when it is over a minute old: one round trip, and at most one row write a minute per key
 * however often it is used. No row back: unknown or revoked.
 */
export const VERIFY_KEY = {
  name: 'service-key-verify',
  text: `WITH k AS (
         SELECT id, scopes, last_used_at FROM service_keys WHERE key_hash = $1 AND revoked_at IS NULL
       ), touched AS (
         UPDATE service_keys s SET last_used_at = now()
           FROM k
          WHERE s.id = k.id AND (k.last_used_at IS NULL OR k.last_used_at < now() - interval '1 minute')
       )
       SELECT id, scopes FROM k`,
};
