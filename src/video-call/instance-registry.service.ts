import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';

/**
 * This process as one instance of the service: a new id per boot, and a heartbeat that signs it
 * alive in the database. An instance silent for three of its beats is dead (see PresenceService).
 */
@Injectable()
export class InstanceRegistry {
  readonly id = randomUUID();

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async register(): Promise<void> {
    await this.db.query(`INSERT INTO instances (id, heartbeat_seconds) VALUES ($1, $2)`, [
      this.id,
      this.config.presenceHeartbeatSeconds,
    ]);
  }

  async heartbeat(): Promise<void> {
    await this.db.query(
      `UPDATE instances SET heartbeat_at = now() WHERE id = $1 AND stopped_at IS NULL`,
      [this.id],
    );
  }

  async markStopped(): Promise<void> {
    await this.db.query(
      `UPDATE instances SET stopped_at = now() WHERE id = $1 AND stopped_at IS NULL`,
      [this.id],
    );
  }
}
