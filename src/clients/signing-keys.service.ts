import { Inject, Injectable, Logger } from '@nestjs/common';
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type JsonWebKey, type KeyObject } from 'node:crypto';
import { PLATFORM_CHAIN } from '../audit/audit-chain';
import { AuditService } from '../audit/audit.service';
import { TokenKeyError } from '../auth/jwt.strategy';
import { type RequestActor, systemActor } from '../common/request-actor';
import { CONFIGURATION, type Configuration } from '../config/configuration';
import { DataKeyService } from '../crypto/data-key.service';
import { signingKeyAad } from '../crypto/envelope';
import { DatabaseService } from '../database/database.service';
import type { SigningKeyEntity } from './signing-key.entity';
import { SigningKeysRepository } from './signing-keys.repository';

/**
 * How often each instance reads the signing keys again (the clients module's
 * poll). A token signed by a key this instance does not know yet makes it
 * read them at once (at most once per FORCED_REFRESH_MS), so this only bounds
 * how long an instance keeps signing with a key that was just retired.
 */
export const SIGNING_KEY_REFRESH_MS = 5000;
const FORCED_REFRESH_MS = 1000;
/** Beyond the tokens' lifetime, how long a retired key stays published: instances learn of the rotation late, clocks differ. */
const PUBLISH_MARGIN_MS = SIGNING_KEY_REFRESH_MS + 60_000;

/** A public key of the JWKS (RFC 7517), as /.well-known/jwks.json shows it. */
export interface PublicJwk {
  kty: string;
  crv: string;
  x: string;
  y: string;
  kid: string;
  use: 'sig';
  alg: 'ES256';
}

interface PublishedKey {
  kid: string;
  jwk: PublicJwk;
  publicKey: KeyObject;
  /** Whether it may sign (not retired). */
  current: boolean;
  row: SigningKeyEntity;
}

export interface SigningKeyUsage {
  masterKeyId: string;
  /** Keys under this master key, retired ones included. */
  keys: number;
  /** Of those, keys that may still sign: their private half must stay readable. */
  current: number;
}

export interface SigningKeyRotation {
  kid: string;
  retired: string[];
  publishUntil: Date;
  deleted: number;
}

/**
 * The service's token-signing keys (issue 13): ES256 key pairs whose private
 * halves live in the database wrapped by the master key ring, like tenant
 * data keys, so every instance signs with the same keys and a database copy
 * alone cannot sign. Each instance keeps the published set in memory (public
 * keys as KeyObjects, private ones unwrapped on first use) and reads it again
 * every SIGNING_KEY_REFRESH_MS, or at once for a token naming a kid it lacks.
 *
 * Rotation (`npm run keys:rotate-signing`) adds a key, which signs from then
 * on; the keys it replaces are retired but stay published, and accepted,
 * until every token they signed has expired (TOKEN_TTL plus margins).
 *
 * The keys are the platform's, not a tenant's: their events (signing-key.create,
 * .rotate, .rewrap) go to the audit chain PLATFORM_CHAIN, each in the
 * transaction of its change.
 */
@Injectable()
export class SigningKeysService {
  private readonly logger = new Logger('SigningKeys');
  private keys: PublishedKey[] = [];
  private byKid = new Map<string, PublishedKey>();
  private readonly privateKeys = new Map<string, KeyObject>();
  private readonly listeners: (() => void)[] = [];
  private refreshing: Promise<void> | undefined;
  private lastForcedRefresh = 0;
  private creating: Promise<void> | undefined;

  constructor(
    private readonly repository: SigningKeysRepository,
    private readonly dataKeys: DataKeyService,
    private readonly db: DatabaseService,
    private readonly audit: AuditService,
    @Inject(CONFIGURATION) private readonly config: Configuration,
  ) {}

