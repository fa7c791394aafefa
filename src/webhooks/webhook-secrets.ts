import { Injectable } from '@nestjs/common';
import { decryptSecret, encryptSecret, envelopeKeyVersion, type WebhookSecretLocation } from '../crypto/secret-cipher';
import { TenantKeysService } from '../tenants/tenant-keys.service';
import type { WebhookEntity } from './webhook.entity';
import { WebhooksRepository } from './webhooks.repository';

const ROTATION_ATTEMPTS = 3;

/**
 * Webhook signing secrets at rest: envelopes under the tenant's data key,
 * bound (AAD) to tenant, webhook and field (`secret`, `previous-secret`), so
 * a ciphertext copied to another row or field does not decrypt. Also the
 * webhooks' part of a master-key rotation (re-encryption, the check that none
 * is left under the old data key, keys:status counts).
 */
@Injectable()
export class WebhookSecrets {
  constructor(
    private readonly tenantKeys: TenantKeysService,
    private readonly repository: WebhooksRepository,
  ) {}

  /** `plaintext` sealed under the tenant's current data key; `keyVersion` is for the write's fence. */
  async seal(
    tenantId: string,
    webhookId: string,
    field: WebhookSecretLocation['field'],
    plaintext: string,
  ): Promise<{ envelope: string; keyVersion: number }> {
    const { version, key } = await this.tenantKeys.current(tenantId);
    return { envelope: encryptSecret(key, version, { tenantId, webhookId, field }, plaintext), keyVersion: version };
  }

  async open(tenantId: string, webhookId: string, field: WebhookSecretLocation['field'], envelope: string): Promise<string> {
    const version = envelopeKeyVersion(envelope);
    const key = await this.tenantKeys.version(tenantId, version);
    return decryptSecret(key, version, { tenantId, webhookId, field }, envelope);
  }

  /** The secrets that sign now: the current one, and the one it replaced while the rotation's overlap lasts. */
  async signingSecrets(webhook: WebhookEntity, now = new Date()): Promise<string[]> {
    const secrets = [await this.open(webhook.tenantId, webhook.id, 'secret', webhook.secret)];
    if (webhook.previousSecret !== null && webhook.previousSecretExpiresAt !== null && webhook.previousSecretExpiresAt > now) {
      secrets.push(await this.open(webhook.tenantId, webhook.id, 'previous-secret', webhook.previousSecret));
    }
    return secrets;
  }

  // --- master-key rotation (asked by the keys module) ---

  /** Step 2 of a data-key replacement for the webhooks: every secret re-encrypted under the current data key. Returns how many webhooks changed. */
  async reencrypt(tenantId: string): Promise<number> {
    let reencrypted = 0;
    for (const listed of await this.repository.allOf(tenantId)) {
      for (let attempt = 1; ; attempt++) {
        const row = await this.repository.find(tenantId, listed.id);
        if (row === null) break;
        const { version } = await this.tenantKeys.current(tenantId);
        const envelopes = [row.secret, row.previousSecret].filter((e): e is string => e !== null);
        if (envelopes.every((envelope) => envelopeKeyVersion(envelope) === version)) break;
        const secret = await this.seal(tenantId, row.id, 'secret', await this.open(tenantId, row.id, 'secret', row.secret));
        const previous =
          row.previousSecret === null
            ? null
            : (
                await this.seal(
                  tenantId,
                  row.id,
                  'previous-secret',
                  await this.open(tenantId, row.id, 'previous-secret', row.previousSecret),
                )
              ).envelope;
        const changes = { secret: secret.envelope, previousSecret: previous, previousSecretExpiresAt: row.previousSecretExpiresAt };
        if (
          await this.repository.replaceSecrets(
            tenantId,
            row.id,
            row.secret,
            changes,
            this.tenantKeys.writeFence(tenantId, secret.keyVersion),
          )
        ) {
          reencrypted++;
          break;
        }
        // Refused: rotated meanwhile (read it again), the data key changed again, or the tenant went (current() says so).
        this.tenantKeys.forget(tenantId);
        if (attempt >= ROTATION_ATTEMPTS) throw new Error(`the secret of webhook '${row.id}' could not be re-encrypted: it kept changing`);
      }
    }
    return reencrypted;
  }

  /** Whether a webhook secret of the tenant is still encrypted under a data-key version other than `version`. */
  async hasSecretsOutside(tenantId: string, version: number): Promise<boolean> {
    return (await this.repository.allOf(tenantId)).some((row) =>
      [row.secret, row.previousSecret].some((envelope) => envelope !== null && envelopeKeyVersion(envelope) !== version),
    );
  }

  /** Webhooks and their stored secrets per tenant, for keys:status. */
  async inventory(): Promise<Map<string, { webhooks: number; secrets: number }>> {
    return new Map((await this.repository.countsByTenant()).map((row) => [row.tenantId, { webhooks: row.webhooks, secrets: row.secrets }]));
  }
}
