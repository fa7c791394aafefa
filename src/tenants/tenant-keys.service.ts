import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { DomainError, TenantNotFoundError } from '../common/errors/domain-errors';
import type { RequestActor } from '../common/request-actor';
import { type DataKey, DataKeyService } from '../crypto/data-key.service';
import { DatabaseService } from '../database/database.service';
import { WebhookEventSink } from '../webhooks/webhook-events';
import { type TenantKeyState, TenantsRepository, type RotationFilter, type WriteFence } from './tenants.repository';

/**
 * A secret names a data-key version the tenant no longer has: the row was read
 * just before a re-encryption replaced it. Reading the row again finds it
 * re-encrypted; the integrations module does that before giving up.
 */
export class DataKeyVersionGoneError extends DomainError {
  readonly status = 503;
  readonly code = 'KEY_ROTATED';
  override readonly headers = { 'Retry-After': '1' };
  constructor(tenantId: string, version: number) {
    super(`The data key of tenant '${tenantId}' changed while this request read it (version ${version}); retry`);
  }
}

/**
 * The life of each tenant's data key, for the other modules: the current key
 * to encrypt with, the key of the version a secret names to decrypt with, the
 * fence that keeps a write from landing after the key changed, and the steps
 * of a master-key rotation. Keys are unwrapped through DataKeyService and
 * cached there.
 *
 * Replacing a data key (keys:rotate --reencrypt) happens in three steps that
 * each stand alone, so no lock is held while secrets are re-encrypted:
 * `beginReplacement` makes version N+1 current and keeps N beside it; the
 * integrations module re-encrypts every secret under N+1 (writes are fenced
 * on N+1 from then on); `finishReplacement` forgets N.
 *
 * A re-wrap and the end of a replacement each commit with their audit event
 * in the tenant's chain (keys.rewrap, keys.replace) and the webhook event
 * tenant.keys.rotated.
 */
@Injectable()
export class TenantKeysService {
  constructor(
    private readonly repository: TenantsRepository,
    private readonly dataKeys: DataKeyService,
    private readonly db: DatabaseService,
    private readonly audit: AuditService,
    private readonly webhookEvents: WebhookEventSink,
  ) {}

  /**
   * The key new secrets of this tenant are encrypted with. TenantNotFoundError when there is no live tenant.
   * `tx`: the caller's open transaction, for a lookup on its connection (a write that holds a row lock).
   */
  async current(tenantId: string, tx?: EntityManager): Promise<DataKey> {
    const cached = this.dataKeys.cached(tenantId);
    if (cached !== undefined) return cached;
    const state = await this.liveState(tenantId, tx);
    const dataKey = { version: state.dataKeyVersion, key: this.dataKeys.unwrap(tenantId, state.dataKeyWrapped!) };
    this.dataKeys.remember(tenantId, dataKey, true);
    return dataKey;
  }

  /** The key of one version, as a secret's envelope names it. */
  async version(tenantId: string, version: number, tx?: EntityManager): Promise<Buffer> {
    const cached = this.dataKeys.cached(tenantId, version);
    if (cached !== undefined) return cached.key;
    const state = await this.liveState(tenantId, tx);
    let wrapped: string | null = null;
    if (version === state.dataKeyVersion) wrapped = state.dataKeyWrapped;
    else if (version === state.dataKeyVersion - 1) wrapped = state.previousDataKeyWrapped;
    if (wrapped === null) throw new DataKeyVersionGoneError(tenantId, version);
    const dataKey = { version, key: this.dataKeys.unwrap(tenantId, wrapped) };
    this.dataKeys.remember(tenantId, dataKey, version === state.dataKeyVersion);
    return dataKey.key;
  }

  /** After a fenced write was refused: the cached key may be stale, or the tenant gone. */
  forget(tenantId: string): void {
    this.dataKeys.forget(tenantId);
  }

  /** The condition a write encrypted with `keyVersion` must meet to land. */
  writeFence(tenantId: string, keyVersion: number): WriteFence {
    return this.repository.writeFence(tenantId, keyVersion);
  }

  // --- master-key rotation ---

  /** Live tenants per master key (the key that wraps their data key). */
  usage(): Promise<{ masterKeyId: string; tenants: number }[]> {
    return this.repository.countByMasterKey();
  }

