import { resolveBaseUrl } from '../integrations/verification/verifier';
import { DEFAULT_VERIFY_TIMEOUT_MS } from '../integrations/verification/vendor-http.client';
import { VENDORS } from '../integrations/vendors/registry';
import { type Env, ConfigError, parseSeconds, readBool, readInt, readVar } from './config-error';

export interface VerificationConfig {
  /** Deadline of one vendor call, retry included (VendorHttpClient). */
  timeoutMs: number;
  /** Verify the credentials of every POST/PATCH before storing them (422 when the vendor rejects them). */
  onSave: boolean;
  /** Vendor type → base URL without a trailing slash (the real vendor unless its variable says otherwise). */
  baseUrls: Readonly<Record<string, string>>;
  /** Scheduled re-verification (issue 15). */
  schedule: CheckScheduleConfig;
}

/** How the service re-verifies stored credentials on its own (issue 15). */
export interface CheckScheduleConfig {
  /** VERIFY_INTERVAL in seconds: how old a check may get before the next; 0 = off unless a tenant sets its own. */
  intervalSeconds: number;
  /** VERIFY_CONCURRENCY: checks in flight per instance. */
  concurrency: number;
  /** VERIFY_HOST_CONCURRENCY: checks in flight per vendor host per instance. */
  hostConcurrency: number;
  /** VERIFY_MAX_RATE: scheduled checks an instance starts per second at most (a backlog drains at this pace). */
  maxRate: number;
  /** VERIFY_TICK_MS: how often an instance looks for due integrations. */
  tickMs: number;
  /** VERIFY_LEASE in ms: how long a claimed integration stays with the instance that claimed it (a crashed one's claims expire). */
  leaseMs: number;
  /** VERIFY_JITTER: the next check comes up to this fraction of the interval early, so checks made together spread out. */
  jitter: number;
}

/**
 * Checks started per second per instance by default: the pace at which the
 * API's GET p99 stayed within 1.5x of idle while a 10,000-check backlog ran
 * (bench:checks on 2 cores: x1.3 at 5/s, x1.7-1.9 at 10-25/s, x3-4 unpaced).
 * 10,000 due at once drain in about 33 minutes; a million integrations on a
 * 24 h interval need 12 a second in all, so three instances, or a higher
 * VERIFY_MAX_RATE where the API has headroom.
 */
export const DEFAULT_MAX_CHECK_RATE = 5;

/** The longest interval a setting may name: a year. */
export const MAX_CHECK_INTERVAL_SECONDS = 366 * 86_400;
const DAY_SECONDS = 86_400;

export function loadVerificationConfig(env: Env): VerificationConfig {
  const baseUrls: Record<string, string> = {};
  for (const vendor of VENDORS) {
    const url = resolveBaseUrl(vendor, env);
    checkBaseUrl(vendor.baseUrlEnv, url);
    baseUrls[vendor.type] = url;
  }
  const timeoutMs = readInt(env, 'VERIFY_TIMEOUT_MS', DEFAULT_VERIFY_TIMEOUT_MS, 100, 120_000);
  return {
    timeoutMs,
    onSave: readBool(env, 'VERIFY_ON_SAVE', false),
    baseUrls,
    schedule: loadCheckScheduleConfig(env, timeoutMs),
  };
}

function loadCheckScheduleConfig(env: Env, timeoutMs: number): CheckScheduleConfig {
  const production = readVar(env, 'NODE_ENV') === 'production';
  const intervalSeconds = readInterval(env, 'VERIFY_INTERVAL', production ? DAY_SECONDS : 0);
  // A lease shorter than a vendor call could end while the check still runs, and another instance would check again.
  const minLeaseSeconds = Math.ceil((2 * timeoutMs) / 1000) + 1;
  const leaseSeconds = readInterval(env, 'VERIFY_LEASE', Math.max(60, minLeaseSeconds));
  if (leaseSeconds < minLeaseSeconds) {
    throw new ConfigError(
      `VERIFY_LEASE must be at least ${minLeaseSeconds}s, twice VERIFY_TIMEOUT_MS and a second (got '${readVar(env, 'VERIFY_LEASE')}'); raise it or lower VERIFY_TIMEOUT_MS`,
    );
  }
  return {
    intervalSeconds,
    concurrency: readInt(env, 'VERIFY_CONCURRENCY', 4, 1, 256),
    hostConcurrency: readInt(env, 'VERIFY_HOST_CONCURRENCY', 2, 1, 256),
    maxRate: readInt(env, 'VERIFY_MAX_RATE', DEFAULT_MAX_CHECK_RATE, 1, 10_000),
    tickMs: readInt(env, 'VERIFY_TICK_MS', 1000, 50, 3_600_000),
    leaseMs: leaseSeconds * 1000,
    jitter: readFraction(env, 'VERIFY_JITTER', 0.1),
  };
}

/** `0` (off), plain seconds, or `30s`, `15m`, `6h`, `1d`; at most a year. */
function readInterval(env: Env, name: string, fallback: number): number {
  const raw = readVar(env, name);
  if (raw === undefined) return fallback;
  const seconds = parseSeconds(raw);
  if (seconds === undefined || seconds > MAX_CHECK_INTERVAL_SECONDS) {
    throw new ConfigError(`${name} must be a duration like 30s, 15m, 6h or 1d (0 turns it off), at most 366d (got '${raw}')`);
  }
  return seconds;
}

function readFraction(env: Env, name: string, fallback: number): number {
  const raw = readVar(env, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!/^\d*\.?\d+$/.test(raw) || !(value >= 0 && value < 1)) {
    throw new ConfigError(`${name} must be a fraction from 0 up to (not including) 1, like 0.1 (got '${raw}')`);
  }
  return value;
}

/**
 * A base URL is where credentials are sent, so it must be a plain http(s) origin
 * with at most a path: no user info (it would be logged and shown in messages),
 * no query or fragment (paths are appended to it).
 */
function checkBaseUrl(name: string, value: string): void {
  const expected = `${name} must be an http(s) URL like https://api.example.com`;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`${expected} (got '${value}')`);
  }
  if (url.username !== '' || url.password !== '') throw new ConfigError(`${expected}, without user name or password in it`);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(`${expected} (got the scheme '${url.protocol}')`);
  if (url.search !== '' || url.hash !== '') throw new ConfigError(`${expected}, without query or fragment (got '${value}')`);
}
