import { sign } from 'jsonwebtoken';
import { issuerOf, RevokedClients, VerifiedTokenCache } from './service-tokens';
import type { Principal } from './scopes';

const principal = (subject: string): Principal => ({ subject, scopes: new Set(['integrations:read']), tenants: new Set(['a']), admin: false });

describe('issuerOf', () => {
  it("reads a JWS's iss without verifying it, and nothing from what is not one", () => {
    expect(issuerOf(sign({ sub: 's' }, 'k'.repeat(32), { issuer: 'https://me.example' }))).toBe('https://me.example');
    expect(issuerOf(sign({ sub: 's' }, 'k'.repeat(32)))).toBeUndefined();
    for (const garbage of ['', 'not-a-jwt', 'a.b.c', '..', `x.${Buffer.from('{"iss":1}').toString('base64url')}.y`, `x.${'A'.repeat(9000)}.y`]) {
      expect(issuerOf(garbage)).toBeUndefined();
    }
  });
});

describe('RevokedClients', () => {
  afterEach(() => jest.restoreAllMocks());

  it('holds a revocation until its tokens have expired, keeping the later end', () => {
    let now = 1_000_000;
    jest.spyOn(Date, 'now').mockImplementation(() => now);
    const revoked = new RevokedClients();
    revoked.add('ic-1', now + 1000);
    revoked.add('ic-1', now + 500);
    expect(revoked.has('ic-1')).toBe(true);
    expect(revoked.has('ic-2')).toBe(false);
    now += 999;
    expect(revoked.has('ic-1')).toBe(true);
    now += 1;
    expect(revoked.has('ic-1')).toBe(false);
    revoked.add('ic-3', now + 10);
    revoked.prune(now + 10);
    expect(revoked.size).toBe(0);
  });
});

describe('VerifiedTokenCache', () => {
  it('answers until the expiry it was given, and forgets everything on clear', () => {
    const cache = new VerifiedTokenCache();
    cache.set('t1', principal('a'), 2000);
    expect(cache.get('t1', 1999)).toEqual(principal('a'));
    expect(cache.get('t1', 2000)).toBeUndefined();
    expect(cache.get('t1', 1000)).toBeUndefined();
    cache.set('t2', principal('b'), 5000);
    cache.clear();
    expect(cache.get('t2', 1000)).toBeUndefined();
  });

  it('stays bounded, dropping the oldest entry first', () => {
    const cache = new VerifiedTokenCache();
    for (let i = 0; i < 10_050; i++) cache.set(`t${i}`, principal('a'), Number.MAX_SAFE_INTEGER);
    expect(cache.size).toBe(10_000);
    expect(cache.get('t0')).toBeUndefined();
    expect(cache.get('t10049')).toBeDefined();
  });
});
