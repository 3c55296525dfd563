import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `reachable_since`: the start of an instance's current unbroken run of heartbeats, i.e. since when
 * it has been able to reach the database without a gap. A missing heartbeat proves another
 * instance dead only to a judge whose own run spans the silence: after an outage, a database
 * restart, or a judge that was itself frozen or cut off, nobody is buried for beats that nobody
 * could write (see InstanceRegistry and the sweep in presence-instances.sql.ts).
 *
 * `process`: the host and process id of the incarnation (`host:pid`). A process that learns it was
 * declared dead carries on under a new id: this tells which process held which ids.
 */
export class InstanceLiveness1764000000008 implements MigrationInterface {
  name = 'InstanceLiveness1764000000008';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `ALTER TABLE instances ADD COLUMN reachable_since timestamptz NOT NULL DEFAULT now(),
                            ADD COLUMN process text`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE instances DROP COLUMN reachable_since, DROP COLUMN process`);
  }
}
