import { Inject, Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { CONFIGURATION, type Configuration } from '../config/configuration';
import { dataKeyAad, open, parseEnvelope, seal } from './envelope';
import type { MasterKeyRing } from './master-key-ring';

/** A tenant's data key as stored: wrapped by a master key, with that key's id beside it. */
export interface WrappedDataKey {
  wrapped: string;
  masterKeyId: string;
}

export class DataKeyUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DataKeyUnavailableError';
  }
}

/**
 * Envelope encryption, first level: each tenant has a random 256-bit data key
 * (DEK) that encrypts its secrets, itself wrapped (AES-256-GCM, AAD = tenant id)
 * by the active master key. Rotating a master key re-wraps one small value per
 * tenant instead of re-encrypting every secret.
 *
 * Unwrapped keys are cached in memory for DATA_KEY_CACHE_TTL_MS, keyed by tenant
 * and data-key version: a re-encryption bumps the version, so a stale key is
 * never used, and a re-wrap leaves the key itself unchanged.
 */
@Injectable()
export class DataKeyService {
  private readonly ring: MasterKeyRing;
  private readonly ttlMs: number;
  private readonly maxCached: number;
  private readonly cache = new Map<string, { key: Buffer; expiresAt: number }>();

  constructor(@Inject(CONFIGURATION) config: Configuration) {
    this.ring = config.crypto.ring;
    this.ttlMs = config.crypto.dataKeyCacheTtlMs;
    this.maxCached = config.crypto.dataKeyCacheSize;
  }

  get activeMasterKeyId(): string {
    return this.ring.active.id;
  }

  get masterKeyIds(): string[] {
    return this.ring.ids;
  }

  /** A fresh data key for a tenant, and its wrapped form to store. */
  generate(tenantId: string): { key: Buffer } & WrappedDataKey {
    const key = randomBytes(32);
    return { key, ...this.wrap(tenantId, key) };
  }

  wrap(tenantId: string, key: Buffer): WrappedDataKey {
    const master = this.ring.active;
    return { wrapped: seal(master.key, master.id, key, dataKeyAad(tenantId)), masterKeyId: master.id };
  }

  /** The same data key wrapped by the active master key (rotation's cheap path). */
  rewrap(tenantId: string, wrapped: string): WrappedDataKey {
    return this.wrap(tenantId, this.unwrapUncached(tenantId, wrapped));
  }

  unwrap(tenantId: string, dataKeyVersion: number, wrapped: string): Buffer {
    const cacheKey = `${tenantId}\0${dataKeyVersion}`;
    const now = Date.now();
    const hit = this.cache.get(cacheKey);
    if (hit !== undefined && hit.expiresAt > now) return hit.key;
    const key = this.unwrapUncached(tenantId, wrapped);
    if (this.ttlMs > 0 && this.maxCached > 0) {
      if (this.cache.size >= this.maxCached) this.evictOldest();
      this.cache.delete(cacheKey);
      this.cache.set(cacheKey, { key, expiresAt: now + this.ttlMs });
    }
    return key;
  }

  /** Drops a tenant's cached keys (after its key is destroyed or replaced). */
  forget(tenantId: string): void {
    for (const cacheKey of this.cache.keys()) {
      if (cacheKey.startsWith(`${tenantId}\0`)) this.cache.delete(cacheKey);
    }
  }

  private unwrapUncached(tenantId: string, wrapped: string): Buffer {
    const envelope = parseEnvelope(wrapped);
    const master = this.ring.find(envelope.keyId);
    if (master === undefined) {
      throw new DataKeyUnavailableError(
        `the data key of tenant '${tenantId}' is wrapped by master key '${envelope.keyId}', which is not in ENCRYPTION_KEYS`,
      );
    }
    return open(master.key, envelope, dataKeyAad(tenantId));
  }

  private evictOldest(): void {
    const oldest = this.cache.keys().next();
    if (!oldest.done) this.cache.delete(oldest.value);
  }
}
