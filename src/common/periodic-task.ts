import { Logger } from '@nestjs/common';
import { logJobFailure } from '../database/outage-log.js';

/**
 * A background loop: `tick` runs, then again after the delay it returns, until `stop`. A tick
 * that throws is logged (`logJobFailure`) and tried again after `retryMs`; one tick at a time, and
 * `stop` waits for the one in flight, so a shutdown never cuts a tick short.
 */
export class PeriodicTask {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;

  constructor(
    private readonly job: string,
    private readonly tick: () => Promise<number>,
    private readonly retryMs: number,
    private readonly logger: Logger = new Logger(job),
  ) {}

  /** The first tick runs after `delayMs`. */
  start(delayMs: number): void {
    this.schedule(delayMs);
  }

  /** The first tick runs now, and is awaited (a job whose first pass start-up waits for). */
  async runNow(): Promise<void> {
    this.running = this.run();
    await this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(delayMs: number): void {
    if (!this.stopped) {
      this.timer = setTimeout(() => void this.runNow(), delayMs);
    }
  }

  private async run(): Promise<void> {
    let next: number;
    try {
      next = await this.tick();
    } catch (error) {
      logJobFailure(this.logger, this.job, error);
      next = this.retryMs;
    }
    this.schedule(next);
  }
}
