import { Inject, Injectable, Logger } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import {
  AUDIT_UNAVAILABLE_MESSAGES,
  DomainError,
  IntegrationNotFoundError,
  PreconditionFailedError,
  PreconditionRequiredError,
  SecretUnreadableError,
  UnprocessableError,
  ValidationFailedError,
} from '../common/errors/domain-errors';
import { AuditService } from '../audit/audit.service';
import type { AuditAction } from '../audit/audit-chain';
import { KeyedMutex } from '../common/keyed-mutex';
import type { RequestActor } from '../common/request-actor';
import { CONFIGURATION, type Configuration } from '../config/configuration';
import { decryptSecret, DoubleEncryptionError, encryptSecret, envelopeKeyVersion } from '../crypto/secret-cipher';
import { isRetryableConflict } from '../database/database-errors';
import { DatabaseService } from '../database/database.service';
import { DataKeyVersionGoneError, TenantKeysService } from '../tenants/tenant-keys.service';
import { TenantsService } from '../tenants/tenants.service';
import type { VersionAction } from './history/integration-version.entity';
import { VersionsRepository } from './history/versions.repository';
import { type VersionRecord, VersionsService } from './history/versions.service';
import { applyPatch, IntegrationBodyValidator, isJsonObject, type IntegrationInput } from './integration-body.validator';
import type { IntegrationEntity } from './integration.entity';
import { type CurrentIntegration, IntegrationsRepository, type StoredIntegration } from './integrations.repository';
import { type CredentialCheck, CredentialCheckService } from './verification/credential-check.service';
import { VerificationHistoryRepository } from './verification/history/verification-history.repository';
import type { VerificationTrigger } from './verification/history/verification-result.entity';
import { type VerificationTransition, verificationTransition } from './verification/history/verification-transition';
import { IntegrationNotVerifiedError, type VerificationResult } from './verification/verification-result';
import { findVendor, type Vendor } from './vendors/registry';
import { etagOf, ifMatchAllows, SECRET_MASK, toWire, type IntegrationWire } from './wire-format';
import { WebhookEventSink } from '../webhooks/webhook-events';

export interface ReadOptions {
  /** Show secrets in plaintext (scope integrations:secrets) instead of the mask. */
  reveal: boolean;
  /** Who reads: a read that shows a secret in plaintext is an audit event of theirs, written before the answer. */
  actor: RequestActor;
}

export interface WriteOptions extends ReadOptions {
  /** The If-Match header, if any. */
  ifMatch?: string;
  /** Who writes, through which request: kept with the version the write makes. */
  actor: RequestActor;
}

export interface DeleteOptions {
  ifMatch?: string;
  actor: RequestActor;
}

export interface PutOptions extends WriteOptions {
  /** `?dry-run=true`: validate and verify, store nothing, answer the check. */
  dryRun?: boolean;
}

export interface IntegrationResult {
  wire: IntegrationWire;
  etag: string;
}

export type PutResult = ({ kind: 'written'; created: boolean } & IntegrationResult) | { kind: 'dry-run'; result: VerificationResult };

/** What a restore answers: like a replace, or like a create when the integration comes back from a delete. */
export type RestoreResult = { created: boolean } & IntegrationResult;

/**
 * What one committed write did, as the transaction that commits it knows it:
 * for the version row, and for whatever else must commit with the write (an
 * audit event).
 */
export interface WriteEvent {
  action: VersionAction;
  actor: RequestActor;
  tenantId: string;
  integrationId: string;
  /** The revision the write made. */
  revision: number;
  /** The answer's status: 201 created (or back from a delete), 200 changed, 204 deleted; a verification's learned field is 200. */
  status: 200 | 201 | 204;
  /** For a restore: the revision it brought back. */
  restoredFrom: number | null;
}

/** What commits with a write's statement: the version it made, and its audit event's outcome. */
interface WriteCommit {
  version: VersionRecord;
  status: WriteEvent['status'];
  /** The answer will show a stored secret in plaintext: a secret read, recorded with the change. */
  revealsStoredSecrets: boolean;
  /** Whether the tenant had an enabled webhook when the write read its row (undefined: not asked); see WebhookEventSink.emit. */
  subscribed?: boolean;
}

/** A write ready for its statement: the row as read (`current`), what replaces it, and what commits with it. */
interface PreparedWrite {
  current: CurrentIntegration | null;
  row: IntegrationEntity;
  planned: Plan;
  sealed: Sealed;
  created: boolean;
  commit: WriteCommit;
  /** VERIFY_ON_SAVE: the check the stored credentials passed. */
  verified?: VerifiedCredentials;
}

/** VERIFY_ON_SAVE: the credentials the vendor checked (as JSON), and its answer. */
interface VerifiedCredentials {
  credentials: string;
  check: CredentialCheck;
}

/** An integration's stored credentials, secrets decrypted: for a vendor check only, never for a response. */
export interface StoredCredentials {
  vendor: Vendor;
  fields: Record<string, string>;
  revision: number;
}

/** How a check's result is kept: what caused it, and when the next check is due (null: checks are off for it). */
export interface CheckRecording {
  trigger: VerificationTrigger;
  nextCheckAt: Date | null;
}

/** What keeping a check's result did. */
export interface RecordedVerification {
  /** False when the credentials changed meanwhile: the result describes credentials that are gone, and only its audit event stays. */
  kept: boolean;
  /** Against the integration's previous result: the credentials broke, or recovered (null: neither, or not kept). */
  transition: VerificationTransition | null;
}

/** The last kept check, and when the scheduler will look at the integration again. */
export interface StoredVerificationState {
  result: VerificationResult;
  checkDueAt: Date | null;
}

/** Stored secrets: field → enc:v1 envelope under one of the tenant's data keys. */
type SecretEnvelopes = Record<string, string>;

interface Decoded {
  config: Record<string, string>;
  secrets: SecretEnvelopes;
}

