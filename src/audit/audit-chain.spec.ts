import { chainHash, canonicalEvent, GENESIS_HASH, storable, storableOrNull, type ChainedEvent } from './audit-chain';

const event: ChainedEvent = {
  tenantId: 'acme',
  seq: 1,
  occurredAt: new Date('2026-11-28T10:00:00.123Z'),
  actorSub: 'alice',
  action: 'tenant.create',
  target: 'acme',
  outcome: 201,
  requestId: 'req-12345678',
  clientAddress: '127.0.0.1',
  userAgent: 'curl/8.5.0',
};

describe('the audit chain', () => {
  it('hashes the previous hash and the canonical event, with the time at millisecond precision', () => {
    expect(canonicalEvent(event)).toBe(
      '["audit-v1","acme",1,"2026-11-28T10:00:00.123Z","alice","tenant.create","acme",201,"req-12345678","127.0.0.1","curl/8.5.0"]',
    );
    expect(chainHash(GENESIS_HASH, event)).toMatch(/^[0-9a-f]{64}$/);
    expect(chainHash(GENESIS_HASH, event)).toBe(chainHash(GENESIS_HASH, { ...event }));
  });

  it('gives another hash when any field, the position or the previous hash differs', () => {
    const base = chainHash(GENESIS_HASH, event);
    const variants: Partial<ChainedEvent>[] = [
      { tenantId: 'acme2' },
      { seq: 2 },
      { occurredAt: new Date('2026-11-28T10:00:00.124Z') },
      { actorSub: 'mallory' },
      { action: 'tenant.delete' },
      { target: 'other' },
      { outcome: 200 },
      { requestId: null },
      { clientAddress: '10.0.0.1' },
      { userAgent: null },
    ];
    for (const variant of variants) expect(chainHash(GENESIS_HASH, { ...event, ...variant })).not.toBe(base);
    expect(chainHash('f'.repeat(64), event)).not.toBe(base);
  });

  it('keeps only what both engines store as given: no control characters, no lone surrogates, within the column', () => {
    expect(storable('a\nb\u0000c\u007f', 10)).toBe('a\uFFFDb\uFFFDc\uFFFD');
    expect(storable('x\uD800y\uDC00z', 10)).toBe('x\uFFFDy\uFFFDz');
    expect(storable('ok 😀 ok', 20)).toBe('ok 😀 ok');
    // Cut to the column without leaving half of a surrogate pair behind.
    expect(storable('ab😀', 3)).toBe('ab');
    expect(storable('abcdef', 4)).toBe('abcd');
    expect(storableOrNull('', 10)).toBeNull();
    expect(storableOrNull(undefined, 10)).toBeNull();
    expect(storableOrNull('ua', 10)).toBe('ua');
  });
});
