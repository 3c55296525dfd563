import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { Sql } from '../database/sql.js';
import { INSTANCE_BEAT, REGISTER_INSTANCE } from './presence-instances.sql.js';

export type BeatOutcome = 'alive' | 'declared-dead';

/**
 * This process as an instance of the service: an id per incarnation, and a heartbeat that signs it
 * alive in the database. An instance silent for three of its beats is buried by the others (see
 * the sweep in presence-instances.sql.ts), and its stays are closed for good.
 *
 * An incarnation that was buried never comes back: an instance that learns it was declared dead
 * (frozen, or cut off from the database, past three beats) takes a new id, and its live sockets
 * are announced again under it (see PresenceHeartbeat). Statements that write presence check that
 * their incarnation is still alive, so nothing is ever written under a buried one.
 */
@Injectable()
export class InstanceRegistry {
  private current = randomUUID();

  constructor(
    private readonly sql: Sql,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** The id of this process's current incarnation. */
  get id(): string {
    return this.current;
  }

  async register(): Promise<void> {
    await this.sql.rows(REGISTER_INSTANCE.name, REGISTER_INSTANCE.text, [
      this.current,
      this.config.presenceHeartbeatSeconds,
      `${hostname()}:${process.pid}`,
    ]);
  }

  /** A new incarnation, for an instance that learnt it was declared dead. */
  async reincarnate(): Promise<string> {
    this.current = randomUUID();
    await this.register();
    return this.current;
  }

  /**
   * Signs this incarnation alive. `reachable_since` carries on while beats come at most
   * BEAT_RUN_GAP_BEATS apart, and starts again after a longer gap (the database was out of reach,
   * or this process was stalled): only an unbroken run lets this instance judge others.
   * 'declared-dead' when the row is stopped or gone: another instance buried this one.
   */
  async beat(): Promise<BeatOutcome> {
    const rows = await this.sql.rows(
      INSTANCE_BEAT.name,
      INSTANCE_BEAT.text,
      INSTANCE_BEAT.values(this.current),
    );
    return rows.length === 1 ? 'alive' : 'declared-dead';
  }
}
