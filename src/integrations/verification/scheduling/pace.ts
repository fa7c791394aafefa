/**
 * How many scheduled checks an instance may start per second
 * (VERIFY_MAX_RATE): a token bucket, refilled at `perSecond` and holding at
 * most `burst`. Checks are background work on the instance that serves
 * requests; a backlog (10,000 integrations due at once after a bulk import,
 * or when checks are turned on) drains at this pace instead of taking every
 * cycle the API needs (bench/credential-checks.ts measures both).
 */
export class Pace {
  private tokens: number;
  private at: number;

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = burst;
    this.at = now();
  }

  /** Takes up to `wanted` starts allowed now, and answers how many it took. */
  take(wanted: number): number {
    this.refill();
    const taken = Math.max(0, Math.min(wanted, Math.floor(this.tokens)));
    this.tokens -= taken;
    return taken;
  }

  /** Gives back starts taken but not used (fewer integrations were due than claimed for). */
  giveBack(count: number): void {
    this.tokens = Math.min(this.burst, this.tokens + count);
  }

  /** Milliseconds until the next start is allowed (0 when one is now). */
  msUntilNext(): number {
    this.refill();
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) / this.perSecond) * 1000);
  }

  private refill(): void {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) / 1000) * this.perSecond);
    this.at = now;
  }
}
