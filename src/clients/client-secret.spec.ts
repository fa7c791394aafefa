import { dummyHash, hashSecret, newClientId, newClientSecret, SCRYPT_COST, verifySecret } from './client-secret';

/** A cheap cost for the tests that do not measure anything. */
const CHEAP = { ln: 10, r: 8, p: 1 };

describe('client secrets', () => {
  it('makes ids that fit the id rules and secrets of 256 random bits', () => {
    expect(newClientId()).toMatch(/^ic-[0-9a-f]{24}$/);
    const secret = newClientSecret();
    expect(secret).toMatch(/^ics-[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(secret.slice(4), 'base64url')).toHaveLength(32);
    expect(new Set(Array.from({ length: 100 }, newClientSecret)).size).toBe(100);
  });

  it('stores scrypt with its parameters and salt, and verifies only the right secret', async () => {
    const secret = newClientSecret();
    const stored = await hashSecret(secret, CHEAP);
    expect(stored).toMatch(/^\$scrypt\$ln=10,r=8,p=1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(stored).not.toContain(secret.slice(4));
    expect(await verifySecret(secret, stored)).toBe(true);
    expect(await verifySecret(`${secret}x`, stored)).toBe(false);
    expect(await verifySecret('', stored)).toBe(false);
    // Same secret, another salt.
    expect(await hashSecret(secret, CHEAP)).not.toBe(stored);
  });

  it('refuses stored strings it cannot read, or whose cost is out of bounds, without hashing', async () => {
    const secret = newClientSecret();
    const stored = await hashSecret(secret, CHEAP);
    for (const broken of ['', 'plain', stored.replace('$scrypt$', '$argon2$'), stored.replace('ln=10', 'ln=30'), stored.replace('r=8', 'r=0'), stored.slice(0, -1)]) {
      expect(await verifySecret(secret, broken)).toBe(false);
    }
  });

  it('uses the interactive scrypt cost by default, and the dummy hash has it too', async () => {
    expect(SCRYPT_COST).toEqual({ ln: 14, r: 8, p: 1 });
    const dummy = await dummyHash();
    expect(dummy).toMatch(/^\$scrypt\$ln=14,r=8,p=1\$/);
    expect(await dummyHash()).toBe(dummy);
    expect(await verifySecret(newClientSecret(), dummy)).toBe(false);
  });
});
