import { Injectable } from '@nestjs/common';
import { IsNull } from 'typeorm';
import { ConfigError } from '../config/config-error';
import { DatabaseService } from '../database/database.service';
import { IntegrationEntity } from '../integrations/integration.entity';
import { findVendor } from '../integrations/vendors/registry';
import { TenantEntity } from '../tenants/tenant.entity';
import { DataKeyService } from './data-key.service';
import { KeyRotationEntity } from './key-rotation.entity';
import { decryptSecret, encryptSecret } from './secret-cipher';

export interface KeyUsage {
  masterKeyId: string;
  tenants: number;
  integrations: number;
  secrets: number;
  inRing: boolean;
  active: boolean;
}

export interface RotationProgress {
  done: number;
  total: number;
  failed: number;
}

export interface RotationSummary {
  mode: 'rewrap' | 'reencrypt';
  masterKeyId: string;
  rewrapped: number;
  reencrypted: number;
  /** Integrations whose secrets were re-encrypted (reencrypt mode). */
  integrations: number;
  failed: { tenantId: string; reason: string }[];
  seconds: number;
}

interface PendingTenant {
  id: string;
}

/**
 * Master-key rotation and the checks around it. Work is done tenant by tenant,
 * each in its own transaction holding that tenant's row lock (the same lock
 * integration writes take), so the API keeps serving and never sees half of a
 * tenant's change. Progress lives in the data itself: a tenant is done when
 * its data key is under the active master key (rewrap) or newer than the
 * rotation's start (reencrypt), so a killed run simply resumes.
 */
@Injectable()
export class KeyManagementService {
  constructor(
    private readonly db: DatabaseService,
    private readonly dataKeys: DataKeyService,
  ) {}

  async usage(): Promise<KeyUsage[]> {
    const tenants = await this.db.query<{ master_key_id: string; tenants: number | string }>(
      `SELECT master_key_id, COUNT(*) AS tenants FROM tenants WHERE data_key_wrapped IS NOT NULL GROUP BY master_key_id`,
    );
    const integrations = await this.db.query<{ master_key_id: string; type: string; integrations: number | string }>(
      `SELECT t.master_key_id, i.type, COUNT(*) AS integrations
         FROM integrations i JOIN tenants t ON t.id = i.tenant_id
        WHERE t.data_key_wrapped IS NOT NULL
        GROUP BY t.master_key_id, i.type`,
    );
    const ring = this.dataKeys.masterKeyIds;
    const ids = new Set([...ring, ...tenants.map((row) => row.master_key_id)]);
    return [...ids].map((masterKeyId) => {
      const perType = integrations.filter((row) => row.master_key_id === masterKeyId);
      return {
        masterKeyId,
        tenants: Number(tenants.find((row) => row.master_key_id === masterKeyId)?.tenants ?? 0),
        integrations: perType.reduce((sum, row) => sum + Number(row.integrations), 0),
        secrets: perType.reduce((sum, row) => sum + Number(row.integrations) * (findVendor(row.type)?.secretFields.size ?? 0), 0),
        inRing: ring.includes(masterKeyId),
        active: masterKeyId === this.dataKeys.activeMasterKeyId,
      };
    });
  }

  /** Refuses to run with a ring that lacks a master key still wrapping data keys (they would be unreadable). */
  async assertRingCoversData(): Promise<void> {
    const missing = (await this.usage()).filter((usage) => !usage.inRing && usage.tenants > 0);
    if (missing.length === 0) return;
    const names = missing.map((m) => `'${m.masterKeyId}' (still wraps the data keys of ${m.tenants} tenant${m.tenants === 1 ? '' : 's'})`);
    throw new ConfigError(
      `ENCRYPTION_KEYS lacks master key ${names.join(' and ')}: put it back after the active key, run npm run keys:rotate, and remove it only when npm run keys:status shows 0 tenants on it`,
    );
  }

