import 'reflect-metadata';
import { Test } from '@nestjs/testing';
import { CONFIGURATION, type Configuration } from '../config/configuration';
import { DataKeyService } from './data-key.service';
import { MasterKeyRing } from './master-key-ring';

async function service(ttlMs: number, size: number): Promise<DataKeyService> {
  const config = {
    crypto: { ring: MasterKeyRing.parse(`k1:${Buffer.alloc(32, 1).toString('base64')}`), dataKeyCacheTtlMs: ttlMs, dataKeyCacheSize: size },
  } as unknown as Configuration;
  const moduleRef = await Test.createTestingModule({ providers: [DataKeyService, { provide: CONFIGURATION, useValue: config }] }).compile();
  return moduleRef.get(DataKeyService);
}

describe('DataKeyService', () => {
  it('wraps a fresh key that only the same tenant can unwrap', async () => {
    const keys = await service(60_000, 10);
    const { key, wrapped, masterKeyId } = keys.generate('acme');
    expect(masterKeyId).toBe('k1');
    expect(keys.unwrap('acme', wrapped).equals(key)).toBe(true);
    expect(() => keys.unwrap('other', wrapped)).toThrow(/failed authentication/);
  });

  it('caches keys per tenant by version, knows which is current, and forgets them', async () => {
    const keys = await service(60_000, 10);
    const v1 = Buffer.alloc(32, 1);
    const v2 = Buffer.alloc(32, 2);
    keys.remember('acme', { version: 1, key: v1 }, true);
    keys.remember('acme', { version: 2, key: v2 }, true);
    expect(keys.cached('acme')).toEqual({ version: 2, key: v2 });
    expect(keys.cached('acme', 1)).toEqual({ version: 1, key: v1 });
    expect(keys.cached('acme', 3)).toBeUndefined();
    keys.forget('acme');
    expect(keys.cached('acme', 2)).toBeUndefined();
  });

  it('holds at most DATA_KEY_CACHE_SIZE tenants, dropping the oldest, and nothing past the TTL', async () => {
    const keys = await service(60_000, 2);
    for (const tenant of ['a', 'b', 'c']) keys.remember(tenant, { version: 1, key: Buffer.alloc(32) }, true);
    expect(['a', 'b', 'c'].map((tenant) => keys.cached(tenant) !== undefined)).toEqual([false, true, true]);

    const expiring = await service(1, 10);
    expiring.remember('a', { version: 1, key: Buffer.alloc(32) }, true);
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(expiring.cached('a')).toBeUndefined();
  });
});
