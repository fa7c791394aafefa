/**
 * Per vendor host: how many checks may run at once, and how long to leave
 * the host alone after it answered 429, a 5xx, or not at all (issue 15:
 * "a tenant with 10,000 integrations does not hammer one vendor"). One per
 * instance, in memory: a host's trouble is seen by each instance on its own
 * calls, and VERIFY_HOST_CONCURRENCY is a per-instance figure.
 */
export interface BackoffPolicy {
  /** The first pause after trouble; doubled for each further one in a row. */
  baseMs: number;
  /** The longest pause exponential backoff reaches. */
  maxMs: number;
  /** The longest Retry-After honoured (a vendor asking for a week is asked again sooner). */
  maxRetryAfterMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 1000, maxMs: 5 * 60_000, maxRetryAfterMs: 6 * 3600_000 };

interface HostState {
  running: number;
  /** Trouble answers in a row; reset by any answer that is not trouble. */
  failures: number;
  /** Epoch ms before which no check starts on this host. */
  pausedUntil: number;
}

export class HostLimiter {
  private readonly hosts = new Map<string, HostState>();

  constructor(
    private readonly perHost: number,
    private readonly policy: BackoffPolicy = DEFAULT_BACKOFF,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes a slot on `host` if it has one free and is not paused; the caller must `release` it. */
  tryAcquire(host: string): boolean {
    const state = this.state(host);
    if (state.running >= this.perHost || state.pausedUntil > this.now()) return false;
    state.running++;
    return true;
  }

  /**
   * Gives the slot back with what the host did: answered (any answer that
   * says something about the credentials, ok or refused), or trouble, with
   * the Retry-After it sent if any. Returns when the host may be tried again.
   */
  release(host: string, outcome: { trouble: false } | { trouble: true; retryAfterMs?: number }): number {
    const state = this.state(host);
    state.running = Math.max(0, state.running - 1);
    if (!outcome.trouble) {
      state.failures = 0;
      return this.now();
    }
    state.failures++;
    const exponential = Math.min(this.policy.baseMs * 2 ** (state.failures - 1), this.policy.maxMs);
    const pause = outcome.retryAfterMs === undefined ? exponential : Math.min(outcome.retryAfterMs, this.policy.maxRetryAfterMs);
    // A later answer may only lengthen a pause another check started, never cut it short.
    state.pausedUntil = Math.max(state.pausedUntil, this.now() + pause);
    return state.pausedUntil;
  }

  /** Epoch ms until which `host` is paused, or undefined when it is not. */
  pausedUntil(host: string): number | undefined {
    const until = this.hosts.get(host)?.pausedUntil ?? 0;
    return until > this.now() ? until : undefined;
  }

  private state(host: string): HostState {
    let state = this.hosts.get(host);
    if (state === undefined) {
      state = { running: 0, failures: 0, pausedUntil: 0 };
      this.hosts.set(host, state);
    }
    return state;
  }
}

/** A Retry-After header (RFC 9110 §10.2.3: seconds, or an HTTP date) in ms from `now`; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  if (Number.isNaN(date) || !/[A-Za-z]/.test(text)) return undefined;
  return Math.max(0, date - now);
}
