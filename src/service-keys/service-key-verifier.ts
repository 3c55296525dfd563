import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import { DomainError } from '../common/errors/domain-error.js';
import { RateLimiter } from '../common/rate-limit/rate-limiter.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { Sql } from '../database/sql.js';
import { KeyCache } from './key-cache.js';
import {
  isWellFormedServiceKey,
  serviceKeyHash,
  type ServiceKeyScope,
} from './service-key-scopes.js';
import { VERIFY_KEY } from './service-keys.sql.js';

/**
 * How long an instance trusts a key it read from the database. The bound on revocation: a key
 * revoked on this instance is refused at once (ServiceKeysService evicts it), one revoked on
 * another instance within this time, since every entry is re-read from the table when it runs out.
 */
export const KEY_CACHE_TTL_MS = 5000;

export interface VerifiedKey {
  id: string;
  scopes: ServiceKeyScope[];
}

/** A refusal for too many failed keys from one address, with the wait for the next attempt. */
export class KeyAttemptsThrottled extends DomainError {
  constructor(readonly retryAfterMs: number) {
    super('RATE_LIMITED', 'Too many failed service key attempts; try again later');
  }
}

/**
 * Checks the service keys that requests carry, without a database round trip per request: a
 * verified key is cached for KEY_CACHE_TTL_MS. Failed keys count against the client address,
 * AUTH_RATE_LIMIT a minute as for logins; an address out of attempts is refused 429 before its
 * key is looked up, so guessing costs the database nothing more.
 */
@Injectable()
export class ServiceKeyVerifier implements OnModuleDestroy {
  private readonly cache = new KeyCache<VerifiedKey>(KEY_CACHE_TTL_MS);
  /** Lookups under way by hash: a burst of requests with an uncached key reads it once. */
  private readonly lookups = new Map<string, Promise<VerifiedKey | undefined>>();
  private readonly failures: RateLimiter;
  /** Revocations seen here: a lookup that overlapped one does not cache what it read before it. */
  private revocations = 0;

  constructor(
    private readonly sql: Sql,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.failures = new RateLimiter(config.authRateLimit, 60_000);
  }

  /** The key's id and scopes; UNAUTHENTICATED when unknown or revoked, RATE_LIMITED (thrown). */
  async verify(key: string, clientAddress: string): Promise<VerifiedKey> {
    const hash = serviceKeyHash(key);
    const hex = hash.toString('hex');
    const cached = this.cache.get(hex);
    if (cached) {
      return cached;
    }
    const waitMs = this.failures.waitMs(clientAddress);
    if (waitMs > 0) {
      throw new KeyAttemptsThrottled(waitMs);
    }
    const found = isWellFormedServiceKey(key) ? await this.lookUp(hex, hash) : undefined;
    if (!found) {
      this.failures.take(clientAddress);
      throw new DomainError('UNAUTHENTICATED', 'Unknown or revoked service key');
    }
    return found;
  }

  /** Forgets a key revoked on this instance, so it is refused from the next request on. */
  evict(id: string): void {
    this.revocations++;
    this.cache.evictId(id);
  }

  onModuleDestroy(): void {
    this.failures.close();
  }

  private lookUp(hex: string, hash: Buffer): Promise<VerifiedKey | undefined> {
    let lookup = this.lookups.get(hex);
    if (!lookup) {
      const revocations = this.revocations;
      lookup = this.sql
        .rows<VerifiedKey>(VERIFY_KEY.name, VERIFY_KEY.text, [hash])
        .then(([row]) => {
          if (row && revocations === this.revocations) {
            this.cache.set(hex, { id: row.id, scopes: row.scopes });
          }
          return row;
        })
        .finally(() => this.lookups.delete(hex));
      this.lookups.set(hex, lookup);
    }
    return lookup;
  }
}
