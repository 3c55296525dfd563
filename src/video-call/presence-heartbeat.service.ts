import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
} from '@nestjs/common';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { PeriodicTask } from '../common/periodic-task.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { InstanceRegistry } from './instance-registry.service.js';
import { BEAT_RETRY_MS } from './presence-rules.js';
import { PresenceService } from './presence.service.js';
import { VideoCallGateway } from './video-call.gateway.js';

const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * Keeps this instance's presence true, whatever failed:
 * - every PRESENCE_HEARTBEAT_SECONDS it signs alive (a failed beat is tried again within
 *   BEAT_RETRY_MS, so the run of beats survives a short blip);
 * - a beat that finds its incarnation stopped means another instance declared this one dead (it
 *   was frozen, or cut off from the database, past three beats): it fences itself by taking a new
 *   incarnation, and every socket it still holds in a room is announced again under it (or, when
 *   the session is over, taken out of the room) - it never goes on as if nothing happened;
 * - after every beat it buries instances that stopped beating (when its own beats prove the
 *   database was reachable meanwhile), and compares its open stays with its sockets: a stay whose
 *   socket is gone is closed as of the moment it went (remembered, also through an outage), a
 *   socket in a room without an open stay gets one; after a burial, the stays of sockets that left
 *   meanwhile last until they left, not only until the burial.
 * The beat does not wait for the sweep and the repair, which may take longer than a beat.
 */
@Injectable()
export class PresenceHeartbeat implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(PresenceHeartbeat.name);
  private readonly loop = new PeriodicTask('heartbeat', () => this.run(), BEAT_RETRY_MS);
  private upkeep?: Promise<void>;
  /** performance.now() when the last beat that found this instance alive was sent. */
  private aliveSentAt = 0;
  /** When beats started failing (ms since the epoch), for one line at the start and one at the end. */
  private failingSince?: number;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly instance: InstanceRegistry,
    private readonly presence: PresenceService,
    private readonly gateway: VideoCallGateway,
    private readonly metrics: MetricsService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.instance.register();
    this.loop.start(this.config.presenceHeartbeatSeconds * 1000);
  }

  /** Stops beating, then closes this instance's stays (without ending any call) and stops it. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.loop.stop();
    await this.upkeep;
    await this.presence.closeInstance().catch((error: unknown) => {
      // Its stays are then closed by a survivor, as of its last heartbeat.
      this.logger.warn(`presence of this instance not closed at shutdown: ${errorText(error)}`);
    });
  }

  /** One beat; the next one a period after this one began, or soon when it failed. */
  private async run(): Promise<number> {
    const startedAt = Date.now();
    const ok = await this.beat();
    const period = this.config.presenceHeartbeatSeconds * 1000;
    return ok ? Math.max(0, period - (Date.now() - startedAt)) : BEAT_RETRY_MS;
  }

  /** One beat; true when it was written. Then the upkeep, unless the last one is still running. */
  private async beat(): Promise<boolean> {
    const sentAt = performance.now();
    try {
      if ((await this.instance.beat()) === 'alive') {
        this.presence.aliveAt(sentAt);
        this.aliveSentAt = sentAt;
      } else {
        await this.fence();
        this.presence.buried(this.aliveSentAt);
      }
    } catch (error) {
      if (this.failingSince === undefined) {
        this.failingSince = Date.now();
        this.logger.error(`heartbeat failed: ${errorText(error)}; retrying`);
      }
      return false;
    }
    if (this.failingSince !== undefined) {
      const seconds = ((Date.now() - this.failingSince) / 1000).toFixed(1);
      this.logger.log(`heartbeat written again after ${seconds} s`);
      this.failingSince = undefined;
    }
    this.upkeep ??= this.runUpkeep().finally(() => (this.upkeep = undefined));
    return true;
  }

  /** Another instance buried this one: a new incarnation; the upkeep re-announces the sockets. */
  private async fence(): Promise<void> {
    const old = this.instance.id;
    const next = await this.instance.reincarnate();
    this.metrics.presenceRepair('fenced');
    this.logger.warn(
      `this instance (${old}) was declared dead by another (frozen or cut off past its beats): ` +
        `now ${next}, announcing its sockets again`,
    );
  }

  private async runUpkeep(): Promise<void> {
    try {
      const buried = await this.presence.sweepDeadInstances();
      for (let i = 0; i < buried; i++) {
        this.metrics.presenceRepair('buried');
      }
    } catch (error) {
      this.logger.warn(`sweep of dead instances failed: ${errorText(error)}`);
    }
    try {
      await this.heal();
    } catch (error) {
      this.logger.warn(`presence repair failed: ${errorText(error)}`);
    }
  }

  /**
   * Compares this incarnation's open stays with its sockets in rooms, and repairs the record. The
   * stays are read first and the sockets after: a join that commits in between shows as a socket
   * whose stay is missing, and announcing it again is a no-op; the other order could close it.
   */
  private async heal(): Promise<void> {
    const readSince = performance.now();
    const open = await this.presence.openStays();
    const members = this.gateway.members();
    const live = new Set(members.map((m) => PresenceService.keyOf(m)));
    for (const key of open) {
      const [sessionId, socketId] = key.split(' ');
      if (!live.has(key) && !this.gateway.isBusy(socketId)) {
        if (await this.presence.closeStale(sessionId, socketId)) {
          this.metrics.presenceRepair('closed');
        }
      }
    }
    for (const member of members) {
      if (!open.has(PresenceService.keyOf(member))) {
        const outcome = await this.gateway.restore(member);
        if (outcome !== 'gone') {
          this.metrics.presenceRepair(outcome);
        }
      }
    }
    this.presence.forgetWritten(open, readSince);
  }
}
