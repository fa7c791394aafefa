import { Injectable, Logger } from '@nestjs/common';
import { AuditService } from '../../audit/audit.service';
import { IntegrationNotFoundError, SecretUnreadableError } from '../../common/errors/domain-errors';
import type { RequestActor } from '../../common/request-actor';
import { decryptSecret, encryptSecret, envelopeKeyVersion } from '../../crypto/secret-cipher';
import { DataKeyVersionGoneError, TenantKeysService } from '../../tenants/tenant-keys.service';
import { TenantsService } from '../../tenants/tenants.service';
import { IntegrationsRepository } from '../integrations.repository';
import { findVendor, type Vendor } from '../vendors/registry';
import { SECRET_MASK, toWire } from '../wire-format';
import { NothingToRestoreError, VersionNotFoundError } from './history-errors';
import type { IntegrationVersionEntity, VersionAction } from './integration-version.entity';
import type { VersionWire } from './version-wire';
import { type VersionCursor, VersionsRepository } from './versions.repository';

/** Reads that met a data key replaced under them try again this often (as IntegrationsService's reads do). */
const MAX_READ_ATTEMPTS = 3;
/** Versions re-encrypted or checked per query during a key rotation. */
const ROTATION_BATCH = 100;
/** The most integrations remembered for the next prune (see `noteWritten`); past it, the next prune walks them all. */
const MAX_REMEMBERED = 10_000;

/** What a version row stores, given the write that made it. */
export interface VersionRecord {
  tenantId: string;
  integrationId: string;
  revision: number;
  type: string;
  config: string;
  secrets: string;
  action: VersionAction;
  restoredFrom: number | null;
  actor: RequestActor;
  at: Date;
}

/** A version's content, secrets decrypted: what a restore writes back. Never for a response. */
export interface VersionContent {
  vendor: Vendor;
  fields: Record<string, string>;
}

/**
 * The history of each integration (versions and rollback): the rows written
 * beside every integration write, and what the history routes, the restore,
 * key rotation and the pruner need of them. Version secrets are bound (AAD)
 * to their revision, so a version's ciphertext does not decrypt anywhere else.
 */
@Injectable()
export class VersionsService {
  private readonly logger = new Logger('IntegrationHistory');
  /** Integrations this instance wrote past the kept number since the last prune. */
  private written = new Set<string>();
  private overflowed = false;

  constructor(
    private readonly versions: VersionsRepository,
    private readonly integrations: IntegrationsRepository,
    private readonly tenants: TenantsService,
    private readonly tenantKeys: TenantKeysService,
    private readonly audit: AuditService,
  ) {}

  /** The row of a version: who wrote it, through which request, cut to the columns' sizes. */
  static row(record: VersionRecord): IntegrationVersionEntity {
    return {
      tenantId: record.tenantId,
      integrationId: record.integrationId,
      revision: record.revision,
      type: record.type,
      config: record.config,
      secrets: record.secrets,
      action: record.action,
      deleted: record.action === 'delete',
      restoredFrom: record.restoredFrom,
      actorSub: record.actor.sub.slice(0, 255),
      requestId: record.actor.requestId === '' ? null : record.actor.requestId.slice(0, 64),
      createdAt: record.at,
    };
  }

  // --- the history routes ---

  /** A page of the integration's versions, newest first, secrets always masked. 404 when the integration never existed. */
  async list(tenantId: string, id: string, limit: number, offset: number): Promise<{ items: VersionWire[]; total: number }> {
    const [rows, total] = await this.versions.page(tenantId, id, limit, offset);
    // Only an empty history asks whether the integration (or its tombstone) is there at all.
    if (total === 0) await this.requireIntegration(tenantId, id);
    return { items: await Promise.all(rows.map((row) => this.present(row, false))), total };
  }

