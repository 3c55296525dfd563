import { Injectable, Logger } from '@nestjs/common';
import { Sql } from '../database/sql.js';
import { InstanceRegistry } from './instance-registry.service.js';
import { PresenceDepartures } from './presence-departures.service.js';
import {
  LOCK_SESSIONS_OF_INSTANCES,
  SELECT_DEAD_INSTANCES,
  SELECT_SELF,
  STOP_INSTANCES,
  stopInstancesValues,
  type StoppedInstance,
} from './presence-instances.sql.js';
import type { LeaveReason } from './presence-stays.sql.js';
import { RoomEvents } from './room-events.js';

/**
 * Instances that stop, with all their stays: the ones this instance buries (silent past their
 * beats while it could beat, see presence-rules.ts), and this instance at its graceful shutdown.
 */
@Injectable()
export class InstanceStops {
  private readonly logger = new Logger(InstanceStops.name);

  constructor(
    private readonly sql: Sql,
    private readonly instance: InstanceRegistry,
    private readonly departures: PresenceDepartures,
    private readonly roomEvents: RoomEvents,
  ) {}

  /** See PresenceService.sweepDeadInstances. */
  sweepDeadInstances(): Promise<number> {
    return this.stop(
      SELECT_DEAD_INSTANCES,
      SELECT_DEAD_INSTANCES.values(this.instance.id),
      'instance-lost',
    );
  }

  /** See PresenceService.closeInstance. */
  async closeInstance(): Promise<void> {
    this.departures.markClosed();
    await this.stop(SELECT_SELF, SELECT_SELF.values(this.instance.id), 'shutdown');
  }

  /**
   * Stops the instances `select` picks and locks, with all their stays and what follows from them,
   * in one transaction (see STOP_INSTANCES). Returns how many instances were stopped.
   */
  private async stop(
    select: { name: string; text: string },
    values: unknown[],
    reason: LeaveReason,
  ): Promise<number> {
    const { stopped, gone } = await this.sql.transaction(async (tx) => {
      const instances = await tx.query<StoppedInstance[]>(select.text, values);
      if (instances.length === 0) {
        return { stopped: 0, gone: [] };
      }
      await tx.query(LOCK_SESSIONS_OF_INSTANCES, [instances.map((i) => i.id)]);
      const left = await tx.query<{ sessionId: string; userId: string; otherUserId: string }[]>(
        STOP_INSTANCES,
        stopInstancesValues(instances, reason),
      );
      return { stopped: instances.length, gone: left };
    });
    if (stopped > 0) {
      this.logger.log(
        `${select.name}: ${stopped} instance(s) stopped, ${gone.length} participant(s) left`,
      );
    }
    // The room hears of it; the webhook's participant.left was written with the stays.
    for (const { sessionId, userId, otherUserId } of gone) {
      this.roomEvents.emit({ type: 'participant-left', sessionId, userId, otherUserId });
    }
    return stopped;
  }
}