/** What a write stores: the row's columns, the version's secrets (bound to the new revision), and the plaintexts for the answer. */
interface Sealed extends Decoded {
  versionSecrets: SecretEnvelopes;
  /** Secret plaintexts by field, for a revealing answer; in memory only. */
  plaintexts: Record<string, string>;
  keyVersion: number;
}

const NOTHING_STORED: Decoded = { config: {}, secrets: {} };

/** A write lost a race with another instance's write more often than this: answered 409, never a 5xx. */
const MAX_WRITE_ATTEMPTS = 8;
/** Reads that met a data key replaced under them try again this often. */
const MAX_READ_ATTEMPTS = 3;

export class WriteConflictError extends DomainError {
  readonly status = 409;
  readonly code = 'WRITE_CONFLICT';
  constructor() {
    super('The integration kept changing while this write was retried; send it again');
  }
}

/**
 * The integrations of each tenant: reads, writes and what a credential check
 * needs. A write is one call from the controller and flows one way:
 * read the row → merge and validate → (VERIFY_ON_SAVE or ?dry-run) check
 * with the vendor → encrypt → one conditional statement, committed in one
 * transaction with the version it makes (`commitWrite`). When that statement
 * finds the row changed (another instance wrote it), the write starts again
 * from the read; writes of one integration on this instance queue on a keyed
 * mutex, so they do not race each other in the first place.
 *
 * Every write makes a numbered version (the revision), kept by the history
 * (versions/): a delete too, which leaves the row as a tombstone so that
 * revisions, and version numbers, go on after a re-create. Reads treat a
 * tombstone as absent.
 *
 * Every write reads first, even one that needs nothing of the stored row: a
 * single blind upsert would save that round trip, but during a network
 * partition it would be the statement stuck in a buffer, answered 503 and
 * applied when the network heals. With the read first, a write that meets an
 * unreachable database is never sent at all
 * (test/reliability/database-outage.e2e-spec.ts, the partition case).
 */
@Injectable()
export class IntegrationsService {
  private readonly logger = new Logger('Integrations');
  private readonly requireIfMatch: boolean;
  private readonly writes = new KeyedMutex();

  private readonly keepVersions: number;

  constructor(
    private readonly repository: IntegrationsRepository,
    private readonly versionRows: VersionsRepository,
    private readonly versions: VersionsService,
    private readonly db: DatabaseService,
    private readonly tenants: TenantsService,
    private readonly tenantKeys: TenantKeysService,
    private readonly validator: IntegrationBodyValidator,
    private readonly checker: CredentialCheckService,
    private readonly audit: AuditService,
    private readonly webhookEvents: WebhookEventSink,
    private readonly checkHistory: VerificationHistoryRepository,
    @Inject(CONFIGURATION) config: Configuration,
  ) {
    this.requireIfMatch = config.app.requireIfMatch;
    this.keepVersions = config.history.maxVersions;
  }

  // --- reads ---

  async get(tenantId: string, id: string, options: ReadOptions): Promise<IntegrationResult> {
    return this.readAgainIfRotated(async () => {
      const row = await this.findOrThrow(tenantId, id);
      const [wire] = await this.present(tenantId, [row], options);
      await this.auditSecretReads(tenantId, [row], options);
      return { wire, etag: etagOf(row.revision) };
    });
  }

  async list(tenantId: string, limit: number, offset: number, options: ReadOptions): Promise<{ items: IntegrationWire[]; total: number }> {
    return this.readAgainIfRotated(async () => {
      const [rows, total] = await this.repository.page(tenantId, limit, offset);
      // A row exists only in a live tenant (deleting a tenant cascades): ask about the tenant only for an empty page.
      if (rows.length === 0) await this.tenants.requireLive(tenantId);
      const items = await this.present(tenantId, rows, options);
      await this.auditSecretReads(tenantId, rows, options);
      return { items, total };
    });
  }

  // --- writes ---

  /** Create or replace (POST), or with `dryRun` only check what would be stored. */
  async put(tenantId: string, input: IntegrationInput, options: PutOptions): Promise<PutResult> {
    const plan = async (existing: StoredIntegration | null, precondition = true): Promise<Plan> => {
      if (precondition) this.checkPrecondition(existing, options.ifMatch);
      const stored = existing !== null && existing.type === input.vendor.type ? decode(existing) : NOTHING_STORED;
      const fields = { ...input.fields };
      // Server-assigned fields (Salesforce instance) survive a replace that does not send them.
      for (const field of input.vendor.serverAssignedFields ?? []) {
        if (fields[field] === undefined && stored.config[field] !== undefined) fields[field] = stored.config[field];
      }
      return {
        vendor: input.vendor,
        fields,
        stored,
        sent: undefined,
        action: existing === null ? 'create' : 'replace',
        restoredFrom: null,
      };
    };
    if (options.dryRun) {
      const existing = await this.repository.findOne(tenantId, input.id);
      if (existing === null) await this.tenants.requireLive(tenantId);
      // A dry run stores nothing, so it has no precondition to meet.
      const planned = await plan(existing, false);
      return {
        kind: 'dry-run',
        result: (await this.checker.check(input.vendor, await this.credentialsOf(tenantId, input.id, planned))).result,
      };
    }
    const written = await this.write(tenantId, input.id, options, plan);
    return { kind: 'written', created: written.created, ...written.result };
  }

