import { MAX_RETRY_DELAY_MS, retryDelayMs } from './backoff';
import { eventMask, eventsOfMask } from './event-mask';
import { WEBHOOK_EVENT_TYPES } from './webhook-events';

describe('retry backoff', () => {
  it('doubles the ceiling per attempt, from the base', () => {
    const top = () => 0.999999;
    expect(retryDelayMs(1, 5000, top)).toBe(4999);
    expect(retryDelayMs(2, 5000, top)).toBe(9999);
    expect(retryDelayMs(4, 5000, top)).toBe(39999);
  });

  it('draws anywhere from zero (full jitter)', () => {
    expect(retryDelayMs(5, 5000, () => 0)).toBe(0);
    expect(retryDelayMs(5, 5000, () => 0.5)).toBe(40000);
  });

  it('never waits more than an hour, however many attempts failed', () => {
    expect(retryDelayMs(40, 5000, () => 0.999999)).toBeLessThan(MAX_RETRY_DELAY_MS);
    expect(retryDelayMs(1000, 5000, () => 0.999999)).toBeGreaterThan(MAX_RETRY_DELAY_MS - 10);
  });
});

describe('event mask', () => {
  it('gives each type its own bit and reads them back in order', () => {
    const all = eventMask(WEBHOOK_EVENT_TYPES);
    expect(all).toBe(0b111111);
    expect(eventsOfMask(all)).toEqual([...WEBHOOK_EVENT_TYPES]);
    expect(eventsOfMask(eventMask(['tenant.keys.rotated', 'integration.created']))).toEqual(['integration.created', 'tenant.keys.rotated']);
    expect(eventMask(['integration.deleted']) & eventMask(['integration.created'])).toBe(0);
  });
});
