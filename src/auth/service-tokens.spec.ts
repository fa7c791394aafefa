import { sign } from 'jsonwebtoken';
import { claimsOf, issuerOf, RevokedClients, VerifiedTokenCache } from './service-tokens';
import type { Principal } from './scopes';

const principal = (subject: string): Principal => ({ subject, scopes: new Set(['integrations:read']), tenants: new Set(['a']), admin: false });

describe('issuerOf / claimsOf', () => {
  it("reads a JWS's iss and exp without verifying it, and nothing from what is not one", () => {
    expect(issuerOf(sign({ sub: 's' }, 'k'.repeat(32), { issuer: 'https://me.example' }))).toBe('https://me.example');
    expect(claimsOf(sign({ sub: 's', exp: 2_000_000_000 }, 'k'.repeat(32), { issuer: 'i' }))).toEqual({ iss: 'i', exp: 2_000_000_000 });
    const odd = `x.${Buffer.from(JSON.stringify({ iss: 7, exp: 'soon' })).toString('base64url')}.y`;
    expect(claimsOf(odd)).toEqual({});
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
  it('answers until the expiry it was given, says whether the token is revocable, and forgets everything on clear', () => {
    const cache = new VerifiedTokenCache();
    cache.set('t1', principal('a'), 2000, true);
    expect(cache.get('t1', 1999)).toEqual({ principal: principal('a'), expiresAt: 2000, revocable: true });
    expect(cache.get('t1', 2000)).toBeUndefined();
    expect(cache.get('t1', 1000)).toBeUndefined();
    cache.set('t2', principal('b'), 5000, false);
    expect(cache.get('t2', 1000)?.revocable).toBe(false);
    cache.clear();
    expect(cache.get('t2', 1000)).toBeUndefined();
  });

  it('stays bounded, dropping the oldest entry first', () => {
    const cache = new VerifiedTokenCache();
    for (let i = 0; i < 5000; i++) cache.set(`t${i}`, principal('a'), Number.MAX_SAFE_INTEGER, false);
    expect(cache.size).toBe(4096);
    expect(cache.get('t0')).toBeUndefined();
    expect(cache.get('t4999')).toBeDefined();
  });
});