  /** Change some fields (PATCH): fields left out keep their values, `null` clears an optional one; `type` cannot change. */
  async patch(tenantId: string, id: string, body: unknown, options: WriteOptions): Promise<IntegrationResult> {
    if (!isJsonObject(body))
      throw new ValidationFailedError('Request body must be a JSON object', [{ field: 'body', message: 'must be a JSON object' }]);
    const written = await this.write(tenantId, id, options, async (existing) => {
      if (existing === null) {
        await this.tenants.requireLive(tenantId);
        throw new IntegrationNotFoundError(tenantId, id);
      }
      this.checkPrecondition(existing, options.ifMatch);
      if (body.type !== undefined && body.type !== existing.type) {
        const message = `type cannot change (this integration is '${existing.type}'); delete it and create a new one`;
        throw new ValidationFailedError(message, [{ field: 'type', message }]);
      }
      const stored = decode(existing);
      // Stored secrets stand as the mask: sealing keeps their envelopes in the row (and decrypts them only for the version's own copy).
      const current: Record<string, unknown> = { id, type: existing.type, ...stored.config };
      for (const field of Object.keys(stored.secrets)) current[field] = SECRET_MASK;
      const input = await this.validator.validate(applyPatch(current, body, vendorOf(existing)), id);
      return { vendor: input.vendor, fields: input.fields, stored, sent: new Set(Object.keys(body)), action: 'patch', restoredFrom: null };
    });
    return written.result;
  }

  /**
   * Deletes the integration: its row becomes a tombstone (revision one up, no
   * content) and a version records the deletion, so it can be restored.
   * Without If-Match it is blind, as it always was: whatever the revision,
   * so it never loses a race (the version then learns the revision inside
   * the transaction); with If-Match it is conditional on the revision read.
   */
  async delete(tenantId: string, id: string, options: DeleteOptions): Promise<void> {
    const deletion = (revision: number, type: string, at: Date): WriteCommit => ({
      version: {
        tenantId,
        integrationId: id,
        revision,
        type,
        config: '{}',
        secrets: '{}',
        action: 'delete',
        restoredFrom: null,
        actor: options.actor,
        at,
      },
      status: 204,
      revealsStoredSecrets: false,
    });
    await this.writes.run(`${tenantId}\0${id}`, async () => {
      for (let attempt = 1; attempt <= MAX_WRITE_ATTEMPTS; attempt++) {
        const now = new Date();
        if (options.ifMatch === undefined && !this.requireIfMatch) {
          const landed = await this.commitWrite(async (tx) => {
            const deleted = await this.repository.tombstoneCurrent(tenantId, id, now, tx);
            return deleted === null ? undefined : deletion(deleted.revision, deleted.type, now);
          });
          if (landed) return;
          await this.findOrThrow(tenantId, id);
          continue;
        }
        const existing = await this.findOrThrow(tenantId, id);
        this.checkPrecondition(existing, options.ifMatch);
        const landed = await this.commitWrite(async (tx) =>
          (await this.repository.tombstone(tenantId, id, existing.revision, now, tx))
            ? deletion(existing.revision + 1, existing.type, now)
            : undefined,
        );
        if (landed) return;
      }
      throw new WriteConflictError();
    });
  }

  /**
   * Restores version `revision` (POST …/versions/:rev/restore): a new revision
   * equal to it, written like a replace (If-Match, VERIFY_ON_SAVE, the
   * answer's masking), or like a create when the integration was deleted.
   */
  async restore(tenantId: string, id: string, revision: number, options: WriteOptions): Promise<RestoreResult> {
    const content = await this.versions.contentOf(tenantId, id, revision);
    const written = await this.write(tenantId, id, options, async (existing) => {
      this.checkPrecondition(existing, options.ifMatch);
      const stored = existing !== null && existing.type === content.vendor.type ? decode(existing) : NOTHING_STORED;
      // Nothing was sent: the answer shows every secret masked, or decrypted for a revealing token.
      return { vendor: content.vendor, fields: { ...content.fields }, stored, sent: new Set(), action: 'restore', restoredFrom: revision };
    });
    return { created: written.created, ...written.result };
  }

  // --- verification (issue 6) ---

  /** The stored credentials with secrets decrypted. Only the verification service calls this; nothing of it goes into a response. */
  async storedCredentials(tenantId: string, id: string): Promise<StoredCredentials> {
    return this.readAgainIfRotated(async () => {
      const row = await this.findOrThrow(tenantId, id);
      const vendor = vendorOf(row);
      const stored = decode(row);
      const fields = await this.credentialsOf(tenantId, id, keepAsIs(vendor, stored));
      return { vendor, fields, revision: row.revision };
    });
  }

  /**
   * Keeps a check's result on the row it was read from (revision `revision`),
   * with the next due time, in its history, and as its audit event, in one
   * transaction; not kept when the credentials changed meanwhile, since the
   * result then describes credentials that are gone. A field the vendor
   * taught (Salesforce `instance`) is part of the integration: a new
   * revision, so ETags move, and a version of it (action `verify`) by
   * whoever asked for the check.
   */
  async recordVerification(
    tenantId: string,
    id: string,
    revision: number,
    check: CredentialCheck,
    actor: RequestActor,
    recording: CheckRecording,
  ): Promise<RecordedVerification> {
    const { result, learned } = check;
    // The check is an event whatever became of its result: 200 when the vendor accepted the credentials, 422 when not.
    const event = { tenantId, actor, action: 'integration.verify' as const, target: id, outcome: result.status === 'ok' ? 200 : 422 };
    const notKept: RecordedVerification = { kept: false, transition: null };
    const row = await this.findOrThrow(tenantId, id);
    if (row.revision !== revision) {
      // Nothing is kept (the credentials changed meanwhile): the event alone.
      await this.audit.record(event, undefined, AUDIT_UNAVAILABLE_MESSAGES.check);
      return notKept;
    }
    // The result goes into the row the statement writes anyway, with the next due time and the claim released.
    const verification = {
      verifyStatus: result.status,
      verifyMessage: result.message,
      verifiedAt: result.checkedAt,
      checkDueAt: recording.nextCheckAt,
      checkLeaseUntil: null,
    };
    const stored = decode(row);
    const changed = Object.entries(learned).filter(([field, value]) => stored.config[field] !== value);
    if (changed.length === 0) {
      // The result and its event commit together; the event last (it holds the chain until the commit).
      return this.db.transaction(async (tx) => {
        const kept = await this.repository.updatePlain(tenantId, id, revision, verification, tx);
        const transition = kept ? await this.keepInHistory(tenantId, id, row.type, revision, result, recording.trigger, tx) : null;
        await this.audit.record(event, tx, AUDIT_UNAVAILABLE_MESSAGES.check);
        return { kept, transition };
      });
    }
    const vendor = vendorOf(row);
    const planned = keepAsIs(vendor, stored);
    Object.assign(planned.fields, Object.fromEntries(changed));
    const next = revision + 1;
    const sealed = await this.seal(tenantId, id, next, planned);
    const now = new Date();
    const updated: IntegrationEntity = {
      tenantId,
      id,
      type: vendor.type,
      config: JSON.stringify(sealed.config),
      secrets: JSON.stringify(sealed.secrets),
      revision: next,
      createdAt: now,
      updatedAt: now,
      deletedAt: null,
      ...verification,
    };
    const fence = this.tenantKeys.writeFence(tenantId, sealed.keyVersion);
    const version = versionOf(updated, sealed, 'verify', null, actor, now);
    const commit: WriteCommit = { version, status: 200, revealsStoredSecrets: false };
    let transition: VerificationTransition | null = null;
    const landed = await this.commitWrite(async (tx) => {
      if (!(await this.repository.update(updated, revision, fence, tx))) return undefined;
      // The history names the revision whose credentials were checked; the learned field made the next one.
      transition = await this.keepInHistory(tenantId, id, row.type, revision, result, recording.trigger, tx);
      return commit;
    });
    if (!landed) {
      this.tenantKeys.forget(tenantId);
      await this.audit.record(event, undefined, AUDIT_UNAVAILABLE_MESSAGES.check);
      return notKept;
    }
    return { kept: true, transition };
  }