  /** Called when the published set changes (a key added or dropped). */
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** Reads the published keys again; concurrent callers share one read. */
  refresh(): Promise<void> {
    this.refreshing ??= this.load().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  /** The public JWKS: every published key, the signing one first. */
  jwks(): { keys: PublicJwk[] } {
    return { keys: this.keys.map((key) => key.jwk) };
  }

  /** The key that checks a token signed with `kid`; a TokenKeyError (401, named) when no published key has it. */
  async verificationKey(kid: unknown): Promise<KeyObject> {
    if (typeof kid !== 'string' || kid === '') throw new TokenKeyError('token has no kid header');
    let key = this.byKid.get(kid);
    if (key === undefined && Date.now() - this.lastForcedRefresh >= FORCED_REFRESH_MS) {
      // A key created since the last read (by keys:rotate-signing, or by another instance): look once more.
      this.lastForcedRefresh = Date.now();
      await this.refresh();
      key = this.byKid.get(kid);
    }
    if (key === undefined) throw new TokenKeyError('token signed with an unknown key (kid)');
    return key.publicKey;
  }

  /** The key new tokens are signed with, created when there is none yet. */
  async signingKey(): Promise<{ kid: string; privateKey: KeyObject }> {
    let current = this.keys.find((key) => key.current);
    if (current === undefined) {
      await this.ensureSigningKey();
      current = this.keys.find((key) => key.current);
      if (current === undefined) throw new Error('no token-signing key could be created');
    }
    let privateKey = this.privateKeys.get(current.kid);
    if (privateKey === undefined) {
      const der = this.dataKeys.unwrapKeyMaterial(
        current.row.privateKeyWrapped,
        signingKeyAad(current.kid),
        `token-signing key '${current.kid}'`,
      );
      privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
      this.privateKeys.set(current.kid, privateKey);
    }
    return { kid: current.kid, privateKey };
  }

  /**
   * Makes sure a key can sign: reads the keys, and creates one when none is
   * current (the first start on a database). Two instances starting together
   * may each create one; both are published and the newest signs.
   */
  ensureSigningKey(): Promise<void> {
    this.creating ??= (async () => {
      await this.refresh();
      if (this.keys.some((key) => key.current)) return;
      const key = this.newKey(new Date());
      await this.db.transaction(async (tx) => {
        await this.repository.insert(key, tx);
        await this.audit.record(
          { tenantId: PLATFORM_CHAIN, actor: systemActor('system'), action: 'signing-key.create', target: key.kid, outcome: 201 },
          tx,
        );
      });
      await this.refresh();
    })().finally(() => (this.creating = undefined));
    return this.creating;
  }

  /**
   * keys:rotate-signing: a new key signs from now on; the current ones are
   * retired and stay published until the tokens they signed have expired.
   * Keys past their publication are deleted.
   */
  async rotate(actor: RequestActor, now = new Date()): Promise<SigningKeyRotation> {
    const key = this.newKey(now);
    const publishUntil = new Date(
      now.getTime() + this.config.clients.tokenTtlSeconds * 1000 + this.config.auth.clockToleranceSec * 1000 + PUBLISH_MARGIN_MS,
    );
    const { retired, deleted } = await this.db.transaction(async (tx) => {
      await this.repository.insert(key, tx);
      const result = {
        retired: await this.repository.retireAllBut(key.kid, now, publishUntil, tx),
        deleted: await this.repository.deleteUnpublished(now, tx),
      };
      await this.audit.record({ tenantId: PLATFORM_CHAIN, actor, action: 'signing-key.rotate', target: key.kid, outcome: 201 }, tx);
      return result;
    });
    await this.refresh();
    return { kid: key.kid, retired, publishUntil, deleted };
  }

  /** Signing keys per master key, for keys:status and the start-up check of the ring. */
  async usage(): Promise<SigningKeyUsage[]> {
    const usage = new Map<string, SigningKeyUsage>();
    for (const key of await this.repository.all()) {
      const entry = usage.get(key.masterKeyId) ?? { masterKeyId: key.masterKeyId, keys: 0, current: 0 };
      entry.keys++;
      if (key.retiredAt === null) entry.current++;
      usage.set(key.masterKeyId, entry);
    }
    return [...usage.values()];
  }

  /**
   * keys:rotate: every private key re-wrapped under the active master key.
   * A retired key whose master key is gone is left alone (it never signs
   * again); a current one is a failure the operator must see.
   */
  async rewrapAll(actor: RequestActor): Promise<{ rewrapped: number; failed: { kid: string; reason: string }[] }> {
    const active = this.dataKeys.activeMasterKeyId;
    const summary = { rewrapped: 0, failed: [] as { kid: string; reason: string }[] };
    for (const key of await this.repository.all()) {
      if (key.masterKeyId === active) continue;
      const owner = `token-signing key '${key.kid}'`;
      try {
        if (!this.dataKeys.masterKeyIds.includes(key.masterKeyId) && key.retiredAt !== null) continue;
        const der = this.dataKeys.unwrapKeyMaterial(key.privateKeyWrapped, signingKeyAad(key.kid), owner);
        const rewrapped = this.dataKeys.wrapKeyMaterial(der, signingKeyAad(key.kid));
        const done = await this.db.transaction(async (tx) => {
          if (!(await this.repository.updateWrap(key.kid, key.masterKeyId, rewrapped.wrapped, rewrapped.masterKeyId, tx))) return false;
          const event = { tenantId: PLATFORM_CHAIN, actor, action: 'signing-key.rewrap' as const, target: key.kid, outcome: 200 };
          await this.audit.record(event, tx);
          return true;
        });
        if (done) summary.rewrapped++;
      } catch (error) {
        summary.failed.push({ kid: key.kid, reason: error instanceof Error ? error.message : String(error) });
      }
    }
    return summary;
  }

  private newKey(now: Date): SigningKeyEntity {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    // The date tells operators which key is which; the random part keeps two instances from colliding.
    const kid = `${now.toISOString().slice(0, 10).replaceAll('-', '')}-${randomBytes(8).toString('hex')}`;
    const { kty, crv, x, y } = publicKey.export({ format: 'jwk' });
    const wrapped = this.dataKeys.wrapKeyMaterial(privateKey.export({ format: 'der', type: 'pkcs8' }), signingKeyAad(kid));
    return {
      kid,
      algorithm: 'ES256',
      publicJwk: JSON.stringify({ kty, crv, x, y }),
      privateKeyWrapped: wrapped.wrapped,
      masterKeyId: wrapped.masterKeyId,
      createdAt: now,
      retiredAt: null,
      publishUntil: null,
    };
  }

  private async load(): Promise<void> {
    const rows = await this.repository.published(new Date());
    const keys: PublishedKey[] = [];
    for (const row of rows) {
      try {
        const jwk = JSON.parse(row.publicJwk) as JsonWebKey & { kty: string; crv: string; x: string; y: string };
        keys.push({
          kid: row.kid,
          jwk: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y, kid: row.kid, use: 'sig', alg: 'ES256' },
          publicKey: createPublicKey({ key: jwk, format: 'jwk' }),
          current: row.retiredAt === null,
          row,
        });
      } catch {
        this.logger.error(`token-signing key '${row.kid}' has an unreadable public key; it is not published`);
      }
    }
    const before = [...this.byKid.keys()].sort().join(',');
    this.keys = keys;
    this.byKid = new Map(keys.map((key) => [key.kid, key]));
    for (const kid of this.privateKeys.keys()) if (!this.byKid.get(kid)?.current) this.privateKeys.delete(kid);
    if ([...this.byKid.keys()].sort().join(',') !== before) for (const listener of this.listeners) listener();
  }
}