  /**
   * One version, its secrets masked unless `reveal`. A revealing read of a
   * version with secrets is an audit event written before the answer (503
   * and no secret when it cannot be written).
   */
  async get(tenantId: string, id: string, revision: number, options: { reveal: boolean; actor: RequestActor }): Promise<VersionWire> {
    return this.readAgainIfRotated(async () => {
      const row = await this.findOrThrow(tenantId, id, revision);
      const wire = await this.present(row, options.reveal);
      if (options.reveal && row.secrets !== '{}') {
        await this.audit.recordSecretRead({ tenantId, actor: options.actor, targets: [`${id}/versions/${revision}`] });
      }
      return wire;
    });
  }

  /** What a restore of `revision` writes back: 404 for a version that is not there, 409 for a delete's. */
  async contentOf(tenantId: string, id: string, revision: number): Promise<VersionContent> {
    return this.readAgainIfRotated(async () => {
      const row = await this.findOrThrow(tenantId, id, revision);
      if (row.deleted) throw new NothingToRestoreError(id, revision);
      const vendor = vendorOf(row.type);
      const fields: Record<string, string> = { ...(JSON.parse(row.config) as Record<string, string>) };
      for (const [field, envelope] of Object.entries(JSON.parse(row.secrets) as Record<string, string>)) {
        fields[field] = await this.decrypt(row, field, envelope);
      }
      return { vendor, fields };
    });
  }

  // --- pruning (HistoryPruner) ---

  /** A write made `revision` of the integration: past the kept number, the next prune trims it. */
  noteWritten(tenantId: string, id: string, revision: number, keep: number): void {
    if (revision <= keep) return;
    if (this.written.size >= MAX_REMEMBERED) this.overflowed = true;
    else this.written.add(`${tenantId}\0${id}`);
  }

  /** The integrations remembered since the last call, or undefined when there were too many to remember (walk them all). */
  takeWritten(): { tenantId: string; id: string }[] | undefined {
    const written = this.written;
    const overflowed = this.overflowed;
    this.written = new Set();
    this.overflowed = false;
    if (overflowed) return undefined;
    return [...written].map((key) => {
      const [tenantId, id] = key.split('\0');
      return { tenantId, id };
    });
  }

  // --- key rotation ---

  /**
   * Every version of the tenant re-encrypted under its current data key, in
   * batches, each version one fenced write; the same plaintext, AAD and
   * revision. Returns how many it re-encrypted.
   */
  async reencrypt(tenantId: string): Promise<number> {
    let reencrypted = 0;
    let after: VersionCursor | undefined;
    for (;;) {
      const batch = await this.versions.withSecrets(tenantId, after, ROTATION_BATCH);
      if (batch.length === 0) return reencrypted;
      for (const version of batch) {
        for (let attempt = 1; ; attempt++) {
          const { version: keyVersion, key } = await this.tenantKeys.current(tenantId);
          const envelopes = JSON.parse(version.secrets) as Record<string, string>;
          if (Object.values(envelopes).every((envelope) => envelopeKeyVersion(envelope) === keyVersion)) break;
          const secrets: Record<string, string> = {};
          for (const [field, envelope] of Object.entries(envelopes)) {
            const at = { tenantId, integrationId: version.integrationId, field, revision: version.revision };
            secrets[field] =
              envelopeKeyVersion(envelope) === keyVersion
                ? envelope
                : encryptSecret(key, keyVersion, at, await this.decrypt(version, field, envelope));
          }
          if (
            await this.versions.replaceSecrets(
              { ...version, secrets: JSON.stringify(secrets) },
              this.tenantKeys.writeFence(tenantId, keyVersion),
            )
          ) {
            reencrypted++;
            break;
          }
          // Refused: the data key changed again (try again under it), the tenant went (current() says so), or the version was pruned.
          this.tenantKeys.forget(tenantId);
          if ((await this.tenantKeys.current(tenantId)).version === keyVersion) break;
          if (attempt >= 3)
            throw new Error(`a version of '${version.integrationId}' could not be re-encrypted: the data key kept changing`);
        }
      }
      const last = batch[batch.length - 1];
      after = { integrationId: last.integrationId, revision: last.revision };
    }
  }

