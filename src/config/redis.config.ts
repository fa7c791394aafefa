import { type Env, ConfigError, readVar } from './config-error';

export interface RedisConfig {
  /** Unset: every instance keeps its own rate-limit counts and key cache (one instance, or limits per instance). */
  url?: string;
  /** Put before every key and channel name, so several deployments (or test runs) can share one Redis. */
  keyPrefix: string;
}

/**
 * REDIS_URL (redis://[:password@]host:6379[/db] or rediss://…) makes the state
 * that must be the same on every instance shared: rate-limit counts, and the
 * invalidation of cached data keys after a rotation (issue 16).
 */
export function loadRedisConfig(env: Env): RedisConfig {
  const url = readVar(env, 'REDIS_URL');
  const keyPrefix = readVar(env, 'REDIS_KEY_PREFIX') ?? 'integrations-api:';
  if (!/^[A-Za-z0-9:_.-]{1,100}$/.test(keyPrefix)) {
    throw new ConfigError(`REDIS_KEY_PREFIX must be 1 to 100 letters, digits or ':_.-' (got '${keyPrefix.slice(0, 100)}')`);
  }
  if (url === undefined) return { keyPrefix };
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  // Never echo the value: it may carry the Redis password. The scheme is checked as written, in lower case: ioredis
  // turns TLS on only for a URL that starts with `rediss://`, so `REDISS://…` would send the password in clear.
  if (parsed === undefined || !/^rediss?:\/\//.test(url) || parsed.hostname === '') {
    throw new ConfigError('REDIS_URL must be a URL like redis://127.0.0.1:6379 or rediss://:password@host:6380/0 (the value given is not)');
  }
  // ioredis reads the path with parseInt: `/db1` would silently be database 0, `/1x` database 1.
  if (!/^(\/\d*)?$/.test(parsed.pathname)) {
    throw new ConfigError(
      'REDIS_URL may end only with a database number, like redis://127.0.0.1:6379/0 (the value given has another path)',
    );
  }
  return { url, keyPrefix };
}
