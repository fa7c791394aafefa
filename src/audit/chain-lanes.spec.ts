import { type ChainHead, ChainLanes } from './chain-lanes';

const head = (seq: number): ChainHead => ({ seq, hash: String(seq).repeat(64).slice(0, 64), occurredAt: new Date(seq) });

describe('ChainLanes', () => {
  const lanes = () => new ChainLanes({ waitMs: 50, leaseMs: 200, maxLanes: 3 });

  it('moves the cached head only when the transaction that appended commits', async () => {
    const l = lanes();
    const tx1 = {};
    expect(await l.acquire('t', tx1)).toEqual({ guarded: true, head: undefined });
    l.learned('t', tx1, head(4));
    l.pendingIn('t', tx1, head(5));
    // Re-entrant for the same transaction, which sees its own pending head.
    expect(await l.acquire('t', tx1)).toEqual({ guarded: true, head: head(5) });
    l.pendingIn('t', tx1, head(6));
    l.transactionEnded(tx1, false);
    // Rolled back: the next append links to the last committed head, so no gap.
    const tx2 = {};
    expect(await l.acquire('t', tx2)).toEqual({ guarded: true, head: head(4) });
    l.pendingIn('t', tx2, head(5));
    l.transactionEnded(tx2, true);
    const own = {};
    expect(await l.acquire('t', own)).toEqual({ guarded: true, head: head(5) });
    l.committedNow('t', own, head(6));
    expect((await l.acquire('t', {})).head).toEqual(head(6));
  });

  it('hands the lane to the next waiter in order; a waiter gives up after waitMs and goes unguarded', async () => {
    const l = lanes();
    const first = {};
    await l.acquire('t', first);
    l.learned('t', first, head(1));
    const second = l.acquire('t', {});
    const late = l.acquire('t', {});
    l.committedNow('t', first, head(2));
    expect(await second).toEqual({ guarded: true, head: head(2) });
    // `second` holds the lane and never lets go: `late` waits 50 ms, then appends on its own reading of the table.
    expect(await late).toEqual({ guarded: false, head: undefined });
  });

  it('frees a lane whose transaction never says how it ended, forgetting the head', async () => {
    const l = lanes();
    const lost = {};
    await l.acquire('t', lost);
    l.learned('t', lost, head(1));
    l.pendingIn('t', lost, head(2));
    const next = await l.acquire('t', {});
    // Granted after the lease (200 ms), before that by the 50 ms wait: either way without a cached head.
    expect(next.head).toBeUndefined();
  });

  it('forgets the head of a chain after a failed append, and after a savepoint rolled back', async () => {
    const l = lanes();
    const own = {};
    await l.acquire('t', own);
    l.learned('t', own, head(3));
    l.abandon('t', own);
    expect((await l.acquire('t', {})).head).toBeUndefined();

    const m = lanes();
    const tx = {};
    await m.acquire('u', tx);
    m.learned('u', tx, head(1));
    m.pendingIn('u', tx, head(2));
    m.partlyRolledBack(tx);
    m.transactionEnded(tx, true);
    expect((await m.acquire('u', {})).head).toBeUndefined();
  });

  it('keeps at most maxLanes idle lanes, dropping the least recently used', async () => {
    const l = lanes();
    for (const chain of ['a', 'b', 'c', 'd', 'e']) {
      const own = {};
      await l.acquire(chain, own);
      l.committedNow(chain, own, head(1));
    }
    expect(l.size).toBeLessThanOrEqual(3);
    // 'e' was used last and is still known.
    expect((await l.acquire('e', {})).head).toEqual(head(1));
  });
});