  /**
   * A kept result into the integration's history, inside the transaction
   * that keeps it; answers what it changed against the previous result
   * (whatever revision that one checked), and emits that change as the
   * webhook event integration.verification.failed or …recovered in the same
   * transaction: a kept result and its event commit together or not at all.
   */
  private async keepInHistory(
    tenantId: string,
    id: string,
    type: string,
    revision: number,
    result: VerificationResult,
    trigger: VerificationTrigger,
    tx: EntityManager,
  ): Promise<VerificationTransition | null> {
    const [previous] = await this.checkHistory.newest(tenantId, id, 1, tx);
    const transition = verificationTransition(previous ?? null, result);
    await this.checkHistory.append(tenantId, id, { ...result, revision, trigger }, tx);
    if (transition !== null) {
      await this.webhookEvents.emit(
        {
          tenantId,
          type: transition === 'failed' ? 'integration.verification.failed' : 'integration.verification.recovered',
          // The message is the verifier's, redacted of anything sent (verification/redact.ts): never a credential.
          data: { tenant: tenantId, integration: id, 'integration-type': type, revision, status: result.status, message: result.message },
          at: result.checkedAt,
        },
        tx,
      );
    }
    return transition;
  }

  /** The last check kept for the integration's current credentials, and its next due time. */
  async lastVerification(tenantId: string, id: string): Promise<StoredVerificationState> {
    const row = await this.repository.findVerification(tenantId, id);
    if (row === null) {
      await this.tenants.requireLive(tenantId);
      throw new IntegrationNotFoundError(tenantId, id);
    }
    if (!row.verifyStatus || !row.verifiedAt) throw new IntegrationNotVerifiedError(id);
    return {
      result: { status: row.verifyStatus === 'ok' ? 'ok' : 'failed', message: row.verifyMessage ?? '', checkedAt: row.verifiedAt },
      checkDueAt: row.checkDueAt ?? null,
    };
  }

  /** The integration's last checks, newest first (404 when it is gone, or its tenant). */
  async verificationHistory(tenantId: string, id: string, limit: number) {
    await this.findOrThrow(tenantId, id);
    return this.checkHistory.newest(tenantId, id, limit);
  }

  // --- key rotation (asked by the keys module) ---

  /**
   * Step 2 of a data-key replacement: every secret of the tenant re-encrypted
   * under its current data key, row by row, each row one conditional write
   * (a row written meanwhile was encrypted under the current key already),
   * then the secrets of its kept versions, in batches. Returns how many
   * integrations and versions it re-encrypted.
   */
  async reencryptSecrets(tenantId: string): Promise<{ integrations: number; versions: number }> {
    let reencrypted = 0;
    for (const listed of await this.repository.allOf(tenantId)) {
      const key = `${tenantId}\0${listed.id}`;
      const done = await this.writes.run(key, async () => {
        for (let attempt = 1; attempt <= MAX_WRITE_ATTEMPTS; attempt++) {
          const row = await this.repository.findOne(tenantId, listed.id);
          if (row === null) return false;
          const { version } = await this.tenantKeys.current(tenantId);
          const stored = decode(row);
          if (Object.values(stored.secrets).every((envelope) => envelopeKeyVersion(envelope) === version)) return false;
          const sealed = await this.sealRow(tenantId, row.id, keepAsIs(vendorOf(row), stored));
          const fence = this.tenantKeys.writeFence(tenantId, sealed.keyVersion);
          if (
            await this.retryOnConflict(() =>
              this.repository.replaceSecrets(tenantId, row.id, row.revision, JSON.stringify(sealed.secrets), fence),
            )
          ) {
            return true;
          }
          this.tenantKeys.forget(tenantId);
        }
        throw new WriteConflictError();
      });
      if (done) reencrypted++;
    }
    return { integrations: reencrypted, versions: await this.versions.reencrypt(tenantId) };
  }

  /** Whether a secret of the tenant, in an integration or a kept version, is still encrypted under a data-key version other than `version`. */
  async hasSecretsOutside(tenantId: string, version: number): Promise<boolean> {
    const rows = await this.repository.allOf(tenantId);
    if (rows.some((row) => Object.values(decode(row).secrets).some((envelope) => envelopeKeyVersion(envelope) !== version))) return true;
    return this.versions.hasSecretsOutside(tenantId, version);
  }

