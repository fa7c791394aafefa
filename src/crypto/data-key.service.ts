import { Inject, Injectable, Logger, type OnModuleInit, Optional } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { CONFIGURATION, type Configuration } from '../config/configuration';
import { RedisConnections } from '../redis/redis.module';
import { dataKeyAad, open, parseEnvelope, seal } from './envelope';
import type { MasterKeyRing } from './master-key-ring';

/** A tenant's data key as stored: wrapped by a master key, with that key's id beside it. */
export interface WrappedDataKey {
  wrapped: string;
  masterKeyId: string;
}

/** One unwrapped data key and the version secrets name it by. */
export interface DataKey {
  version: number;
  key: Buffer;
}

export class DataKeyUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DataKeyUnavailableError';
  }
}

/** A tenant's unwrapped keys by version, and which version is current (when known). */
interface CacheEntry {
  current?: number;
  keys: Map<number, Buffer>;
  expiresAt: number;
}

/**
 * Envelope encryption, first level: each tenant has a random 256-bit data key
 * (DEK) that encrypts its secrets, itself wrapped (AES-256-GCM, AAD = tenant id)
 * by the active master key. Rotating a master key re-wraps one small value per
 * tenant instead of re-encrypting every secret. No database here: the tenants
 * module stores the wrapped keys and asks this service to wrap and unwrap them.
 *
 * Unwrapped keys are cached in memory for DATA_KEY_CACHE_TTL_MS, one entry per
 * tenant (DATA_KEY_CACHE_SIZE tenants at most) holding its keys by version
 * (what a secret names) and which one is current. A stale "current" is
 * harmless: writes are fenced on the version in the database and refresh it
 * when the fence refuses them. A key of one version never changes, so a read
 * never decrypts with a wrong key either.
 *
 * Several instances (issue 16): the steps of a data-key replacement and a
 * tenant's deletion call `forgetEverywhere`, which with REDIS_URL also tells
 * every other instance (pub/sub) to drop that tenant's keys, so a deleted
 * tenant's key does not stay in another instance's memory for the TTL and the
 * others encrypt with the new key from their next write. A message lost while
 * Redis is down only costs a fenced write's retry; the TTL still bounds it.
 */
@Injectable()
export class DataKeyService implements OnModuleInit {
  private readonly ring: MasterKeyRing;
  private readonly ttlMs: number;
  private readonly maxCached: number;
  private readonly cache = new Map<string, CacheEntry>();

  private readonly logger = new Logger('DataKeys');
  private readonly channel: string;

  constructor(
    @Inject(CONFIGURATION) config: Configuration,
    @Optional() private readonly redis?: RedisConnections,
  ) {
    this.channel = `${redis?.keyPrefix ?? ''}data-keys:forget`;
    this.ring = config.crypto.ring;
    this.ttlMs = config.crypto.dataKeyCacheTtlMs;
    this.maxCached = config.crypto.dataKeyCacheSize;
  }

  onModuleInit(): void {
    const subscriber = this.redis?.subscriber();
    if (subscriber === undefined || subscriber === null) return;
    subscriber.on('message', (channel: string, tenantId: string) => {
      if (channel === this.channel) this.cache.delete(tenantId);
    });
    // Subscribed again by ioredis after a reconnect; a failure here is logged by RedisConnections.
    subscriber.subscribe(this.channel).catch(() => undefined);
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
    return this.wrapKeyMaterial(key, dataKeyAad(tenantId));
  }

  /**
   * Other key material kept under the master key ring, bound to where it
   * belongs by `aad` (the token-signing private keys of the clients module).
   */
  wrapKeyMaterial(material: Buffer, aad: Buffer): WrappedDataKey {
    const master = this.ring.active;
    return { wrapped: seal(master.key, master.id, material, aad), masterKeyId: master.id };
  }

  /** The inverse of wrapKeyMaterial; `owner` names what it is in the error when its master key is not in the ring. */
  unwrapKeyMaterial(wrapped: string, aad: Buffer, owner: string): Buffer {
    const envelope = parseEnvelope(wrapped);
    const master = this.ring.find(envelope.keyId);
    if (master === undefined) {
      throw new DataKeyUnavailableError(`${owner} is wrapped by master key '${envelope.keyId}', which is not in ENCRYPTION_KEYS`);
    }
    return open(master.key, envelope, aad);
  }

  /** The same data key wrapped by the active master key (rotation's cheap path). */
  rewrap(tenantId: string, wrapped: string): WrappedDataKey {
    return this.wrap(tenantId, this.unwrap(tenantId, wrapped));
  }

  unwrap(tenantId: string, wrapped: string): Buffer {
    return this.unwrapKeyMaterial(wrapped, dataKeyAad(tenantId), `the data key of tenant '${tenantId}'`);
  }

  /** A cached key: of `version`, or the tenant's current one when no version is given. */
  cached(tenantId: string, version?: number): DataKey | undefined {
    const entry = this.cache.get(tenantId);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= Date.now()) {
      this.cache.delete(tenantId);
      return undefined;
    }
    const wanted = version ?? entry.current;
    const key = wanted === undefined ? undefined : entry.keys.get(wanted);
    return key === undefined ? undefined : { version: wanted!, key };
  }

  /** Keeps an unwrapped key for DATA_KEY_CACHE_TTL_MS; `current` also marks it as the tenant's current key. */
  remember(tenantId: string, dataKey: DataKey, current: boolean): void {
    if (this.ttlMs <= 0 || this.maxCached <= 0) return;
    let entry = this.cache.get(tenantId);
    if (entry === undefined || entry.expiresAt <= Date.now()) {
      entry = { keys: new Map(), expiresAt: Date.now() + this.ttlMs };
      this.cache.delete(tenantId);
      // Oldest first: a Map iterates in insertion order.
      if (this.cache.size >= this.maxCached) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(tenantId, entry);
    }
    // A copy of its own: the unwrapped key is a 32-byte slice of Node's shared 8 KB buffer pool, and a cached
    // slice would keep its whole slab alive (with 10,000 tenants cached, tens of MB).
    const own = Buffer.allocUnsafeSlow(dataKey.key.length);
    dataKey.key.copy(own);
    entry.keys.set(dataKey.version, own);
    if (current) entry.current = dataKey.version;
  }

  /** Drops a tenant's cached keys in this instance (a fenced write found its current key stale). */
  forget(tenantId: string): void {
    this.cache.delete(tenantId);
  }

  /** Drops a tenant's cached keys here and, with REDIS_URL, in every other instance (after its key is destroyed or replaced). */
  async forgetEverywhere(tenantId: string): Promise<void> {
    this.cache.delete(tenantId);
    const client = this.redis?.client;
    if (client === undefined || client === null) return;
    try {
      await client.publish(this.channel, tenantId);
    } catch (error) {
      this.logger.warn(`could not tell the other instances to drop a tenant's cached data keys (${(error as Error).name}); their cache TTL bounds it`);
    }
  }
}
