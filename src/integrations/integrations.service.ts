import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  IntegrationNotFoundError,
  PreconditionFailedError,
  PreconditionRequiredError,
  SecretUnreadableError,
  TenantNotFoundError,
  ValidationFailedError,
} from '../common/errors/domain-errors';
import { CONFIGURATION, type Configuration } from '../config/configuration';
import { DataKeyService } from '../crypto/data-key.service';
import { decryptSecret, DoubleEncryptionError, encryptSecret } from '../crypto/secret-cipher';
import { DatabaseService, type SqlTransaction } from '../database/database.service';
import { applyPatch, IntegrationBodyValidator, isJsonObject, type IntegrationInput } from './integration-body.validator';
import { IntegrationsRepository, type IntegrationRecord, type IntegrationRow, type TenantKeyRow } from './integrations.repository';
import type { VerificationResult } from './verification/verification-result';
import { findVendor, type Vendor } from './vendors/registry';
import { etagOf, ifMatchAllows, SECRET_MASK, toWire, type IntegrationWire } from './wire-format';

export interface ReadOptions {
  /** Show secrets in plaintext (scope integrations:secrets) instead of the mask. */
  reveal: boolean;
}

export interface WriteOptions extends ReadOptions {
  /** The If-Match header, if any. */
  ifMatch?: string;
  /**
   * Set by VerificationService (VERIFY_ON_SAVE): the revision whose stored secrets
   * the checked credentials were completed from (null: there was no row), so the
   * write fails with 412 rather than store secrets that were not checked.
   */
  expectedRevision?: number | null;
  /** The check of the credentials being written (VERIFY_ON_SAVE); without it the write clears the last result. */
  verification?: VerificationResult;
}

/** An integration's stored credentials, secrets decrypted: for the vendor check only, never for a response. */
export interface StoredCredentials {
  vendor: Vendor;
  fields: Record<string, string>;
  revision: number;
}

export interface IntegrationResult {
  wire: IntegrationWire;
  etag: string;
}

/** Stored secrets: field → enc:v1 envelope under the tenant's data key. */
type SecretEnvelopes = Record<string, string>;

/** A row just written, with its JSON columns also as objects (the answer is built from them). */
interface Written {
  record: IntegrationRecord;
  config: Record<string, string>;
  secrets: SecretEnvelopes;
}

@Injectable()
export class IntegrationsService {
  private readonly logger = new Logger('Integrations');
  private readonly requireIfMatch: boolean;

  constructor(
    private readonly db: DatabaseService,
    private readonly repository: IntegrationsRepository,
    private readonly dataKeys: DataKeyService,
    private readonly validator: IntegrationBodyValidator,
    @Inject(CONFIGURATION) config: Configuration,
  ) {
    this.requireIfMatch = config.app.requireIfMatch;
  }

  async get(tenantId: string, id: string, options: ReadOptions): Promise<IntegrationResult> {
    const { tenant, integration } = await this.repository.findOne(tenantId, id);
    if (tenant === undefined || tenant.deleted) throw new TenantNotFoundError(tenantId);
    if (integration === undefined) throw new IntegrationNotFoundError(tenantId, id);
    return { wire: this.present(tenant, integration, options), etag: etagOf(integration.revision) };
  }

  async list(tenantId: string, limit: number, offset: number, options: ReadOptions): Promise<{ items: IntegrationWire[]; total: number }> {
    const { tenant, items, total } = await this.repository.findPage(tenantId, limit, offset);
    if (tenant === undefined || tenant.deleted) throw new TenantNotFoundError(tenantId);
    return { items: items.map((row) => this.present(tenant, row, options)), total };
  }

  /**
   * Create or replace (POST). The tenant row is locked for the transaction, so
   * concurrent writes of one tenant (and key rotation) queue instead of racing:
   * fifty parallel creates of one id end as one row.
   */
  async put(tenantId: string, input: IntegrationInput, options: WriteOptions): Promise<IntegrationResult & { created: boolean }> {
    return this.db.sqlTransaction(async (tx) => {
      const { tenant, existing } = await this.lockForWrite(tx, tenantId, input.id);
      this.checkPrecondition(existing, options.ifMatch, options.expectedRevision);
      const sameType = existing !== null && existing.type === input.vendor.type;
      const stored = sameType ? this.decodeStored(existing) : { config: {}, secrets: {} };
      // Server-assigned fields (Salesforce instance) survive a replace that does not send them.
      for (const field of input.vendor.serverAssignedFields ?? []) {
        if (input.fields[field] === undefined && stored.config[field] !== undefined) input.fields[field] = stored.config[field];
      }
      const saved = await this.save(tx, tenant, input, existing, stored.secrets, options.verification);
      return { ...this.presentWritten(tenant, input, saved, options), created: existing === null };
    });
  }