  /** Integrations, kept versions and their secret fields per tenant, for keys:status. */
  async inventory(): Promise<Map<string, { integrations: number; secrets: number; versions: number; versionSecrets: number }>> {
    const counts = new Map<string, { integrations: number; secrets: number; versions: number; versionSecrets: number }>();
    const entry = (tenantId: string) => {
      const found = counts.get(tenantId) ?? { integrations: 0, secrets: 0, versions: 0, versionSecrets: 0 };
      counts.set(tenantId, found);
      return found;
    };
    for (const { tenantId, type, count } of await this.repository.countsByTenantAndType()) {
      const counted = entry(tenantId);
      counted.integrations += count;
      counted.secrets += count * (findVendor(type)?.secretFields.size ?? 0);
    }
    for (const [tenantId, kept] of await this.versions.inventory()) {
      const counted = entry(tenantId);
      counted.versions += kept.versions;
      counted.versionSecrets += kept.secrets;
    }
    return counts;
  }

  // --- the write path ---

  /**
   * The one write path of POST, PATCH and restore. `plan` turns the live row
   * as read (null when there is none, or only a tombstone) into what to store
   * (throwing the 4xx answers); the vendor check, when asked for, runs
   * outside the per-integration mutex; the statement is conditional on the
   * revision read, so a row changed by another instance meanwhile sends the
   * write back to the read. A tombstone is written over at its revision, so
   * revisions go on across a delete.
   */
  private async write(
    tenantId: string,
    id: string,
    options: WriteOptions,
    plan: (existing: StoredIntegration | null) => Promise<Plan>,
  ): Promise<{ created: boolean; result: IntegrationResult }> {
    let verified: VerifiedCredentials | undefined;
    for (let attempt = 1; attempt <= MAX_WRITE_ATTEMPTS; attempt++) {
      if (this.checker.onSave) {
        // VERIFY_ON_SAVE: check what this write would store, without holding anything while the vendor answers.
        const planned = await plan(await this.findOrRequireTenant(tenantId, id));
        const credentials = await this.credentialsOf(tenantId, id, planned);
        if (verified?.credentials !== JSON.stringify(credentials)) {
          verified = { credentials: JSON.stringify(credentials), check: await this.checker.check(planned.vendor, credentials) };
        }
        if (verified.check.result.status !== 'ok') throw new UnprocessableError(verified.check.result.message);
      }
      const checked = verified;
      // The first try reads and writes apart (no lock); after a lost race the write holds the row (see writeHoldingRow).
      const holdRow = attempt > 1 && this.db.engine === 'mysql';
      const written = await this.writes.run(`${tenantId}\0${id}`, () =>
        holdRow ? this.writeHoldingRow(tenantId, id, options, plan, checked) : this.writeIfUnchanged(tenantId, id, options, plan, checked),
      );
      if (written !== undefined)
        return { created: written.created, result: this.presentWritten(written.planned, written.row, written.sealed, options) };
      // Not landed: the row changed, appeared or went, or the tenant's key changed or the tenant went; the next read tells.
      this.tenantKeys.forget(tenantId);
      // Wait a random moment first, or two instances retrying the same key in step keep colliding.
      await lostRaceBackoff(attempt);
    }
    throw new WriteConflictError();
  }

  /**
   * A write's first try, optimistic: read the row, prepare, then one
   * statement conditional on the revision read, in a transaction that locks
   * the row only for its own statements. Undefined when the row changed
   * meanwhile (another instance wrote it).
   */
  private async writeIfUnchanged(
    tenantId: string,
    id: string,
    options: WriteOptions,
    plan: (existing: StoredIntegration | null) => Promise<Plan>,
    verified: VerifiedCredentials | undefined,
  ): Promise<PreparedWrite | undefined> {
    // The row, and whether its tenant has an enabled webhook (read with it): a write of a tenant with none sends no outbox statement.
    const current = await this.repository.findCurrent(tenantId, id, { subscribers: this.webhookEvents.subscriberProbe('i.tenant_id') });
    const prepared = await this.prepareWrite(tenantId, id, current, options, plan, verified);
    if (prepared === undefined) return undefined;
    return (await this.commitWrite((tx) => this.storePrepared(prepared, tx))) ? prepared : undefined;
  }

  /**
   * A write after a lost race, pessimistic: the row is read with a locking
   * read (SELECT … FOR UPDATE) inside the write's transaction, prepared and
   * written while no other instance can change it, so on one server the
   * statement cannot lose again. (On Galera the lock holds on this node only:
   * a write committed through another node meanwhile fails this one's
   * certification at COMMIT with ER_LOCK_DEADLOCK, which the transaction runs
   * again like a deadlock, and answers 503 DATABASE_BUSY if it keeps losing;
   * docs/scaling.md suggests one writer node for hot keys.) Optimistic retries alone can starve a hot key: two instances
   * with 20 clients on 12 keys lost 25 % of first tries, a third of retries,
   * and a POST answered 409 after 8 in a row (once in ~1,000). The lock is
   * taken on the row when it exists; at READ COMMITTED a locking read of a
   * missing row takes no gap lock, so concurrent creates of neighbouring ids
   * do not deadlock (a create that meets one made meanwhile reads again).
   * Lock order is the optimistic path's (integration row, version, audit
   * chain). Key lookups inside run on this transaction's connection. MySQL
   * only: SQLite has one writer, and one instance's writes of an integration
   * already queue on the keyed mutex.
   */
  private async writeHoldingRow(
    tenantId: string,
    id: string,
    options: WriteOptions,
    plan: (existing: StoredIntegration | null) => Promise<Plan>,
    verified: VerifiedCredentials | undefined,
  ): Promise<PreparedWrite | undefined> {
    let prepared: PreparedWrite | undefined;
    const landed = await this.commitWrite(async (tx) => {
      const current = await this.repository.findCurrent(tenantId, id, { locking: { tx, lock: true } });
      prepared = await this.prepareWrite(tenantId, id, current, options, plan, verified, tx);
      return prepared === undefined ? undefined : this.storePrepared(prepared, tx);
    });
    return landed ? prepared : undefined;
  }

