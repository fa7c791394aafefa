import { Inject, Injectable, Logger } from '@nestjs/common';
import { IntegrationNotFoundError, UnprocessableError, ValidationFailedError } from '../../common/errors/domain-errors';
import { CONFIGURATION, type Configuration } from '../../config/configuration';
import type { VerificationConfig } from '../../config/verification.config';
import { DatabaseService } from '../../database/database.service';
import { TenantsService } from '../../tenants/tenants.service';
import { applyPatch, IntegrationBodyValidator, isJsonObject, type IntegrationInput } from '../integration-body.validator';
import { IntegrationEntity } from '../integration.entity';
import { IntegrationsService, type StoredCredentials, type WriteOptions } from '../integrations.service';
import type { Vendor } from '../vendors/registry';
import { SECRET_MASK } from '../wire-format';
import { runVerifier } from './redact';
import { VendorHttpClient } from './vendor-http.client';
import { IntegrationNotVerifiedError, type VerificationResult } from './verification-result';

/** What a checked write adds to its WriteOptions (VERIFY_ON_SAVE). */
export type CheckedWrite = Pick<WriteOptions, 'expectedRevision' | 'verification'>;

interface Check {
  result: VerificationResult;
  /** Server-assigned fields the vendor told us (Salesforce `instance`); empty unless ok. */
  learned: Record<string, string>;
}

/**
 * Checks credentials against their vendor (issue 6). The vendor call always
 * happens outside any database transaction: a tenant's row lock is never held
 * while a vendor takes its time. The write that follows is pinned to the
 * revision the credentials were read from, so what is stored is what was checked.
 */
@Injectable()
export class VerificationService {
  private readonly logger = new Logger('Verification');
  private readonly config: VerificationConfig;
  private readonly http: VendorHttpClient;

  constructor(
    private readonly integrations: IntegrationsService,
    private readonly validator: IntegrationBodyValidator,
    private readonly tenants: TenantsService,
    private readonly db: DatabaseService,
    @Inject(CONFIGURATION) config: Configuration,
  ) {
    this.config = config.verification;
    this.http = new VendorHttpClient({ timeoutMs: this.config.timeoutMs });
  }

  /** POST …/verify: checks the stored credentials and keeps the result (and, on success, what the vendor taught us). */
  async verifyStored(tenantId: string, id: string): Promise<VerificationResult> {
    const stored = await this.integrations.credentialsOf(tenantId, id);
    const { result, learned } = await this.check(stored.vendor, stored.fields);
    await this.record(tenantId, id, stored, result, learned);
    return result;
  }

  /** GET …/verification: the last result kept for the integration's current credentials. */
  async lastResult(tenantId: string, id: string): Promise<VerificationResult> {
    const manager = this.db.dataSource.manager;
    await this.tenants.requireLive(manager, tenantId);
    const row = await manager.findOne(IntegrationEntity, {
      where: { tenantId, id },
      select: { tenantId: true, id: true, verifyStatus: true, verifyMessage: true, verifiedAt: true },
    });
    if (row === null) throw new IntegrationNotFoundError(tenantId, id);
    if (!row.verifyStatus || !row.verifiedAt) throw new IntegrationNotVerifiedError(id);
    return { status: row.verifyStatus === 'ok' ? 'ok' : 'failed', message: row.verifyMessage ?? '', checkedAt: row.verifiedAt };
  }

  /** POST with ?dry-run=true: the check a write would make, and nothing stored. */
  async dryRun(tenantId: string, input: IntegrationInput): Promise<VerificationResult> {
    const { credentials } = await this.completeForPut(tenantId, input);
    return (await this.check(input.vendor, credentials)).result;
  }

  /**
   * VERIFY_ON_SAVE for POST: 422 when the vendor rejects the credentials; on success
   * the learned server-assigned fields go into `input`, and the options pin the write.
   */
  async checkPut(tenantId: string, input: IntegrationInput): Promise<CheckedWrite> {
    if (!this.config.onSave) return {};
    const { credentials, expectedRevision } = await this.completeForPut(tenantId, input);
    const verification = await this.mustPass(input.vendor, credentials, input.fields);
    return { expectedRevision, verification };
  }