  /** Change some fields (PATCH): fields left out keep their values, `null` clears an optional one; `type` cannot change. */
  async patch(tenantId: string, id: string, body: unknown, options: WriteOptions): Promise<IntegrationResult> {
    if (!isJsonObject(body)) throw new ValidationFailedError('Request body must be a JSON object', [{ field: 'body', message: 'must be a JSON object' }]);
    return this.db.sqlTransaction(async (tx) => {
      const { tenant, existing } = await this.lockForWrite(tx, tenantId, id);
      if (existing === null) throw new IntegrationNotFoundError(tenantId, id);
      this.checkPrecondition(existing, options.ifMatch, options.expectedRevision);
      if (body.type !== undefined && body.type !== existing.type) {
        const message = `type cannot change (this integration is '${existing.type}'); delete it and create a new one`;
        throw new ValidationFailedError(message, [{ field: 'type', message }]);
      }
      const stored = this.decodeStored(existing);
      // Stored secrets stand as the mask: save() keeps their envelopes without decrypting them.
      const current: Record<string, unknown> = { id, type: existing.type, ...stored.config };
      for (const field of Object.keys(stored.secrets)) current[field] = SECRET_MASK;
      const input = await this.validator.validate(applyPatch(current, body, this.vendorOf(existing)), id);
      const saved = await this.save(tx, tenant, input, existing, stored.secrets, options.verification);
      return this.presentWritten(tenant, input, saved, options, new Set(Object.keys(body)));
    });
  }

  async delete(tenantId: string, id: string, ifMatch: string | undefined): Promise<void> {
    await this.db.sqlTransaction(async (tx) => {
      const { existing } = await this.lockForWrite(tx, tenantId, id);
      if (existing === null) throw new IntegrationNotFoundError(tenantId, id);
      this.checkPrecondition(existing, ifMatch);
      await this.repository.remove(tx, tenantId, id);
    });
  }

  /** The live tenant, locked until the transaction ends, and the integration as stored (null: none yet). */
  private async lockForWrite(tx: SqlTransaction, tenantId: string, id: string): Promise<{ tenant: TenantKeyRow; existing: IntegrationRow | null }> {
    const { tenant, integration } = await this.repository.lockForWrite(tx, tenantId, id);
    if (tenant === undefined || tenant.deleted) throw new TenantNotFoundError(tenantId);
    return { tenant, existing: integration ?? null };
  }

  private checkPrecondition(existing: IntegrationRow | null, ifMatch: string | undefined, expectedRevision?: number | null): void {
    if (expectedRevision !== undefined && (existing?.revision ?? null) !== expectedRevision) {
      throw new PreconditionFailedError('The integration changed while its credentials were being verified; send the request again');
    }
    if (ifMatch === undefined) {
      if (this.requireIfMatch && existing !== null) {
        throw new PreconditionRequiredError('If-Match is required: send the ETag of your last read of this integration');
      }
      return;
    }
    if (!ifMatchAllows(ifMatch, existing?.revision)) {
      throw new PreconditionFailedError('If-Match does not match the current version; read the integration again and retry');
    }
  }

  /** Encrypts what changed, keeps the envelopes of secrets sent back as the mask, and writes the row. */
  private async save(
    tx: SqlTransaction,
    tenant: TenantKeyRow,
    input: IntegrationInput,
    existing: IntegrationRow | null,
    storedSecrets: SecretEnvelopes,
    verification: VerificationResult | undefined,
  ): Promise<Written> {
    const { vendor, fields } = input;
    const config: Record<string, string> = {};
    const secrets: SecretEnvelopes = {};
    let dataKey: Buffer | undefined;
    for (const field of vendor.fields) {
      const value = fields[field.name];
      if (value === undefined) continue;
      if (!field.secret) {
        config[field.name] = value;
      } else if (value === SECRET_MASK) {
        const kept = storedSecrets[field.name];
        if (kept === undefined) {
          const message = `${field.name}: "${SECRET_MASK}" keeps a stored secret, and there is none; send the real value`;
          throw new ValidationFailedError(message, [{ field: field.name, message }]);
        }
        secrets[field.name] = kept;
      } else {
        dataKey ??= this.tenantDataKey(tenant);
        try {
          secrets[field.name] = encryptSecret(dataKey, tenant.dataKeyVersion, { tenantId: tenant.id, integrationId: input.id, field: field.name }, value);
        } catch (error) {
          if (error instanceof DoubleEncryptionError) {
            throw new ValidationFailedError(error.message, [{ field: field.name, message: error.message }]);
          }
          throw error;
        }
      }
    }
    const now = new Date();
    const row: IntegrationRecord = {
      tenantId: tenant.id,
      id: input.id,
      type: vendor.type,
      config: JSON.stringify(config),
      secrets: JSON.stringify(secrets),
      revision: existing === null ? 1 : existing.revision + 1,
      createdAt: now,
      updatedAt: now,
      // The last check describes the credentials it checked: new ones start unverified.
      verifyStatus: verification?.status ?? null,
      verifyMessage: verification?.message ?? null,
      verifiedAt: verification?.checkedAt ?? null,
    };
    if (existing === null) await this.repository.insert(tx, row);
    else await this.repository.update(tx, row);
    return { record: row, config, secrets };
  }

