/**
 * A token bucket per key, in memory: `capacity` tokens, refilled continuously at `capacity` per
 * `periodMs`, so a steady rate of `capacity` per period passes and bursts up to `capacity` are
 * absorbed. Per instance by design (see README, Security): with N instances behind a balancer a
 * client may get up to N times the rate. Idle keys are dropped so the map cannot grow unbounded.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly capacity: number,
    private readonly periodMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.sweeper = setInterval(() => this.sweep(), Math.max(periodMs, 10_000));
    this.sweeper.unref();
  }

  /** Takes a token for `key`; when none is left, says how long until the next one. */
  take(key: string): { allowed: true } | { allowed: false; retryAfterMs: number } {
    const now = this.now();
    const rate = this.capacity / this.periodMs;
    const bucket = this.buckets.get(key) ?? { tokens: this.capacity, at: now };
    bucket.tokens = Math.min(this.capacity, bucket.tokens + (now - bucket.at) * rate);
    bucket.at = now;
    this.buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true };
    }
    return { allowed: false, retryAfterMs: Math.ceil((1 - bucket.tokens) / rate) };
  }

  /**
   * How long until `key` has a token, without taking one (0: it has one now). For limits on
   * failures: a caller that is out of tokens is refused before the attempt costs anything.
   */
  waitMs(key: string): number {
    const bucket = this.buckets.get(key);
    if (!bucket) {
      return 0;
    }
    const rate = this.capacity / this.periodMs;
    const tokens = Math.min(this.capacity, bucket.tokens + (this.now() - bucket.at) * rate);
    return tokens >= 1 ? 0 : Math.ceil((1 - tokens) / rate);
  }

  forget(key: string): void {
    this.buckets.delete(key);
  }

  get size(): number {
    return this.buckets.size;
  }

  close(): void {
    clearInterval(this.sweeper);
  }

  /** A bucket idle for a whole period is full again: keeping it changes nothing. */
  private sweep(): void {
    const cutoff = this.now() - this.periodMs;
    for (const [key, bucket] of this.buckets) {
      if (bucket.at < cutoff) {
        this.buckets.delete(key);
      }
    }
  }
}
