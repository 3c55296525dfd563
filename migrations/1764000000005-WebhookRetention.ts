import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Old webhook events are purged by age (WEBHOOK_RETENTION_DAYS): found by this index. */
export class WebhookRetention1764000000005 implements MigrationInterface {
  name = 'WebhookRetention1764000000005';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX webhook_events_created_idx ON webhook_events (created_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX webhook_events_created_idx`);
  }
}
