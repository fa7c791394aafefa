import { HostLimiter, parseRetryAfter } from './host-limiter';

describe('HostLimiter', () => {
  let now = 1_000_000;
  const clock = () => now;
  const policy = { baseMs: 1000, maxMs: 8000, maxRetryAfterMs: 60_000 };
  beforeEach(() => {
    now = 1_000_000;
  });

  it('lets at most the per-host number of checks run on one host, others unaffected', () => {
    const limiter = new HostLimiter(2, policy, clock);
    expect(limiter.tryAcquire('api.twilio.com')).toBe(true);
    expect(limiter.tryAcquire('api.twilio.com')).toBe(true);
    expect(limiter.tryAcquire('api.twilio.com')).toBe(false);
    expect(limiter.tryAcquire('api.sendgrid.com')).toBe(true);
    limiter.release('api.twilio.com', { trouble: false });
    expect(limiter.tryAcquire('api.twilio.com')).toBe(true);
  });

  it('backs a troubled host off exponentially, up to the maximum, and forgets it after a good answer', () => {
    const limiter = new HostLimiter(1, policy, clock);
    const pauses: number[] = [];
    for (let i = 0; i < 5; i++) {
      expect(limiter.tryAcquire('h')).toBe(true);
      const until = limiter.release('h', { trouble: true });
      pauses.push(until - now);
      expect(limiter.tryAcquire('h')).toBe(false);
      expect(limiter.pausedUntil('h')).toBe(until);
      now = until;
    }
    expect(pauses).toEqual([1000, 2000, 4000, 8000, 8000]);
    expect(limiter.tryAcquire('h')).toBe(true);
    limiter.release('h', { trouble: false });
    expect(limiter.tryAcquire('h')).toBe(true);
    expect(limiter.release('h', { trouble: true }) - now).toBe(1000);
  });

  it('honours Retry-After, capped', () => {
    const limiter = new HostLimiter(2, policy, clock);
    limiter.tryAcquire('h');
    expect(limiter.release('h', { trouble: true, retryAfterMs: 30_000 }) - now).toBe(30_000);
    limiter.tryAcquire('other');
    expect(limiter.release('other', { trouble: true, retryAfterMs: 3_600_000 }) - now).toBe(60_000);
  });

  it('never shortens a pause another check started', () => {
    const limiter = new HostLimiter(2, policy, clock);
    limiter.tryAcquire('h');
    limiter.tryAcquire('h');
    const first = limiter.release('h', { trouble: true, retryAfterMs: 20_000 });
    expect(limiter.release('h', { trouble: true, retryAfterMs: 1000 })).toBe(first);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  it('reads seconds and HTTP dates', () => {
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 23:00:00 GMT', now)).toBe(0);
  });
  it('ignores what it cannot read', () => {
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter('-5', now)).toBeUndefined();
  });
});
