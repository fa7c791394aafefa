import { Inject, Injectable, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import {
  InjectThrottlerOptions,
  InjectThrottlerStorage,
  ThrottlerGuard,
  type ThrottlerLimitDetail,
  type ThrottlerModuleOptions,
  type ThrottlerStorage,
} from '@nestjs/throttler';
import { RateLimitedError } from '../common/errors/domain-errors';
import type { AppConfig } from '../config/app.config';
import { CONFIGURATION, type Configuration } from '../config/configuration';
import type { RedisConnections } from '../redis/redis.module';
import { BoundedThrottlerStorage } from './bounded-throttler.storage';
import { SharedThrottlerStorage } from './shared-throttler.storage';
import type { GuardedRequest } from './jwt-auth.guard';
import { RouteAccessReader } from './route-access';

/**
 * RATE_LIMIT_MAX requests per RATE_LIMIT_WINDOW_MS for each caller, across all
 * routes. A window is fixed: it starts with the caller's first request, and
 * past the limit the caller waits for its end (blockDuration 0). The counts
 * live in a size-bounded store of this instance, or with REDIS_URL in Redis,
 * shared by every instance (falling back to the local store while Redis is
 * down); the guard stays as it is.
 */
export function rateLimitOptions(app: AppConfig, redis?: RedisConnections): ThrottlerModuleOptions {
  const local = new BoundedThrottlerStorage(app.rateLimitCacheSize);
  return {
    throttlers: [{ name: 'default', limit: app.rateLimitMax, ttl: app.rateLimitWindowMs, blockDuration: 0 }],
    storage: redis?.client ? new SharedThrottlerStorage(redis.client, local) : local,
    // No X-RateLimit-* on every answer (the API never sent them); a 429 carries Retry-After.
    setHeaders: false,
  };
}

/**
 * Second of the global guards (see AppModule), after JwtAuthGuard: a caller is
 * its verified token subject, or without one its address, so a made-up bearer
 * string shares the budget of the address it comes from. Public routes (health)
 * are not limited. Only the throttler's documented extension points are used.
 */
@Injectable()
export class RateLimitGuard extends ThrottlerGuard {
  private readonly enabled: boolean;

  constructor(
    @InjectThrottlerOptions() options: ThrottlerModuleOptions,
    @InjectThrottlerStorage() storage: ThrottlerStorage,
    reflector: Reflector,
    private readonly routes: RouteAccessReader,
    @Inject(CONFIGURATION) config: Configuration,
  ) {
    super(options, storage, reflector);
    this.enabled = config.app.rateLimitMax > 0;
  }

  protected override async shouldSkip(context: ExecutionContext): Promise<boolean> {
    return !this.enabled || this.routes.of(context).isPublic;
  }

  protected override async getTracker(request: Record<string, unknown>): Promise<string> {
    const user = (request as unknown as GuardedRequest).user;
    // IPv6 addresses are grouped by subnet (the throttler's default tracker), or one client could rotate through its /64.
    return user ? `sub:${user.subject}` : `ip:${await super.getTracker(request)}`;
  }

  /** One budget per caller for the whole API, not one per route (the default key also hashes every request). */
  protected override generateKey(_context: ExecutionContext, tracker: string, throttlerName: string): string {
    return `${throttlerName}:${tracker}`;
  }

  protected override async throwThrottlingException(_context: ExecutionContext, detail: ThrottlerLimitDetail): Promise<void> {
    throw new RateLimitedError(detail.timeToBlockExpire);
  }
}
