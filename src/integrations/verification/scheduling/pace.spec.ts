import { Pace } from './pace';

describe('Pace (VERIFY_MAX_RATE)', () => {
  it('allows a burst, then starts at the rate, never more', () => {
    let now = 0;
    const pace = new Pace(10, 4, () => now);
    expect(pace.take(10)).toBe(4);
    expect(pace.take(1)).toBe(0);
    expect(pace.msUntilNext()).toBe(100);
    now += 250;
    expect(pace.take(10)).toBe(2);
    now += 10_000;
    // Idle for long: still no more than the burst at once.
    expect(pace.take(100)).toBe(4);
  });

  it('takes back what was not used, up to the burst', () => {
    let now = 0;
    const pace = new Pace(1, 4, () => now);
    expect(pace.take(4)).toBe(4);
    pace.giveBack(3);
    expect(pace.take(4)).toBe(3);
    pace.giveBack(10);
    expect(pace.take(10)).toBe(4);
    now += 500;
    expect(pace.take(1)).toBe(0);
    expect(pace.msUntilNext()).toBe(500);
  });

  it('over a minute, starts about rate x seconds', () => {
    let now = 0;
    const pace = new Pace(25, 4, () => now);
    let started = 0;
    for (; now < 60_000; now += 7) started += pace.take(4);
    expect(started).toBeGreaterThanOrEqual(25 * 60);
    expect(started).toBeLessThanOrEqual(25 * 60 + 4);
  });
});
