import { Inject, Injectable } from '@nestjs/common';
import { InjectThrottlerStorage, normalizeIp, type ThrottlerStorage } from '@nestjs/throttler';
import { RateLimitedError } from '../common/errors/domain-errors';
import { isResourceId } from '../common/validation/resource-id';
import { CONFIGURATION, type Configuration } from '../config/configuration';

const THROTTLER = 'token-failures';
/** Blocks remembered at most; beyond, the oldest goes (the storage still holds the counts). */
const MAX_BLOCKS = 100_000;

/**
 * Failed client authentications at POST /token, limited per client id and
 * per address (issue 13): past TOKEN_MAX_FAILURES_PER_CLIENT (or
 * _PER_ADDRESS) failures in TOKEN_FAILURE_WINDOW_MS, attempts get 429 with
 * Retry-After until the window ends, before any secret is hashed.
 *
 * The counts live in @nestjs/throttler's storage, the one the global rate
 * limit uses (bounded, in memory; a shared Redis storage would share them
 * between instances), under keys of their own. The storage interface only
 * counts, it cannot be asked "is this key blocked?" without counting, so the
 * blocks it reports are remembered here until they end.
 */
@Injectable()
export class TokenAttemptLimiter {
  private readonly blockedUntil = new Map<string, number>();
  private readonly limits: { client: number; address: number; windowMs: number };

  constructor(
    @InjectThrottlerStorage() private readonly storage: ThrottlerStorage,
    @Inject(CONFIGURATION) config: Configuration,
  ) {
    const { maxFailuresPerClient, maxFailuresPerAddress, failureWindowMs } = config.clients;
    this.limits = { client: maxFailuresPerClient, address: maxFailuresPerAddress, windowMs: failureWindowMs };
  }

  /** RateLimitedError (429) while the client id or the address is blocked. */
  check(clientId: string | undefined, address: string): void {
    const now = Date.now();
    const waits = this.keys(clientId, address).map(({ key }) => (this.blockedUntil.get(key) ?? 0) - now);
    const wait = Math.max(...waits);
    if (wait > 0) throw new RateLimitedError(Math.max(1, Math.ceil(wait / 1000)));
  }

  /** Counts a failure for both; a key past its limit is blocked from now on. */
  async recordFailure(clientId: string | undefined, address: string): Promise<void> {
    for (const { key, limit } of this.keys(clientId, address)) {
      const record = await this.storage.increment(key, this.limits.windowMs, limit, 0, THROTTLER);
      if (record.isBlocked) this.block(key, Date.now() + record.timeToBlockExpire * 1000);
    }
  }

  private keys(clientId: string | undefined, address: string): { key: string; limit: number }[] {
    const keys = [{ key: `${THROTTLER}:ip:${normalizeIp(address)}`, limit: this.limits.address }];
    // Only well-formed ids get a count of their own (a made-up one is counted by its address alone).
    if (clientId !== undefined && isResourceId(clientId)) keys.push({ key: `${THROTTLER}:client:${clientId}`, limit: this.limits.client });
    return keys;
  }

  private block(key: string, until: number): void {
    this.blockedUntil.delete(key);
    if (this.blockedUntil.size >= MAX_BLOCKS) {
      const now = Date.now();
      for (const [old, end] of this.blockedUntil) if (end <= now || this.blockedUntil.size >= MAX_BLOCKS) this.blockedUntil.delete(old);
    }
    this.blockedUntil.set(key, until);
  }
}