  /**
   * VERIFY_ON_SAVE for PATCH: checks the integration as it would be after the change.
   * Returns the body to write (with learned fields added) and the options that pin it
   * to the revision it was merged with. Bodies the write refuses anyway are passed on
   * unchecked, pinned, so it refuses them with its usual 400.
   */
  async checkPatch(tenantId: string, id: string, body: unknown): Promise<{ body: unknown; options: CheckedWrite }> {
    if (!this.config.onSave || !isJsonObject(body)) return { body, options: {} };
    const stored = await this.integrations.credentialsOf(tenantId, id);
    const pinned: CheckedWrite = { expectedRevision: stored.revision };
    if (body.type !== undefined && body.type !== stored.vendor.type) return { body, options: pinned };
    // The write's own merge, on plaintext: a secret sent as the mask resolves to the stored value.
    const merged = applyPatch({ id, type: stored.vendor.type, ...stored.fields }, body, stored.vendor);
    const unresolved = [...stored.vendor.secretFields].find((field) => merged[field] === SECRET_MASK);
    if (unresolved !== undefined) throw maskWithoutStoredSecret(unresolved);
    const input = await this.validator.validate(merged, id);
    const changed: Record<string, unknown> = { ...body };
    const verification = await this.mustPass(input.vendor, input.fields, changed);
    return { body: changed, options: { ...pinned, verification } };
  }

  /**
   * The credentials a POST would store, in plaintext: secrets sent as the mask are
   * taken from the stored row (same type only, as the write does). When any was,
   * the write is pinned to that row's revision.
   */
  private async completeForPut(
    tenantId: string,
    input: IntegrationInput,
  ): Promise<{ credentials: Record<string, string>; expectedRevision?: number }> {
    const credentials = { ...input.fields };
    const masked = [...input.vendor.secretFields].filter((field) => credentials[field] === SECRET_MASK);
    if (masked.length === 0) {
      // Nothing to complete; still a 404 for a missing tenant before any vendor call.
      await this.tenants.get(tenantId);
      return { credentials };
    }
    const stored = await this.integrations.findCredentials(tenantId, input.id);
    const kept = stored !== null && stored.vendor.type === input.vendor.type ? stored : undefined;
    for (const field of masked) {
      const value = kept?.fields[field];
      if (value === undefined) throw maskWithoutStoredSecret(field);
      credentials[field] = value;
    }
    return { credentials, expectedRevision: kept?.revision };
  }

  /** Checks, and throws 422 with the vendor's (redacted) message when the credentials fail. */
  private async mustPass(vendor: Vendor, credentials: Record<string, string>, target: Record<string, unknown>): Promise<VerificationResult> {
    const { result, learned } = await this.check(vendor, credentials);
    if (result.status !== 'ok') throw new UnprocessableError(result.message);
    Object.assign(target, learned);
    return result;
  }

  private async check(vendor: Vendor, credentials: Readonly<Record<string, string>>): Promise<Check> {
    const baseUrl = this.config.baseUrls[vendor.type] ?? vendor.defaultBaseUrl;
    const outcome = await runVerifier(vendor, vendor.verify, credentials, vendor.secretFields, { baseUrl, http: this.http });
    const result: VerificationResult = { status: outcome.ok ? 'ok' : 'failed', message: outcome.message, checkedAt: new Date() };
    // Only fields the vendor definition says the server assigns may be set this way.
    const learned = Object.fromEntries(
      Object.entries(outcome.updates ?? {}).filter(([field]) => vendor.serverAssignedFields?.includes(field)),
    );
    return { result, learned };
  }

  /**
   * Keeps the result on the row it was read from. If the credentials changed while
   * the vendor was asked, the result describes credentials that are gone: not kept.
   */
  private async record(tenantId: string, id: string, stored: StoredCredentials, result: VerificationResult, learned: Record<string, string>): Promise<void> {
    const kept = await this.db.transaction(async (manager) => {
      await this.tenants.requireLive(manager, tenantId, { lock: true });
      const row = await manager.findOne(IntegrationEntity, { where: { tenantId, id } });
      if (row === null) throw new IntegrationNotFoundError(tenantId, id);
      if (row.revision !== stored.revision) return false;
      const change: Partial<IntegrationEntity> = { verifyStatus: result.status, verifyMessage: result.message, verifiedAt: result.checkedAt };
      const config = JSON.parse(row.config) as Record<string, string>;
      const changed = Object.entries(learned).filter(([field, value]) => config[field] !== value);
      if (changed.length > 0) {
        // A learned field is part of the integration: a new revision, so ETags move.
        change.config = JSON.stringify({ ...config, ...Object.fromEntries(changed) });
        change.revision = row.revision + 1;
        change.updatedAt = new Date();
      }
      await manager.update(IntegrationEntity, { tenantId, id }, change);
      return true;
    });
    // Status only: the message names accounts, and logs need not.
    this.logger.log(`${tenantId}/${id} (${stored.vendor.type}) verified: ${result.status}${kept ? '' : ' (not kept: changed meanwhile)'}`);
  }
}

/** The same 400 the write answers to a mask with no stored secret behind it. */
function maskWithoutStoredSecret(field: string): ValidationFailedError {
  const message = `${field}: "${SECRET_MASK}" keeps a stored secret, and there is none; send the real value`;
  return new ValidationFailedError(message, [{ field, message }]);
}
