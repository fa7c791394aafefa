import { Injectable } from '@nestjs/common';
import { SigningKeysService } from '../clients/signing-keys.service';
import type { RequestActor } from '../common/request-actor';
import { ConfigError } from '../config/config-error';
import { IntegrationsService } from '../integrations/integrations.service';
import { TenantKeysService } from '../tenants/tenant-keys.service';
import { WebhookSecrets } from '../webhooks/webhook-secrets';
import type { RotationFilter } from '../tenants/tenants.repository';
import { DataKeyService } from './data-key.service';
import { KeyRotationRepository } from './key-rotation.repository';

export interface KeyUsage {
  masterKeyId: string;
  tenants: number;
  integrations: number;
  secrets: number;
  /** Kept versions of integrations (their history) with content, and their secret fields. */
  versions: number;
  versionSecrets: number;
  /** Webhooks (issue 15) and their signing secrets (current, and previous during a rotation's overlap). */
  webhooks: number;
  webhookSecrets: number;
  /** The service's token-signing keys under this master key (issue 13), and of those the ones that still sign. */
  signingKeys: number;
  currentSigningKeys: number;
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
  /** Kept versions whose secrets were re-encrypted (reencrypt mode). */
  versions: number;
  /** Webhooks whose signing secrets were re-encrypted (reencrypt mode). */
  webhooks: number;
  /** Token-signing private keys re-wrapped under the active master key (both modes). */
  signingKeys: number;
  /** Tenants (or `signing key '…'`) that failed, and why. */
  failed: { tenantId: string; reason: string }[];
  seconds: number;
}

/**
 * Master-key rotation and the checks around it, tenant by tenant, while the
 * API keeps serving. It owns only the rotation journal; tenants' keys are the
 * tenants module's (TenantKeysService) and secrets the integrations module's
 * (IntegrationsService), which it asks for each step.
 *
 * - rewrap: each tenant's data key is wrapped again by the active master key
 *   (one small conditional write per tenant, whatever its integrations).
 * - reencrypt: each tenant gets a new data key; its secrets are re-encrypted
 *   under it row by row (the old key stays readable meanwhile), then the old
 *   key is forgotten. No lock is held across the steps.
 *
 * Progress lives in the data itself: a tenant is done when its data key is
 * under the active master key (rewrap) or newer than the run's start with no
 * old key left beside it (reencrypt), so a stopped run simply resumes.
 */
@Injectable()
export class KeyManagementService {
  constructor(
    private readonly journal: KeyRotationRepository,
    private readonly tenantKeys: TenantKeysService,
    private readonly integrations: IntegrationsService,
    private readonly dataKeys: DataKeyService,
    private readonly signingKeys: SigningKeysService,
    private readonly webhookSecrets: WebhookSecrets,
  ) {}

  async usage(): Promise<KeyUsage[]> {
    const [perKey, masterKeyOf, inventory, signing, webhooks] = await Promise.all([
      this.tenantKeys.usage(),
      this.tenantKeys.masterKeyOfEach(),
      this.integrations.inventory(),
      this.signingKeys.usage(),
      this.webhookSecrets.inventory(),
    ]);
    const ring = this.dataKeys.masterKeyIds;
    const ids = [...new Set([...ring, ...perKey.map((row) => row.masterKeyId), ...signing.map((row) => row.masterKeyId)])];
    const totals = new Map(
      ids.map((id) => [id, { integrations: 0, secrets: 0, versions: 0, versionSecrets: 0, webhooks: 0, webhookSecrets: 0 }]),
    );
    for (const [tenantId, counts] of inventory) {
      const total = totals.get(masterKeyOf.get(tenantId) ?? '');
      if (total === undefined) continue;
      total.integrations += counts.integrations;
      total.secrets += counts.secrets;
      total.versions += counts.versions;
      total.versionSecrets += counts.versionSecrets;
    }
    for (const [tenantId, counts] of webhooks) {
      const total = totals.get(masterKeyOf.get(tenantId) ?? '');
      if (total === undefined) continue;
      total.webhooks += counts.webhooks;
      total.webhookSecrets += counts.secrets;
    }
    return ids.map((masterKeyId) => ({
      masterKeyId,
      tenants: perKey.find((row) => row.masterKeyId === masterKeyId)?.tenants ?? 0,
      ...totals.get(masterKeyId)!,
      signingKeys: signing.find((row) => row.masterKeyId === masterKeyId)?.keys ?? 0,
      currentSigningKeys: signing.find((row) => row.masterKeyId === masterKeyId)?.current ?? 0,
      inRing: ring.includes(masterKeyId),
      active: masterKeyId === this.dataKeys.activeMasterKeyId,
    }));
  }