  async rotate(
    options: { reencrypt: boolean; batchSize: number },
    onProgress: (progress: RotationProgress) => void = () => undefined,
  ): Promise<RotationSummary> {
    const started = Date.now();
    const mode = options.reencrypt ? 'reencrypt' : 'rewrap';
    const masterKeyId = this.dataKeys.activeMasterKeyId;
    const journal = await this.openJournal(mode, masterKeyId);
    const pending = this.pendingCondition(mode);
    const pendingParams = mode === 'rewrap' ? [masterKeyId] : [journal.startedAt];
    const [{ total }] = await this.db.query<{ total: number | string }>(`SELECT COUNT(*) AS total FROM tenants WHERE ${pending}`, pendingParams);
    const summary: RotationSummary = { mode, masterKeyId, rewrapped: 0, reencrypted: 0, integrations: 0, failed: [], seconds: 0 };
    const progress = { done: 0, total: Number(total), failed: 0 };
    onProgress(progress);

    // Walk by id so a tenant that fails is not picked up again in this run.
    let after = '';
    for (;;) {
      const batch = await this.db.query<PendingTenant>(
        `SELECT id FROM tenants WHERE ${pending} AND id > ? ORDER BY id LIMIT ${Math.max(1, Math.floor(options.batchSize))}`,
        [...pendingParams, after],
      );
      if (batch.length === 0) break;
      for (const { id } of batch) {
        try {
          if (mode === 'rewrap') {
            if (await this.rewrapTenant(id, masterKeyId)) summary.rewrapped++;
          } else {
            const integrations = await this.reencryptTenant(id, journal.startedAt);
            if (integrations !== undefined) {
              summary.reencrypted++;
              summary.integrations += integrations;
            }
          }
        } catch (error) {
          summary.failed.push({ tenantId: id, reason: error instanceof Error ? error.message : String(error) });
          progress.failed++;
        }
        progress.done++;
        onProgress(progress);
      }
      after = batch[batch.length - 1].id;
    }

    if (summary.failed.length === 0) {
      await this.db.dataSource.getRepository(KeyRotationEntity).update({ id: journal.id }, { finishedAt: new Date() });
    }
    summary.seconds = (Date.now() - started) / 1000;
    return summary;
  }

  private pendingCondition(mode: 'rewrap' | 'reencrypt'): string {
    return mode === 'rewrap'
      ? 'data_key_wrapped IS NOT NULL AND master_key_id <> ?'
      : 'data_key_wrapped IS NOT NULL AND (data_key_created_at IS NULL OR data_key_created_at < ?)';
  }

  /** The unfinished run of this mode and key, to resume; or a new one. */
  private async openJournal(mode: 'rewrap' | 'reencrypt', masterKeyId: string): Promise<KeyRotationEntity> {
    const repository = this.db.dataSource.getRepository(KeyRotationEntity);
    const unfinished = await repository.findOne({ where: { mode, masterKeyId, finishedAt: IsNull() }, order: { id: 'DESC' } });
    if (unfinished !== null) return unfinished;
    const journal = repository.create({ mode, masterKeyId, startedAt: new Date(), finishedAt: null });
    return repository.save(journal);
  }

  /** Same data key, wrapped by the active master key: one small write per tenant. */
  private async rewrapTenant(tenantId: string, masterKeyId: string): Promise<boolean> {
    return this.db.transaction(async (manager) => {
      const tenant = await this.lockTenant(manager, tenantId);
      if (tenant === null || tenant.dataKeyWrapped === null || tenant.masterKeyId === masterKeyId) return false;
      const rewrapped = this.dataKeys.rewrap(tenant.id, tenant.dataKeyWrapped);
      await manager.update(TenantEntity, { id: tenant.id }, { dataKeyWrapped: rewrapped.wrapped, masterKeyId: rewrapped.masterKeyId });
      return true;
    });
  }

  /**
   * A new data key for the tenant and every secret re-encrypted under it, in
   * one transaction: readers see all old or all new. Returns the number of
   * integrations re-encrypted, or undefined when someone else already did it.
   */
  private async reencryptTenant(tenantId: string, rotationStart: Date): Promise<number | undefined> {
    const count = await this.db.transaction(async (manager) => {
      const tenant = await this.lockTenant(manager, tenantId);
      if (tenant === null || tenant.dataKeyWrapped === null) return undefined;
      if (tenant.dataKeyCreatedAt !== null && tenant.dataKeyCreatedAt >= rotationStart) return undefined;
      const oldKey = this.dataKeys.unwrap(tenant.id, tenant.dataKeyVersion, tenant.dataKeyWrapped);
      const fresh = this.dataKeys.generate(tenant.id);
      const newVersion = tenant.dataKeyVersion + 1;
      const integrations = await manager.find(IntegrationEntity, { where: { tenantId } });
      for (const integration of integrations) {
        const envelopes = JSON.parse(integration.secrets) as Record<string, string>;
        const reencrypted: Record<string, string> = {};
        for (const [field, envelope] of Object.entries(envelopes)) {
          const at = { tenantId, integrationId: integration.id, field };
          reencrypted[field] = encryptSecret(fresh.key, newVersion, at, decryptSecret(oldKey, tenant.dataKeyVersion, at, envelope));
        }
        await manager.update(IntegrationEntity, { tenantId, id: integration.id }, { secrets: JSON.stringify(reencrypted) });
      }
      await manager.update(
        TenantEntity,
        { id: tenantId },
        { dataKeyWrapped: fresh.wrapped, masterKeyId: fresh.masterKeyId, dataKeyVersion: newVersion, dataKeyCreatedAt: new Date() },
      );
      return integrations.length;
    });
    if (count !== undefined) this.dataKeys.forget(tenantId);
    return count;
  }

  private lockTenant(manager: import('typeorm').EntityManager, tenantId: string): Promise<TenantEntity | null> {
    return manager.findOne(TenantEntity, {
      where: { id: tenantId },
      ...(this.db.engine === 'mysql' ? { lock: { mode: 'pessimistic_write' as const } } : {}),
    });
  }
}
