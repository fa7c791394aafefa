import { Logger } from '@nestjs/common';
import type { ThrottlerStorage } from '@nestjs/throttler';
import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import type { Redis } from 'ioredis';
import { BoundedThrottlerStorage } from './bounded-throttler.storage';

type ThrottlerStorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

/**
 * Rate-limit counts in Redis (@nest-lab/throttler-storage-redis), so a
 * caller's budget is one across every instance (issue 16).
 *
 * Redis down: fail open to this instance's own bounded counts, with one
 * warning per outage. The limit is a guard against abuse, not a correctness
 * property; refusing every request (or a 503) because a helper store is down
 * would turn a Redis outage into an API outage. Meanwhile a caller gets at
 * most N per window per instance.
 *
 * The Redis script blocks an over-limit key for `blockDuration` (it cannot
 * wait for the end of the window as the in-memory store does), so with the
 * service's blockDuration 0 a refused caller waits one whole window from its
 * first refused request; Retry-After says exactly how long.
 */
export class SharedThrottlerStorage implements ThrottlerStorage {
  private readonly logger = new Logger('RateLimit');
  private readonly shared: ThrottlerStorageRedisService;
  private fallingBack = false;

  constructor(
    redis: Redis,
    private readonly local: BoundedThrottlerStorage,
  ) {
    this.shared = new ThrottlerStorageRedisService(redis);
  }

  async increment(key: string, ttl: number, limit: number, blockDuration: number, throttlerName: string): Promise<ThrottlerStorageRecord> {
    try {
      const record = await this.shared.increment(key, ttl, limit, blockDuration > 0 ? blockDuration : ttl, throttlerName);
      if (this.fallingBack) {
        this.fallingBack = false;
        this.logger.log('rate limits are shared through Redis again');
      }
      return record;
    } catch (error) {
      if (!this.fallingBack) {
        this.fallingBack = true;
        this.logger.warn(`rate limits fall back to this instance's own counts: Redis failed (${(error as Error).name})`);
      }
      return this.local.increment(key, ttl, limit, blockDuration, throttlerName);
    }
  }
}
