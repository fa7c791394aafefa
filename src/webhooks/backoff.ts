/** No retry waits longer than this, however many attempts failed. */
export const MAX_RETRY_DELAY_MS = 3_600_000;

/**
 * The wait before the next attempt after `attempts` failed ones: exponential
 * backoff with full jitter (a uniform draw from 0 to base·2^(attempts-1),
 * capped at an hour), so endpoints that come back are not hit by every
 * instance's retries in step. `random` is injectable for tests.
 */
export function retryDelayMs(attempts: number, baseMs: number, random: () => number = Math.random): number {
  const exponent = Math.min(Math.max(attempts - 1, 0), 30);
  const ceiling = Math.min(baseMs * 2 ** exponent, MAX_RETRY_DELAY_MS);
  return Math.floor(random() * ceiling);
}
