/**
 * Verified service keys by hash, each for `ttlMs` after it was read from the database: within
 * that time a request with the key needs no database round trip, and a key revoked on another
 * instance is refused here at the latest when its entry runs out. Only keys that verified are
 * kept, so guessing cannot fill the cache; `maxEntries` bounds it anyway.
 */
export class KeyCache<T extends { id: string }> {
  private readonly entries = new Map<string, { value: T; expiresAt: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
    private readonly maxEntries = 10_000,
  ) {}

  get(hash: string): T | undefined {
    const entry = this.entries.get(hash);
    if (!entry) {
      return undefined;
    }
    if (entry.expiresAt <= this.now()) {
      this.entries.delete(hash);
      return undefined;
    }
    return entry.value;
  }

  set(hash: string, value: T): void {
    if (this.entries.size >= this.maxEntries && !this.entries.has(hash)) {
      this.dropExpired();
      if (this.entries.size >= this.maxEntries) {
        this.entries.clear();
      }
    }
    this.entries.set(hash, { value, expiresAt: this.now() + this.ttlMs });
  }

  /** Forgets the key with this id at once (it was revoked on this instance). */
  evictId(id: string): void {
    for (const [hash, entry] of this.entries) {
      if (entry.value.id === id) {
        this.entries.delete(hash);
      }
    }
  }

  get size(): number {
    return this.entries.size;
  }

  private dropExpired(): void {
    const now = this.now();
    for (const [hash, entry] of this.entries) {
      if (entry.expiresAt <= now) {
        this.entries.delete(hash);
      }
    }
  }
}