  masterKeyOfEach(): Promise<Map<string, string>> {
    return this.repository.masterKeyOfEach();
  }

  countForRotation(filter: RotationFilter): Promise<number> {
    return this.repository.countForRotation(filter);
  }

  idsForRotation(filter: RotationFilter, after: string, limit: number): Promise<string[]> {
    return this.repository.idsForRotation(filter, after, limit);
  }

  /** Re-wraps the tenant's data key (and a previous one still kept) under the active master key. False when nothing was left to do. */
  async rewrap(tenantId: string, actor: RequestActor): Promise<boolean> {
    const state = await this.repository.keyState(tenantId);
    if (state === null || state.dataKeyWrapped === null || state.masterKeyId === this.dataKeys.activeMasterKeyId) return false;
    const current = this.dataKeys.rewrap(tenantId, state.dataKeyWrapped);
    const previous = state.previousDataKeyWrapped === null ? null : this.dataKeys.rewrap(tenantId, state.previousDataKeyWrapped).wrapped;
    return this.db.transaction(async (tx) => {
      const change = { dataKeyWrapped: current.wrapped, previousDataKeyWrapped: previous, masterKeyId: current.masterKeyId };
      if (!(await this.repository.updateKeys(state, change, tx))) return false;
      await this.emitRotated(tenantId, state.dataKeyVersion, tx);
      await this.audit.record({ tenantId, actor, action: 'keys.rewrap', target: `master-key:${current.masterKeyId}`, outcome: 200 }, tx);
      return true;
    });
  }

  /**
   * Step 1 of a replacement: a fresh data key becomes current (version N+1,
   * wrapped by the active master key); version N stays readable. Returns the
   * new version, or the one in progress when a stopped run left it half done;
   * undefined when the tenant is gone.
   */
  async beginReplacement(tenantId: string): Promise<number | undefined> {
    for (;;) {
      const state = await this.repository.keyState(tenantId);
      if (state === null || state.dataKeyWrapped === null) return undefined;
      if (state.previousDataKeyWrapped !== null) return state.dataKeyVersion;
      const fresh = this.dataKeys.generate(tenantId);
      const previous = this.dataKeys.rewrap(tenantId, state.dataKeyWrapped);
      const replaced = await this.repository.updateKeys(state, {
        dataKeyWrapped: fresh.wrapped,
        previousDataKeyWrapped: previous.wrapped,
        masterKeyId: fresh.masterKeyId,
        dataKeyVersion: state.dataKeyVersion + 1,
        dataKeyCreatedAt: new Date(),
      });
      await this.dataKeys.forgetEverywhere(tenantId);
      if (replaced) return state.dataKeyVersion + 1;
    }
  }

  /** Step 3: the previous version is forgotten; call it only when no secret names it any more. The replacement's event commits with it. */
  async finishReplacement(tenantId: string, version: number, actor: RequestActor): Promise<void> {
    const state = await this.repository.keyState(tenantId);
    if (state === null || state.dataKeyVersion !== version || state.previousDataKeyWrapped === null) return;
    await this.db.transaction(async (tx) => {
      if (!(await this.repository.updateKeys(state, { previousDataKeyWrapped: null }, tx))) return;
      await this.emitRotated(tenantId, version, tx);
      await this.audit.record({ tenantId, actor, action: 'keys.replace', target: `data-key:v${version}`, outcome: 200 }, tx);
    });
    await this.dataKeys.forgetEverywhere(tenantId);
  }

  /** tenant.keys.rotated, in the rotation step's own transaction (before its audit event, which comes last). */
  private emitRotated(tenantId: string, dataKeyVersion: number, tx: EntityManager): Promise<void> {
    return this.webhookEvents.emit(
      { tenantId, type: 'tenant.keys.rotated', data: { tenant: tenantId, 'data-key-version': dataKeyVersion }, at: new Date() },
      tx,
    );
  }

  private async liveState(tenantId: string, tx?: EntityManager): Promise<TenantKeyState> {
    const state = await this.repository.keyState(tenantId, tx);
    if (state === null || state.dataKeyWrapped === null) throw new TenantNotFoundError(tenantId);
    return state;
  }
}