  // --- Verification (issue 6): the plaintext credentials a vendor check needs ---

  /**
   * The stored credentials with secrets decrypted, or null when the tenant is live
   * but has no such integration. Only VerificationService calls this; what it
   * returns never goes into a response.
   */
  async findCredentials(tenantId: string, id: string): Promise<StoredCredentials | null> {
    const { tenant, integration } = await this.repository.findOne(tenantId, id);
    if (tenant === undefined || tenant.deleted) throw new TenantNotFoundError(tenantId);
    if (integration === undefined) return null;
    const { config, secrets } = this.decodeStored(integration);
    const fields: Record<string, string> = { ...config };
    for (const [field, envelope] of Object.entries(secrets)) {
      fields[field] = this.decrypt(tenant, integration.id, field, envelope);
    }
    return { vendor: this.vendorOf(integration), fields, revision: integration.revision };
  }

  async credentialsOf(tenantId: string, id: string): Promise<StoredCredentials> {
    const found = await this.findCredentials(tenantId, id);
    if (found === null) throw new IntegrationNotFoundError(tenantId, id);
    return found;
  }

  // --- end of verification ---

  private tenantDataKey(tenant: TenantKeyRow): Buffer {
    if (tenant.dataKeyWrapped === null) throw new TenantNotFoundError(tenant.id);
    return this.dataKeys.unwrap(tenant.id, tenant.dataKeyVersion, tenant.dataKeyWrapped);
  }

  private decodeStored(row: { config: string; secrets: string }): { config: Record<string, string>; secrets: SecretEnvelopes } {
    return { config: JSON.parse(row.config) as Record<string, string>, secrets: JSON.parse(row.secrets) as SecretEnvelopes };
  }

  /**
   * A stored integration on the wire: secrets masked, or decrypted for a
   * revealing token. Built in one pass over the vendor's fields (this runs
   * for every row of every read).
   */
  private present(tenant: TenantKeyRow, row: IntegrationRow, options: ReadOptions): IntegrationWire {
    const vendor = this.vendorOf(row);
    const { config, secrets } = this.decodeStored(row);
    const wire: IntegrationWire = { id: row.id, type: vendor.type };
    for (const field of vendor.fields) {
      const name = field.name;
      if (!field.secret) {
        if (config[name] !== undefined) wire[name] = config[name];
      } else if (secrets[name] !== undefined) {
        wire[name] = options.reveal ? this.decrypt(tenant, row.id, name, secrets[name]) : SECRET_MASK;
      }
    }
    return wire;
  }

  /**
   * The answer to a write: what the caller sent (as the original API echoed it),
   * with secrets the caller did not send shown masked or, for a revealing
   * token, decrypted.
   */
  private presentWritten(
    tenant: TenantKeyRow,
    input: IntegrationInput,
    saved: Written,
    options: ReadOptions,
    sentFields?: ReadonlySet<string>,
  ): IntegrationResult {
    const { record, config, secrets } = saved;
    const fields: Record<string, string> = { ...config };
    for (const field of Object.keys(secrets)) {
      const sent = input.fields[field];
      const echo = sent !== undefined && sent !== SECRET_MASK && (sentFields === undefined || sentFields.has(field));
      if (echo) fields[field] = sent;
      else fields[field] = options.reveal ? this.decrypt(tenant, record.id, field, secrets[field]) : SECRET_MASK;
    }
    return { wire: toWire(input.vendor, record.id, fields), etag: etagOf(record.revision) };
  }

  private decrypt(tenant: TenantKeyRow, integrationId: string, field: string, envelope: string): string {
    const tenantId = tenant.id;
    try {
      const dataKey = this.tenantDataKey(tenant);
      return decryptSecret(dataKey, tenant.dataKeyVersion, { tenantId, integrationId, field }, envelope);
    } catch (error) {
      if (error instanceof TenantNotFoundError) throw error;
      // Name the place, never the value: the log must not help an attacker either.
      this.logger.error(`secret ${field} of ${tenantId}/${integrationId} failed to decrypt: ${(error as Error).message}`);
      throw new SecretUnreadableError(tenantId, integrationId);
    }
  }

  private vendorOf(row: { type: string }): Vendor {
    const vendor = findVendor(row.type);
    // Only a vendor removed from the registry while rows of it remain gets here.
    if (vendor === undefined) throw new Error(`stored integration has unknown type '${row.type}'`);
    return vendor;
  }
}
