import { effectiveInterval, formatInterval, isFresh, nextCheckAt, parseInterval } from './check-schedule';

describe('check schedule', () => {
  describe('parseInterval', () => {
    it.each([
      ['0', 0],
      ['30s', 30],
      ['15m', 900],
      ['6h', 21_600],
      ['1d', 86_400],
      ['90', 90],
      ['366d', 366 * 86_400],
    ])('reads %s as %d s', (text, seconds) => {
      expect(parseInterval(text)).toBe(seconds);
    });

    it.each(['', ' 6h', '6 h', '-1h', '1.5h', '6H', '06h', '1w', 'daily', '367d', '00'])('refuses %j', (text) => {
      expect(parseInterval(text)).toBeUndefined();
    });
  });

  it.each([
    [0, '0'],
    [30, '30s'],
    [90, '90s'],
    [900, '15m'],
    [21_600, '6h'],
    [86_400, '1d'],
    [90_000, '25h'],
  ])('prints %d s as %s, which reads back the same', (seconds, text) => {
    expect(formatInterval(seconds)).toBe(text);
    expect(parseInterval(text)).toBe(seconds);
  });

  it("takes the tenant's interval over the service's, 0 included", () => {
    expect(effectiveInterval(null, 86_400)).toBe(86_400);
    expect(effectiveInterval(undefined, 0)).toBe(0);
    expect(effectiveInterval(0, 86_400)).toBe(0);
    expect(effectiveInterval(21_600, 0)).toBe(21_600);
  });

  describe('nextCheckAt', () => {
    const at = new Date('2026-01-01T00:00:00.000Z');

    it('is a whole interval later without jitter', () => {
      expect(nextCheckAt(at, 3600, 0, () => 0.7).toISOString()).toBe('2026-01-01T01:00:00.000Z');
    });

    it('comes up to the jitter fraction early, never late', () => {
      expect(nextCheckAt(at, 3600, 0.1, () => 0).toISOString()).toBe('2026-01-01T01:00:00.000Z');
      expect(nextCheckAt(at, 3600, 0.1, () => 0.5).toISOString()).toBe('2026-01-01T00:57:00.000Z');
      expect(nextCheckAt(at, 3600, 0.1, () => 1).toISOString()).toBe('2026-01-01T00:54:00.000Z');
    });

    it('spreads checks made at one moment over the jitter window', () => {
      const dues = Array.from({ length: 1000 }, () => nextCheckAt(at, 3600, 0.1).getTime() - at.getTime());
      expect(Math.min(...dues)).toBeGreaterThanOrEqual(3240_000);
      expect(Math.max(...dues)).toBeLessThanOrEqual(3600_000);
      // Spread out, not clumped: the thousand land in well over a hundred distinct seconds of the six-minute window.
      expect(new Set(dues.map((d) => Math.floor(d / 1000))).size).toBeGreaterThan(150);
    });
  });

  describe('isFresh', () => {
    const at = new Date('2026-01-01T00:00:00.000Z');
    const later = (ms: number) => new Date(at.getTime() + ms);

    it('is false for an integration never checked', () => {
      expect(isFresh(null, 3600, 0.1, at)).toBe(false);
    });

    it('is true until the earliest a jittered due time can be', () => {
      expect(isFresh(at, 3600, 0.1, later(3239_999))).toBe(true);
      expect(isFresh(at, 3600, 0.1, later(3240_000))).toBe(false);
      expect(isFresh(at, 3600, 0, later(3599_999))).toBe(true);
    });
  });
});
