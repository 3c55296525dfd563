import type { MigrationInterface, QueryRunner } from 'typeorm';

export class RoomPresence1764000000001 implements MigrationInterface {
  name = 'RoomPresence1764000000001';

  async up(q: QueryRunner): Promise<void> {
    // Every running instance of the service: a new row per boot, signed alive by its heartbeat.
    await q.query(`
      CREATE TABLE instances (
        id uuid PRIMARY KEY,
        started_at timestamptz NOT NULL DEFAULT now(),
        heartbeat_at timestamptz NOT NULL DEFAULT now(),
        heartbeat_seconds int NOT NULL CHECK (heartbeat_seconds > 0),
        stopped_at timestamptz
      )`);
    await q.query(
      `CREATE INDEX instances_live_idx ON instances (heartbeat_at) WHERE stopped_at IS NULL`,
    );

    // One row per socket in a room: who, on which instance, from when to when. Kept after the
    // call as its attendance record.
    await q.query(`
      CREATE TABLE room_presence (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        session_id uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        role text NOT NULL CHECK (role IN ('client', 'psychologist')),
        socket_id text NOT NULL,
        instance_id uuid NOT NULL REFERENCES instances (id),
        joined_at timestamptz NOT NULL DEFAULT now(),
        left_at timestamptz,
        left_reason text CHECK (left_reason IN ('leave', 'disconnect', 'instance-lost', 'shutdown', 'session-ended')),
        CONSTRAINT room_presence_left_after_join CHECK (left_at IS NULL OR left_at >= joined_at)
      )`);
    await q.query(
      `CREATE UNIQUE INDEX room_presence_open_socket_key ON room_presence (session_id, socket_id) WHERE left_at IS NULL`,
    );
    await q.query(
      `CREATE INDEX room_presence_open_session_idx ON room_presence (session_id) WHERE left_at IS NULL`,
    );
    await q.query(
      `CREATE INDEX room_presence_open_instance_idx ON room_presence (instance_id) WHERE left_at IS NULL`,
    );
    await q.query(
      `CREATE INDEX room_presence_session_idx ON room_presence (session_id, joined_at)`,
    );

    // When the last participant left a started call; cleared when someone comes back. The
    // reconciler ends calls whose room has stayed empty for the grace period.
    await q.query(`ALTER TABLE sessions ADD COLUMN room_emptied_at timestamptz`);
    await q.query(
      `CREATE INDEX sessions_room_emptied_idx ON sessions (room_emptied_at) WHERE status = 'In Progress' AND room_emptied_at IS NOT NULL`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE sessions DROP COLUMN room_emptied_at`);
    await q.query(`DROP TABLE room_presence`);
    await q.query(`DROP TABLE instances`);
  }
}