  /**
   * Refuses to run with a ring that lacks a master key still wrapping data
   * keys (they would be unreadable), or the private half of a token-signing
   * key that still signs. Retired signing keys never sign again: they do not count.
   */
  async assertRingCoversData(): Promise<void> {
    const ring = this.dataKeys.masterKeyIds;
    const [tenants, signing] = await Promise.all([this.tenantKeys.usage(), this.signingKeys.usage()]);
    const missing = [...new Set([...tenants.map((u) => u.masterKeyId), ...signing.map((u) => u.masterKeyId)])]
      .filter((id) => !ring.includes(id))
      .map((id) => ({
        masterKeyId: id,
        tenants: tenants.find((u) => u.masterKeyId === id)?.tenants ?? 0,
        signing: signing.find((u) => u.masterKeyId === id)?.current ?? 0,
      }))
      .filter((m) => m.tenants > 0 || m.signing > 0);
    if (missing.length === 0) return;
    const signingKeys = (n: number): string => `${n} token-signing key${n === 1 ? '' : 's'}`;
    const names = missing.map((m) =>
      m.tenants > 0
        ? `'${m.masterKeyId}' (still wraps the data keys of ${m.tenants} tenant${m.tenants === 1 ? '' : 's'})${m.signing > 0 ? ` and ${signingKeys(m.signing)}` : ''}`
        : `'${m.masterKeyId}' (still wraps ${signingKeys(m.signing)})`,
    );
    throw new ConfigError(
      `ENCRYPTION_KEYS lacks master key ${names.join(' and ')}: put it back after the active key, run npm run keys:rotate, and remove it only when npm run keys:status shows 0 tenants on it`,
    );
  }

  /** `actor` is who runs it (`cli:<user>`): each tenant's event, and the signing keys', name it. */
  async rotate(
    options: { reencrypt: boolean; batchSize: number; actor: RequestActor },
    onProgress: (progress: RotationProgress) => void = () => undefined,
  ): Promise<RotationSummary> {
    const started = Date.now();
    const mode = options.reencrypt ? 'reencrypt' : 'rewrap';
    const masterKeyId = this.dataKeys.activeMasterKeyId;
    const run = await this.journal.openRun(mode, masterKeyId);
    const filter: RotationFilter = mode === 'rewrap' ? { mode, masterKeyId } : { mode, startedAt: run.startedAt };
    const summary: RotationSummary = {
      mode,
      masterKeyId,
      rewrapped: 0,
      reencrypted: 0,
      integrations: 0,
      versions: 0,
      webhooks: 0,
      signingKeys: 0,
      failed: [],
      seconds: 0,
    };
    // The service's own signing keys first: a handful of rows, each re-wrapped like a data key.
    const signing = await this.signingKeys.rewrapAll(options.actor);
    summary.signingKeys = signing.rewrapped;
    for (const failure of signing.failed) summary.failed.push({ tenantId: `signing key '${failure.kid}'`, reason: failure.reason });
    const progress = { done: 0, total: await this.tenantKeys.countForRotation(filter), failed: 0 };
    onProgress(progress);

    // Walk by id so a tenant that fails is not picked up again in this run.
    let after = '';
    for (;;) {
      const batch = await this.tenantKeys.idsForRotation(filter, after, Math.max(1, Math.floor(options.batchSize)));
      if (batch.length === 0) break;
      for (const tenantId of batch) {
        try {
          if (mode === 'rewrap') {
            if (await this.tenantKeys.rewrap(tenantId, options.actor)) summary.rewrapped++;
          } else {
            const reencrypted = await this.replaceDataKey(tenantId, options.actor);
            if (reencrypted !== undefined) {
              summary.reencrypted++;
              summary.integrations += reencrypted.integrations;
              summary.versions += reencrypted.versions;
              summary.webhooks += reencrypted.webhooks;
            }
          }
        } catch (error) {
          summary.failed.push({ tenantId, reason: error instanceof Error ? error.message : String(error) });
          progress.failed++;
        }
        progress.done++;
        onProgress(progress);
      }
      after = batch[batch.length - 1];
    }

    if (summary.failed.length === 0) await this.journal.finish(run);
    summary.seconds = (Date.now() - started) / 1000;
    return summary;
  }

  /**
   * A new data key for the tenant and every secret re-encrypted under it, its
   * integrations', their kept versions' and its webhooks' signing secrets.
   * Returns how many of each it re-encrypted, or undefined when the tenant is gone.
   */
  private async replaceDataKey(
    tenantId: string,
    actor: RequestActor,
  ): Promise<{ integrations: number; versions: number; webhooks: number } | undefined> {
    const version = await this.tenantKeys.beginReplacement(tenantId);
    if (version === undefined) return undefined;
    const reencrypted = {
      ...(await this.integrations.reencryptSecrets(tenantId)),
      webhooks: await this.webhookSecrets.reencrypt(tenantId),
    };
    if (
      (await this.integrations.hasSecretsOutside(tenantId, version)) ||
      (await this.webhookSecrets.hasSecretsOutside(tenantId, version))
    ) {
      throw new Error(`secrets of tenant '${tenantId}' are still under the previous data key; run the rotation again`);
    }
    await this.tenantKeys.finishReplacement(tenantId, version, actor);
    return reencrypted;
  }
}
