import { BoundedThrottlerStorage } from './bounded-throttler.storage';

const WINDOW_MS = 60_000;

describe('BoundedThrottlerStorage', () => {
  let clock: number;
  beforeEach(() => {
    clock = 1_700_000_000_000;
    jest.spyOn(Date, 'now').mockImplementation(() => clock);
  });
  afterEach(() => jest.restoreAllMocks());

  const hit = (storage: BoundedThrottlerStorage, key: string, limit = 2, blockDuration = 0) =>
    storage.increment(key, WINDOW_MS, limit, blockDuration, 'default');

  it('counts within a fixed window, refuses past the limit until the window ends, then starts again', async () => {
    const storage = new BoundedThrottlerStorage(10);
    expect(await hit(storage, 'a')).toEqual({ totalHits: 1, timeToExpire: 60, isBlocked: false, timeToBlockExpire: 0 });
    clock += 10_000;
    expect(await hit(storage, 'a')).toEqual({ totalHits: 2, timeToExpire: 50, isBlocked: false, timeToBlockExpire: 0 });
    expect(await hit(storage, 'a')).toEqual({ totalHits: 3, timeToExpire: 50, isBlocked: true, timeToBlockExpire: 50 });
    clock += 49_500;
    expect(await hit(storage, 'a')).toMatchObject({ isBlocked: true, timeToBlockExpire: 1 });
    clock += 500;
    expect(await hit(storage, 'a')).toEqual({ totalHits: 1, timeToExpire: 60, isBlocked: false, timeToBlockExpire: 0 });
  });

  it('keeps a block of its own duration when the throttler sets one', async () => {
    const storage = new BoundedThrottlerStorage(10);
    await hit(storage, 'a', 1, 120_000);
    expect(await hit(storage, 'a', 1, 120_000)).toMatchObject({ isBlocked: true, timeToBlockExpire: 120 });
    clock += WINDOW_MS;
    expect(await hit(storage, 'a', 1, 120_000)).toMatchObject({ isBlocked: true, timeToBlockExpire: 60 });
    clock += WINDOW_MS;
    expect(await hit(storage, 'a', 1, 120_000)).toMatchObject({ totalHits: 1, isBlocked: false });
  });

  it('holds at most maxKeys keys, dropping the oldest window first', async () => {
    const storage = new BoundedThrottlerStorage(3);
    for (const key of ['a', 'b', 'c']) {
      await hit(storage, key);
      clock += 1000;
    }
    await hit(storage, 'a'); // Still its first window: 'a' stays the oldest.
    await hit(storage, 'd');
    expect(storage.size).toBe(3);
    // 'a' was dropped: it starts again from one, while 'b' kept its count.
    expect(await hit(storage, 'b')).toMatchObject({ totalHits: 2 });
    expect(storage.size).toBe(3);
    expect(await hit(storage, 'a')).toMatchObject({ totalHits: 1 });
  });

  it('drops windows that are over as new ones start, so idle callers do not pile up', async () => {
    const storage = new BoundedThrottlerStorage(1000);
    for (let i = 0; i < 100; i++) await hit(storage, `old-${i}`);
    clock += WINDOW_MS;
    for (let i = 0; i < 50; i++) await hit(storage, `new-${i}`);
    expect(storage.size).toBe(50);
  });

  it('stays bounded under a flood of new keys', async () => {
    const storage = new BoundedThrottlerStorage(1000);
    for (let i = 0; i < 20_000; i++) await hit(storage, `ip:${i}`);
    expect(storage.size).toBe(1000);
  });
});
