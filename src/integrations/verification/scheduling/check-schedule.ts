import { parseSeconds } from '../../../config/config-error';
import { MAX_CHECK_INTERVAL_SECONDS } from '../../../config/verification.config';

/**
 * The arithmetic of scheduled re-verification (issue 15), pure so it is tested
 * on its own: which interval applies, when the next check is due, and how a
 * tenant's setting reads and prints.
 */

/** A tenant's `verify-interval` as written: `0` (off), or `30s`, `15m`, `6h`, `1d` (plain seconds too). */
export const INTERVAL_PATTERN = /^(0|[1-9]\d*[smhd]?)$/;
export const INTERVAL_MESSAGE = "verify-interval must be a duration like '30s', '15m', '6h' or '1d', '0' for off, at most 366d, or null for the service default";

/** Seconds of a tenant's `verify-interval`, or undefined when it is not one. */
export function parseInterval(text: string): number | undefined {
  if (!INTERVAL_PATTERN.test(text)) return undefined;
  const seconds = parseSeconds(text);
  return seconds === undefined || seconds > MAX_CHECK_INTERVAL_SECONDS ? undefined : seconds;
}

/** Seconds in the largest unit that divides them: 21600 → `6h`, 90 → `90s`, 0 → `0`. */
export function formatInterval(seconds: number): string {
  if (seconds === 0) return '0';
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3600],
    ['m', 60],
  ] as const) {
    if (seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}

/** The interval that applies to a tenant's integrations: its own setting, else the service's (0 = off). */
export function effectiveInterval(tenantSeconds: number | null | undefined, serviceSeconds: number): number {
  return tenantSeconds ?? serviceSeconds;
}

/**
 * When the check after one made at `checkedAt` is due: a whole interval later,
 * less up to `jitter` of it, so integrations checked together (a bulk import,
 * a restart after an outage) drift apart instead of coming due in one burst.
 * Never later than the interval: "older than the interval" stays a promise.
 */
export function nextCheckAt(checkedAt: Date, intervalSeconds: number, jitter: number, random: () => number = Math.random): Date {
  const early = jitter * Math.min(Math.max(random(), 0), 1);
  return new Date(checkedAt.getTime() + Math.round(intervalSeconds * 1000 * (1 - early)));
}

/**
 * Whether a check made at `checkedAt` is still recent enough that a due
 * integration needs no vendor call, only a new due time: it came up because
 * its tenant's interval changed, or a write made it due while a check on
 * save had just been made. The earliest a jittered due time can be is the
 * limit, so an integration due by jitter is always checked.
 */
export function isFresh(checkedAt: Date | null, intervalSeconds: number, jitter: number, now: Date): boolean {
  if (checkedAt === null) return false;
  return now.getTime() < checkedAt.getTime() + intervalSeconds * 1000 * (1 - jitter);
}