  /** Whether a version of the tenant still holds a secret under a data-key version other than `version`. */
  async hasSecretsOutside(tenantId: string, version: number): Promise<boolean> {
    let after: VersionCursor | undefined;
    for (;;) {
      const batch = await this.versions.withSecrets(tenantId, after, ROTATION_BATCH);
      if (batch.length === 0) return false;
      const outside = batch.some((row) =>
        Object.values(JSON.parse(row.secrets) as Record<string, string>).some((envelope) => envelopeKeyVersion(envelope) !== version),
      );
      if (outside) return true;
      const last = batch[batch.length - 1];
      after = { integrationId: last.integrationId, revision: last.revision };
    }
  }

  /** Versions with content, and their secret fields, per tenant, for keys:status. */
  async inventory(): Promise<Map<string, { versions: number; secrets: number }>> {
    const counts = new Map<string, { versions: number; secrets: number }>();
    for (const { tenantId, type, count } of await this.versions.countsByTenantAndType()) {
      const entry = counts.get(tenantId) ?? { versions: 0, secrets: 0 };
      entry.versions += count;
      entry.secrets += count * (findVendor(type)?.secretFields.size ?? 0);
      counts.set(tenantId, entry);
    }
    return counts;
  }

  // --- helpers ---

  private async findOrThrow(tenantId: string, id: string, revision: number): Promise<IntegrationVersionEntity> {
    const row = await this.versions.findOne(tenantId, id, revision);
    if (row !== null) return row;
    await this.requireIntegration(tenantId, id);
    throw new VersionNotFoundError(id, revision);
  }

  /** 404 (tenant, then integration) unless the integration is there, live or deleted. */
  private async requireIntegration(tenantId: string, id: string): Promise<void> {
    if ((await this.integrations.findCurrent(tenantId, id)) !== null) return;
    await this.tenants.requireLive(tenantId);
    throw new IntegrationNotFoundError(tenantId, id);
  }

  private async present(row: IntegrationVersionEntity, reveal: boolean): Promise<VersionWire> {
    const wire: VersionWire = {
      revision: row.revision,
      action: row.action,
      actor: row.actorSub,
      'request-id': row.requestId,
      'created-at': row.createdAt.toISOString(),
      'restored-from': row.restoredFrom,
      deleted: row.deleted,
    };
    if (row.deleted) return wire;
    const fields: Record<string, string> = { ...(JSON.parse(row.config) as Record<string, string>) };
    for (const [field, envelope] of Object.entries(JSON.parse(row.secrets) as Record<string, string>)) {
      fields[field] = reveal ? await this.decrypt(row, field, envelope) : SECRET_MASK;
    }
    return { ...wire, integration: toWire(vendorOf(row.type), row.integrationId, fields) };
  }

  private async decrypt(
    row: Pick<IntegrationVersionEntity, 'tenantId' | 'integrationId' | 'revision'>,
    field: string,
    envelope: string,
  ): Promise<string> {
    const { tenantId, integrationId, revision } = row;
    let version: number;
    try {
      version = envelopeKeyVersion(envelope);
    } catch (error) {
      throw this.unreadable(row, field, error);
    }
    const key = await this.tenantKeys.version(tenantId, version);
    try {
      return decryptSecret(key, version, { tenantId, integrationId, field, revision }, envelope);
    } catch (error) {
      throw this.unreadable(row, field, error);
    }
  }

  private unreadable(
    row: Pick<IntegrationVersionEntity, 'tenantId' | 'integrationId' | 'revision'>,
    field: string,
    error: unknown,
  ): SecretUnreadableError {
    // Name the place, never the value.
    this.logger.error(
      `secret ${field} of version ${row.revision} of ${row.tenantId}/${row.integrationId} failed to decrypt: ${(error as Error).message}`,
    );
    return new SecretUnreadableError(row.tenantId, row.integrationId);
  }

  private async readAgainIfRotated<T>(read: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await read();
      } catch (error) {
        if (!(error instanceof DataKeyVersionGoneError) || attempt >= MAX_READ_ATTEMPTS) throw error;
      }
    }
  }
}

function vendorOf(type: string): Vendor {
  const vendor = findVendor(type);
  // Only a vendor removed from the registry while versions of it remain gets here.
  if (vendor === undefined) throw new Error(`stored version has unknown type '${type}'`);
  return vendor;
}