  /**
   * What a write of the row as read (`current`, tombstone included) stores:
   * the plan, sealed under the tenant's key for the next revision, and its
   * version. Undefined when VERIFY_ON_SAVE checked other credentials than
   * these (the row changed since the check).
   */
  private async prepareWrite(
    tenantId: string,
    id: string,
    current: CurrentIntegration | null,
    options: WriteOptions,
    plan: (existing: StoredIntegration | null) => Promise<Plan>,
    verified: VerifiedCredentials | undefined,
    tx?: EntityManager,
  ): Promise<PreparedWrite | undefined> {
    // No tenant check here: the statement's fence is one, and a refused write reads again (and then 404s).
    const existing = live(current);
    const planned = await plan(existing);
    if (verified !== undefined) {
      // The row may have changed since the check: store only credentials that were checked.
      if (JSON.stringify(await this.credentialsOf(tenantId, id, planned, tx)) !== verified.credentials) return undefined;
      Object.assign(planned.fields, verified.check.learned);
      for (const field of Object.keys(verified.check.learned)) planned.sent?.add(field);
    }
    const revision = current === null ? 1 : current.revision + 1;
    const sealed = await this.seal(tenantId, id, revision, planned, tx);
    const now = new Date();
    const row: IntegrationEntity = {
      tenantId,
      id,
      type: planned.vendor.type,
      config: JSON.stringify(sealed.config),
      secrets: JSON.stringify(sealed.secrets),
      revision,
      createdAt: now,
      updatedAt: now,
      deletedAt: null,
      // The last check describes the credentials it checked: new ones start unverified, or with this write's check.
      verifyStatus: verified?.check.result.status ?? null,
      verifyMessage: verified?.check.result.message ?? null,
      verifiedAt: verified?.check.result.checkedAt ?? null,
      // New credentials are unverified (or were checked on save): due at once; the scheduler reschedules a fresh one without a call.
      // In the row this statement writes anyway, so the write gains no round trip.
      checkDueAt: now,
      checkLeaseUntil: null,
    };
    const created = existing === null;
    return {
      current,
      row,
      planned,
      sealed,
      created,
      verified,
      commit: {
        version: versionOf(row, sealed, planned.action, planned.restoredFrom, options.actor, now),
        status: created ? 201 : 200,
        revealsStoredSecrets: options.reveal && Object.keys(sealed.secrets).some((field) => !echoesSent(planned, field)),
        subscribed: current?.subscribed,
      },
    };
  }

  /** The prepared write's statement: an insert, or an update conditional on the revision read; its commit when it landed. */
  private async storePrepared(prepared: PreparedWrite, tx: EntityManager): Promise<WriteCommit | undefined> {
    const { current, row, sealed } = prepared;
    const fence = this.tenantKeys.writeFence(row.tenantId, sealed.keyVersion);
    const written =
      current === null
        ? (await this.repository.insert(row, fence, tx)) === 'inserted'
        : await this.repository.update(row, current.revision, fence, tx, current.deleted);
    if (!written) return undefined;
    // VERIFY_ON_SAVE: the check this write was made with enters the history with it.
    if (prepared.verified !== undefined) {
      await this.keepInHistory(row.tenantId, row.id, row.type, row.revision, prepared.verified.check.result, 'save', tx);
    }
    return prepared.commit;
  }

  /**
   * The one place a write's transaction is assembled: the integration's
   * statement, which answers the version it made (undefined when it did not
   * land), then that version; they commit together or not at all. False when
   * the statement did not land (a lost race, or a deadlock victim: the caller
   * reads again).
   *
   * Isolation: READ COMMITTED (the session's level, set once per pooled
   * connection by DatabaseService). The audit
   * append needs it: when another instance took the chain's next seq, the
   * append reads the chain's head again inside this transaction, and under
   * REPEATABLE READ that second read would see the snapshot of the first
   * (measured: two instances writing one tenant's integrations answered
   * 503 AUDIT_UNAVAILABLE after the append's retries). The integration's own
   * statements need no snapshot: an UPDATE by primary key conditional on the
   * revision, an INSERT … SELECT whose fence reads the tenant row, the version
   * INSERT. At READ COMMITTED the fence's read is not a locking one; a write
   * under a just-replaced key still meets the rotation's row-by-row walk and
   * its final check (hasSecretsOutside), and a tenant deleted meanwhile shows
   * as the foreign key. Round trips on MySQL: START, statement, version
   * INSERT, webhook outbox INSERT … SELECT (only when the tenant has an enabled
   * webhook, or the read could not tell), audit INSERT, COMMIT; and the read
   * before, outside. `npm run bench:write-floor` measures what they cost.
   */
  private async commitWrite(statement: (tx: EntityManager) => Promise<WriteCommit | undefined>): Promise<boolean> {
    const event = await this.retryOnConflict(() =>
      this.db.transaction(async (tx): Promise<WriteEvent | undefined> => {
        const commit = await statement(tx);
        if (commit === undefined) return undefined;
        const { version, status, revealsStoredSecrets, subscribed } = commit;
        await this.versionRows.insert(VersionsService.row(version), tx);
        const { action, actor, tenantId, integrationId, revision, restoredFrom } = version;
        // The audit event last: its chain is held from the append until this transaction ends. An answer that
        // will show stored secrets in plaintext is also a secret read, recorded with the change (one INSERT).
        const change = { tenantId, actor, action: AUDITED_AS[action], target: integrationId, outcome: status };
        // The webhook event before the audit append, which must come last; one INSERT … SELECT of the tenant's subscribers,
        // or none when the write's read saw that the tenant has no enabled webhook.
        await this.webhookEvents.emit(
          {
            tenantId,
            type: status === 201 ? 'integration.created' : status === 204 ? 'integration.deleted' : 'integration.updated',
            data: { tenant: tenantId, integration: integrationId, 'integration-type': version.type, revision },
            at: version.at,
          },
          tx,
          subscribed,
        );
        if (revealsStoredSecrets && this.audit.secretReadsRequired) {
          await this.audit.recordAll([change, { ...change, action: 'integration.secret-read', outcome: status }], tx);
        } else {
          await this.audit.record(change, tx);
        }
        return { action, actor, tenantId, integrationId, revision, status, restoredFrom };
      }),
    );
    if (!event) return false;
    this.versions.noteWritten(event.tenantId, event.integrationId, event.revision, this.keepVersions);
    return true;
  }

