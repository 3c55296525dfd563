import type { Logger } from '@nestjs/common';
import { PeriodicTask } from './periodic-task.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until `done()` holds (a busy machine may run timers late), at most 5 s. */
async function until(done: () => boolean): Promise<void> {
  for (let waited = 0; !done() && waited < 5000; waited += 10) {
    await sleep(10);
  }
}

describe('PeriodicTask', () => {
  it('runs the next tick after the delay the last one returned, until stopped', async () => {
    const delays = [0, 0, 60_000];
    let ticks = 0;
    const task = new PeriodicTask(
      'test job',
      () => {
        ticks++;
        return Promise.resolve(delays.shift() ?? 60_000);
      },
      60_000,
    );
    task.start(0);
    await until(() => ticks >= 3);
    // The third tick asked for a minute: nothing more runs meanwhile.
    await sleep(50);
    expect(ticks).toBe(3);
    await task.stop();
  });

  it('logs a failed tick and tries again after the retry delay', async () => {
    const logged: string[] = [];
    const logger = { error: (line: string) => logged.push(line) } as unknown as Logger;
    let ticks = 0;
    const task = new PeriodicTask(
      'test job',
      () => {
        ticks++;
        return ticks === 1 ? Promise.reject(new Error('boom')) : Promise.resolve(60_000);
      },
      5,
      logger,
    );
    await task.runNow();
    expect(logged).toEqual(['test job failed: boom']);
    await until(() => ticks >= 2);
    await sleep(50);
    expect(ticks).toBe(2);
    await task.stop();
  });

  it('waits on stop for the tick in flight, and schedules none after it', async () => {
    let finish!: () => void;
    let ticks = 0;
    const task = new PeriodicTask(
      'test job',
      () => {
        ticks++;
        return new Promise<number>((resolve) => (finish = () => resolve(0)));
      },
      0,
    );
    const first = task.runNow();
    let stopped = false;
    const stopping = task.stop().then(() => (stopped = true));
    await sleep(10);
    expect(stopped).toBe(false);
    finish();
    await Promise.all([first, stopping]);
    await sleep(20);
    expect(ticks).toBe(1);
  });
});
