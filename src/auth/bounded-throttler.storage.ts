import type { ThrottlerStorage } from '@nestjs/throttler';

/** What `increment` answers (the package does not export the type by name). */
type ThrottlerStorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

interface Window {
  hits: number;
  /** When this window's count starts again from zero (ms since the epoch). */
  expiresAt: number;
  /** Until when the key is refused (0: not blocked). */
  blockedUntil: number;
}

/** Expired windows dropped from the front of the map per new window: keeps idle keys from piling up, O(1) a request. */
const SWEEP_PER_INSERT = 2;

const seconds = (ms: number): number => Math.max(0, Math.ceil(ms / 1000));

/**
 * Request counts for @nestjs/throttler, in memory, for at most `maxKeys`
 * callers. The default ThrottlerStorageService has no size bound and keeps a
 * timestamp per hit; this keeps one fixed window per key (a count and two
 * times), so a flood of new addresses or subjects costs bounded memory: past
 * `maxKeys`, the key whose window started first (the one closest to its reset)
 * is dropped.
 *
 * Each instance counts on its own. With REDIS_URL the counts are shared
 * through Redis instead (SharedThrottlerStorage), and this store is what an
 * instance falls back to while Redis is unreachable.
 */
export class BoundedThrottlerStorage implements ThrottlerStorage {
  /** Insertion order is window-start order: a key is moved to the end when its window starts again. */
  private readonly windows = new Map<string, Window>();

  constructor(private readonly maxKeys: number) {}

  get size(): number {
    return this.windows.size;
  }

  async increment(key: string, ttl: number, limit: number, blockDuration: number, _throttlerName: string): Promise<ThrottlerStorageRecord> {
    const now = Date.now();
    let window = this.windows.get(key);
    // A window starts again when it is over and no block holds, or when a block has just ended.
    if (window !== undefined && now >= window.blockedUntil && (now >= window.expiresAt || window.blockedUntil !== 0)) {
      this.windows.delete(key);
      window = undefined;
    }
    if (window === undefined) {
      this.makeRoom(now);
      window = { hits: 0, expiresAt: now + ttl, blockedUntil: 0 };
      this.windows.set(key, window);
    }
    if (now >= window.blockedUntil) {
      window.hits++;
      if (window.hits <= limit) {
        return { totalHits: window.hits, timeToExpire: seconds(window.expiresAt - now), isBlocked: false, timeToBlockExpire: 0 };
      }
      // Without a block duration of its own, the key waits for the end of its window.
      window.blockedUntil = blockDuration > 0 ? now + blockDuration : window.expiresAt;
    }
    return {
      totalHits: window.hits,
      timeToExpire: seconds(window.expiresAt - now),
      isBlocked: true,
      timeToBlockExpire: Math.max(1, seconds(window.blockedUntil - now)),
    };
  }

  private makeRoom(now: number): void {
    let swept = 0;
    for (const [key, window] of this.windows) {
      const over = now >= window.expiresAt && now >= window.blockedUntil;
      if (!over && this.windows.size < this.maxKeys) return;
      this.windows.delete(key);
      if (over && ++swept >= SWEEP_PER_INSERT && this.windows.size < this.maxKeys) return;
    }
  }
}