  /** The row, or null when there is none; 404 when the tenant itself is gone. */
  private async findOrRequireTenant(tenantId: string, id: string): Promise<StoredIntegration | null> {
    const row = await this.repository.findOne(tenantId, id);
    if (row === null) await this.tenants.requireLive(tenantId);
    return row;
  }

  private async findOrThrow(tenantId: string, id: string): Promise<StoredIntegration> {
    const row = await this.findOrRequireTenant(tenantId, id);
    if (row === null) throw new IntegrationNotFoundError(tenantId, id);
    return row;
  }

  private checkPrecondition(existing: StoredIntegration | null, ifMatch: string | undefined): void {
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

  /** A statement InnoDB picked as a deadlock victim changed nothing: the same as losing the race. */
  private async retryOnConflict<T>(statement: () => Promise<T>): Promise<T | false> {
    try {
      return await statement();
    } catch (error) {
      if (isRetryableConflict(error)) return false;
      throw error;
    }
  }

  /** A read that met a data key replaced under it reads again (the row is re-encrypted by then). */
  private async readAgainIfRotated<T>(read: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await read();
      } catch (error) {
        if (!(error instanceof DataKeyVersionGoneError) || attempt >= MAX_READ_ATTEMPTS) throw error;
      }
    }
  }

  // --- secrets ---

  /**
   * The secret columns to store: new values encrypted under the tenant's
   * current data key, secrets sent as the mask kept from the stored row
   * (re-encrypted when a key replacement left them under the previous key);
   * and, for the version of `revision`, every secret encrypted once more
   * under the version's own AAD (a kept secret is decrypted for that).
   */
  private async seal(tenantId: string, id: string, revision: number, plan: Plan, tx?: EntityManager): Promise<Sealed> {
    return this.sealFor(tenantId, id, revision, plan, tx);
  }

  /** The row's secret columns only (key rotation re-encrypts a row in place: no new revision, no version). */
  private async sealRow(tenantId: string, id: string, plan: Plan): Promise<Sealed> {
    return this.sealFor(tenantId, id, undefined, plan);
  }

  /** `tx`: the write's transaction, when it is open already (key lookups then run on its connection). */
  private async sealFor(tenantId: string, id: string, revision: number | undefined, plan: Plan, tx?: EntityManager): Promise<Sealed> {
    const { version, key } = await this.tenantKeys.current(tenantId, tx);
    const config: Record<string, string> = {};
    const secrets: SecretEnvelopes = {};
    const versionSecrets: SecretEnvelopes = {};
    const plaintexts: Record<string, string> = {};
    for (const field of plan.vendor.fields) {
      const value = plan.fields[field.name];
      if (value === undefined) continue;
      if (!field.secret) {
        config[field.name] = value;
        continue;
      }
      const at = { tenantId, integrationId: id, field: field.name };
      let plaintext: string | undefined;
      if (value === SECRET_MASK) {
        const kept = plan.stored.secrets[field.name];
        if (kept === undefined) throw maskWithoutStoredSecret(field.name);
        const current = envelopeKeyVersion(kept) === version;
        if (!current || revision !== undefined) plaintext = await this.decrypt(tenantId, id, field.name, kept, tx);
        secrets[field.name] = current ? kept : encryptSecret(key, version, at, plaintext!);
      } else {
        plaintext = value;
        try {
          secrets[field.name] = encryptSecret(key, version, at, value);
        } catch (error) {
          if (error instanceof DoubleEncryptionError)
            throw new ValidationFailedError(error.message, [{ field: field.name, message: error.message }]);
          throw error;
        }
      }
      if (revision !== undefined) {
        versionSecrets[field.name] = encryptSecret(key, version, { ...at, revision }, plaintext!);
        plaintexts[field.name] = plaintext!;
      }
    }
    return { config, secrets, versionSecrets, plaintexts, keyVersion: version };
  }

  /** The plaintext credentials a plan would store: the fields as planned, stored secrets where the mask stands. */
  private async credentialsOf(tenantId: string, id: string, plan: Plan, tx?: EntityManager): Promise<Record<string, string>> {
    const credentials = { ...plan.fields };
    for (const field of plan.vendor.secretFields) {
      if (credentials[field] !== SECRET_MASK) continue;
      const envelope = plan.stored.secrets[field];
      if (envelope === undefined) throw maskWithoutStoredSecret(field);
      credentials[field] = await this.decrypt(tenantId, id, field, envelope, tx);
    }
    return credentials;
  }

  private async decrypt(tenantId: string, integrationId: string, field: string, envelope: string, tx?: EntityManager): Promise<string> {
    let version: number;
    try {
      version = envelopeKeyVersion(envelope);
    } catch (error) {
      throw this.unreadable(tenantId, integrationId, field, error);
    }
    const key = await this.tenantKeys.version(tenantId, version, tx);
    try {
      return decryptSecret(key, version, { tenantId, integrationId, field }, envelope);
    } catch (error) {
      throw this.unreadable(tenantId, integrationId, field, error);
    }
  }

  private unreadable(tenantId: string, integrationId: string, field: string, error: unknown): SecretUnreadableError {
    // Name the place, never the value: the log must not help an attacker either.
    this.logger.error(`secret ${field} of ${tenantId}/${integrationId} failed to decrypt: ${(error as Error).message}`);
    return new SecretUnreadableError(tenantId, integrationId);
  }

  /**
   * A read that shows secrets in plaintext is recorded before it is answered,
   * one event per integration whose secrets it shows; when the event cannot
   * be written the read answers 503 and no secret is sent
   * (AUDIT_SECRET_READS=required, Vault's rule).
   */
  private async auditSecretReads(tenantId: string, rows: readonly StoredIntegration[], options: ReadOptions): Promise<void> {
    if (!options.reveal) return;
    const targets = rows.filter((row) => row.secrets !== '{}').map((row) => row.id);
    await this.audit.recordSecretRead({ tenantId, actor: options.actor, targets });
  }

  /**
   * Stored integrations on the wire: secrets masked, or decrypted for a
   * revealing token. Built in one pass over each vendor's fields (this runs
   * for every row of every read).
   */
  private async present(tenantId: string, rows: readonly StoredIntegration[], options: ReadOptions): Promise<IntegrationWire[]> {
    const wires: IntegrationWire[] = [];
    for (const row of rows) {
      const vendor = vendorOf(row);
      const { config, secrets } = decode(row);
      const wire: IntegrationWire = { id: row.id, type: vendor.type };
      for (const field of vendor.fields) {
        const name = field.name;
        if (!field.secret) {
          if (config[name] !== undefined) wire[name] = config[name];
        } else if (secrets[name] !== undefined) {
          wire[name] = options.reveal ? await this.decrypt(tenantId, row.id, name, secrets[name]) : SECRET_MASK;
        }
      }
      wires.push(wire);
    }
    return wires;
  }

  /**
   * The answer to a write: what the caller sent (as the original API echoed
   * it), with secrets the caller did not send shown masked or, for a
   * revealing token, in plaintext (known from sealing: nothing to decrypt).
   */
  private presentWritten(plan: Plan, row: IntegrationEntity, sealed: Sealed, options: ReadOptions): IntegrationResult {
    const fields: Record<string, string> = { ...sealed.config };
    for (const field of Object.keys(sealed.secrets)) {
      if (echoesSent(plan, field)) fields[field] = plan.fields[field];
      else fields[field] = options.reveal ? sealed.plaintexts[field] : SECRET_MASK;
    }
    return { wire: toWire(plan.vendor, row.id, fields), etag: etagOf(row.revision) };
  }
}

