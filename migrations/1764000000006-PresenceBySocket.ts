import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A socket's open stays are looked up by socket when it disconnects: the unique key of open stays
 * leads with the socket instead of the session (the session's open stays have an index of their
 * own, room_presence_open_session_idx). Before, each disconnect scanned every open stay of its
 * instance: thousands of disconnects at once (an instance restarting) cost time squared.
 */
export class PresenceBySocket1764000000006 implements MigrationInterface {
  name = 'PresenceBySocket1764000000006';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE UNIQUE INDEX room_presence_open_socket_session_key ON room_presence (socket_id, session_id) WHERE left_at IS NULL`,
    );
    await q.query(`DROP INDEX room_presence_open_socket_key`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE UNIQUE INDEX room_presence_open_socket_key ON room_presence (session_id, socket_id) WHERE left_at IS NULL`,
    );
    await q.query(`DROP INDEX room_presence_open_socket_session_key`);
  }
}