/** What a write will store, before encryption. */
interface Plan {
  vendor: Vendor;
  /** The vendor fields to store: plaintext, or the mask for "keep the stored secret". */
  fields: Record<string, string>;
  /** The row as read (same vendor type), decoded. */
  stored: Decoded;
  /** PATCH: the fields the caller sent (the answer echoes those); undefined for POST, which echoes everything sent. */
  sent: Set<string> | undefined;
  /** What the version this write makes records. */
  action: VersionAction;
  restoredFrom: number | null;
}

/** A random pause after the `attempt`-th lost race: up to 2, 4, 8 … ms, at most 50 ms. */
function lostRaceBackoff(attempt: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(2 ** attempt, 50)));
}

/** How each kind of version is recorded in the audit trail. */
const AUDITED_AS: Record<VersionAction, AuditAction> = {
  create: 'integration.create',
  replace: 'integration.replace',
  patch: 'integration.update',
  delete: 'integration.delete',
  restore: 'integration.restore',
  // A check that taught a field (Salesforce's instance): the check's own event, committed with the new revision.
  verify: 'integration.verify',
};

/** Whether a write's answer shows this secret as the caller sent it (else: the stored one, masked or revealed). */
function echoesSent(plan: Plan, field: string): boolean {
  const sent = plan.fields[field];
  return sent !== undefined && sent !== SECRET_MASK && (plan.sent === undefined || plan.sent.has(field));
}

function decode(row: { config: string; secrets: string }): Decoded {
  return { config: JSON.parse(row.config) as Record<string, string>, secrets: JSON.parse(row.secrets) as SecretEnvelopes };
}

/** Every stored field, secrets as the mask: the plan that rewrites a row as it is (key rotation, a verification's learned field). */
function keepAsIs(vendor: Vendor, stored: Decoded): Plan {
  const fields = { ...stored.config, ...Object.fromEntries(Object.keys(stored.secrets).map((field) => [field, SECRET_MASK])) };
  return { vendor, fields, stored, sent: undefined, action: 'verify', restoredFrom: null };
}

/** The live integration of a row as a write reads it: a tombstone is no integration. */
function live(current: CurrentIntegration | null): StoredIntegration | null {
  return current === null || current.deleted ? null : current;
}

/** The version a write of `row` makes. */
function versionOf(
  row: IntegrationEntity,
  sealed: Sealed,
  action: VersionAction,
  restoredFrom: number | null,
  actor: RequestActor,
  at: Date,
): VersionRecord {
  return {
    tenantId: row.tenantId,
    integrationId: row.id,
    revision: row.revision,
    type: row.type,
    config: row.config,
    secrets: JSON.stringify(sealed.versionSecrets),
    action,
    restoredFrom,
    actor,
    at,
  };
}

function vendorOf(row: { type: string }): Vendor {
  const vendor = findVendor(row.type);
  // Only a vendor removed from the registry while rows of it remain gets here.
  if (vendor === undefined) throw new Error(`stored integration has unknown type '${row.type}'`);
  return vendor;
}

/** The 400 for a mask with no stored secret behind it. */
function maskWithoutStoredSecret(field: string): ValidationFailedError {
  const message = `${field}: "${SECRET_MASK}" keeps a stored secret, and there is none; send the real value`;
  return new ValidationFailedError(message, [{ field, message }]);
}
