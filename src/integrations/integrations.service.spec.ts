import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { Test } from '@nestjs/testing';
import {
  IntegrationNotFoundError,
  PreconditionFailedError,
  TenantNotFoundError,
  UnprocessableError,
  ValidationFailedError,
} from '../common/errors/domain-errors';
import type { AuditEvent } from '../audit/audit.service';
import { AuditService } from '../audit/audit.service';
import { CONFIGURATION, type Configuration } from '../config/configuration';
import { decryptSecret, encryptSecret } from '../crypto/secret-cipher';
import { DatabaseService } from '../database/database.service';
import { TenantKeysService } from '../tenants/tenant-keys.service';
import type { WriteFence } from '../tenants/tenants.repository';
import { TenantsService } from '../tenants/tenants.service';
import type { IntegrationVersionEntity } from './history/integration-version.entity';
import { VersionsRepository } from './history/versions.repository';
import { VersionsService } from './history/versions.service';
import { IntegrationBodyValidator, type IntegrationInput } from './integration-body.validator';
import type { IntegrationEntity } from './integration.entity';
import { type CurrentIntegration, type CurrentReadOptions, IntegrationsRepository } from './integrations.repository';
import { IntegrationsService, WriteConflictError } from './integrations.service';
import { type CredentialCheck, CredentialCheckService } from './verification/credential-check.service';
import { type HistoryEntry, VerificationHistoryRepository } from './verification/history/verification-history.repository';
import { findVendor } from './vendors/registry';
import { type WebhookEvent, WebhookEventSink } from '../webhooks/webhook-events';

const TENANT = 'acme';
const KEY = randomBytes(32);
const KEY_VERSION = 3;
/** The transaction the DatabaseService stand-in hands out: an audit event must be recorded in it. */
const TX = { transaction: 'the write' };
const audited: (AuditEvent & { inTransaction: boolean })[] = [];
const emitted: (WebhookEvent & { inTransaction: boolean; subscribed: boolean | undefined })[] = [];
const ACTOR = { sub: 'svc-a', requestId: 'req-1', address: null, userAgent: null };

/**
 * The repository's contract, in memory: an update lands only on the revision
 * it names, an insert only where no row is, and both only while the fence
 * (tenant at a key version) holds; a delete leaves a tombstone. Versions are
 * kept beside the rows, as the transaction commits them. `beforeWrite` lets a
 * test play another instance that writes between this one's read and its statement.
 */
class InMemoryIntegrations {
  readonly rows = new Map<string, IntegrationEntity>();
  readonly versions: IntegrationVersionEntity[] = [];
  tenantKeyVersion: number | undefined = KEY_VERSION;
  /** What the webhooks' probe answers when a read asks it (whether the tenant has an enabled webhook). */
  tenantHasWebhook = false;
  beforeWrite: (() => void) | undefined;
  writes = 0;

  updatePlain(tenantId: string, id: string, revision: number, change: Partial<IntegrationEntity>, tx: unknown): Promise<boolean> {
    expect(tx).toBe(TX);
    const row = this.rows.get(`${tenantId}/${id}`);
    if (row === undefined || row.deletedAt || row.revision !== revision) return Promise.resolve(false);
    Object.assign(row, change);
    return Promise.resolve(true);
  }

  findOne(tenantId: string, id: string): Promise<IntegrationEntity | null> {
    const row = this.rows.get(`${tenantId}/${id}`);
    return Promise.resolve(row === undefined || row.deletedAt ? null : { ...row });
  }

  findCurrent(tenantId: string, id: string, options: CurrentReadOptions = {}): Promise<CurrentIntegration | null> {
    const row = this.rows.get(`${tenantId}/${id}`);
    if (row === undefined) return Promise.resolve(null);
    const current: CurrentIntegration = { ...row, deleted: Boolean(row.deletedAt) };
    if (options.subscribers !== undefined) current.subscribed = this.tenantHasWebhook;
    return Promise.resolve(current);
  }

  tombstone(tenantId: string, id: string, revision: number, deletedAt: Date): Promise<boolean> {
    this.interfere();
    const current = this.rows.get(`${tenantId}/${id}`);
    if (current?.revision !== revision || current.deletedAt) return Promise.resolve(false);
    this.rows.set(`${tenantId}/${id}`, { ...current, config: '{}', secrets: '{}', revision: revision + 1, deletedAt });
    this.writes++;
    return Promise.resolve(true);
  }

  tombstoneCurrent(tenantId: string, id: string, deletedAt: Date): Promise<{ revision: number; type: string } | null> {
    this.interfere();
    const current = this.rows.get(`${tenantId}/${id}`);
    if (current === undefined || current.deletedAt) return Promise.resolve(null);
    this.rows.set(`${tenantId}/${id}`, { ...current, config: '{}', secrets: '{}', revision: current.revision + 1, deletedAt });
    this.writes++;
    return Promise.resolve({ revision: current.revision + 1, type: current.type });
  }

  insertVersion(version: IntegrationVersionEntity): Promise<void> {
    if (
      this.versions.some(
        (v) => v.tenantId === version.tenantId && v.integrationId === version.integrationId && v.revision === version.revision,
      )
    ) {
      return Promise.reject(new Error('duplicate version'));
    }
    this.versions.push(version);
    return Promise.resolve();
  }

  insert(row: IntegrationEntity, fence: WriteFence): Promise<'inserted' | 'exists' | 'fenced'> {
    this.interfere();
    if (fence.parameters.fenceKeyVersion !== this.tenantKeyVersion) return Promise.resolve('fenced');
    if (this.rows.has(`${row.tenantId}/${row.id}`)) return Promise.resolve('exists');
    this.rows.set(`${row.tenantId}/${row.id}`, { ...row });
    this.writes++;
    return Promise.resolve('inserted');
  }

  update(row: IntegrationEntity, revision: number, fence: WriteFence): Promise<boolean> {
    this.interfere();
    const current = this.rows.get(`${row.tenantId}/${row.id}`);
    if (current?.revision !== revision || fence.parameters.fenceKeyVersion !== this.tenantKeyVersion) return Promise.resolve(false);
    this.rows.set(`${row.tenantId}/${row.id}`, { ...row, createdAt: current.deletedAt ? row.createdAt : current.createdAt });
    this.writes++;
    return Promise.resolve(true);
  }

  private interfere(): void {
    const hook = this.beforeWrite;
    this.beforeWrite = undefined;
    hook?.();
  }
}

function storedTwilio(revision: number, password: string): IntegrationEntity {
  const secrets = { password: encryptSecret(KEY, KEY_VERSION, { tenantId: TENANT, integrationId: 'twilio', field: 'password' }, password) };
  const now = new Date();
  return {
    tenantId: TENANT,
    id: 'twilio',
    type: 'twilio',
    config: JSON.stringify({ account: 'AC-stored' }),
    secrets: JSON.stringify(secrets),
    revision,
    createdAt: now,
    updatedAt: now,
    verifyStatus: null,
    verifyMessage: null,
    verifiedAt: null,
  };
}

const twilio = (fields: Record<string, string>): IntegrationInput => ({ id: 'twilio', vendor: findVendor('twilio')!, fields });

describe('IntegrationsService (module test, repository in memory)', () => {
  let service: IntegrationsService;
  let rows: InMemoryIntegrations;
  let tenantLive: boolean;
  let check: CredentialCheck | undefined;
  const forgotten: string[] = [];
  const history: ({ tenantId: string; id: string } & HistoryEntry)[] = [];

  async function build(options: { verifyOnSave?: boolean; requireIfMatch?: boolean } = {}): Promise<void> {
    rows = new InMemoryIntegrations();
    tenantLive = true;
    check = undefined;
    forgotten.length = 0;
    history.length = 0;
    audited.length = 0;
    emitted.length = 0;
    const config = {
      app: { requireIfMatch: options.requireIfMatch ?? false },
      history: { maxVersions: 20 },
    } as unknown as Configuration;
    const moduleRef = await Test.createTestingModule({
      providers: [
        IntegrationsService,
        IntegrationBodyValidator,
        { provide: CONFIGURATION, useValue: config },
        { provide: IntegrationsRepository, useValue: rows },
        { provide: VersionsRepository, useValue: { insert: (version: IntegrationVersionEntity) => rows.insertVersion(version) } },
        { provide: VersionsService, useValue: { noteWritten: () => undefined } },
        // One transaction in memory: the statement, then the version only if it landed.
        { provide: DatabaseService, useValue: { transaction: (work: (tx: unknown) => Promise<unknown>) => work(TX) } },
        {
          provide: AuditService,
          useValue: {
            secretReadsRequired: true,
            record: (event: AuditEvent, tx: unknown) => Promise.resolve(audited.push({ ...event, inTransaction: tx === TX })),
            recordAll: (events: AuditEvent[], tx: unknown) =>
              Promise.resolve(audited.push(...events.map((event) => ({ ...event, inTransaction: tx === TX })))),
            recordSecretRead: (read: { tenantId: string; actor: AuditEvent['actor']; targets: string[] }) =>
              Promise.resolve(
                audited.push(
                  ...read.targets.map((target) => ({
                    tenantId: read.tenantId,
                    actor: read.actor,
                    action: 'integration.secret-read' as const,
                    target,
                    outcome: 200,
                    inTransaction: false,
                  })),
                ),
              ),
          },
        },
        {
          provide: WebhookEventSink,
          useValue: {
            emit: (event: WebhookEvent, tx: unknown, subscribed?: boolean) =>
              Promise.resolve(emitted.push({ ...event, inTransaction: tx === TX, subscribed })),
            subscriberProbe: () => ({ sql: '1', parameters: {} }),
          },
        },
        {
          provide: TenantsService,
          useValue: { requireLive: (id: string) => (tenantLive ? Promise.resolve() : Promise.reject(new TenantNotFoundError(id))) },
        },
        {
          provide: TenantKeysService,
          useValue: {
            current: (id: string) =>
              tenantLive && rows.tenantKeyVersion !== undefined
                ? Promise.resolve({ version: rows.tenantKeyVersion, key: KEY })
                : Promise.reject(new TenantNotFoundError(id)),
            version: () => Promise.resolve(KEY),
            forget: (id: string) => forgotten.push(id),
            writeFence: (tenantId: string, keyVersion: number): WriteFence => ({
              condition: 'fence',
              parameters: { fenceTenantId: tenantId, fenceKeyVersion: keyVersion },
            }),
          },
        },
        {
          provide: VerificationHistoryRepository,
          useValue: {
            newest: (tenantId: string, id: string, limit: number) =>
              Promise.resolve(history.filter((h) => h.tenantId === tenantId && h.id === id).reverse().slice(0, limit)),
            append: (tenantId: string, id: string, entry: HistoryEntry, tx: unknown) => {
              expect(tx).toBe(TX);
              history.push({ tenantId, id, ...entry });
              return Promise.resolve();
            },
          },
        },
        {
          provide: CredentialCheckService,
          useValue: {
            onSave: options.verifyOnSave ?? false,
            check: () => Promise.resolve(check ?? { result: { status: 'ok', message: 'fine', checkedAt: new Date(0) }, learned: {} }),
          },
        },
      ],
    }).compile();
    service = moduleRef.get(IntegrationsService);
  }

  const storedPassword = (): string => {
    const row = rows.rows.get(`${TENANT}/twilio`)!;
    const envelope = (JSON.parse(row.secrets) as Record<string, string>).password;
    return decryptSecret(KEY, KEY_VERSION, { tenantId: TENANT, integrationId: 'twilio', field: 'password' }, envelope);
  };

  beforeEach(() => build());

  it('creates: 201 semantics, revision 1, the secret stored encrypted and echoed in the answer', async () => {
    const outcome = await service.put(TENANT, twilio({ account: 'AC-1', password: 'token-1' }), { reveal: false, actor: ACTOR });
    expect(outcome).toEqual({
      kind: 'written',
      created: true,
      wire: { id: 'twilio', type: 'twilio', account: 'AC-1', password: 'token-1' },
      etag: '"r1"',
    });
    expect(rows.rows.get(`${TENANT}/twilio`)!.secrets).not.toContain('token-1');
    expect(storedPassword()).toBe('token-1');
  });

  it('replaces on the revision it read; when another instance wrote first, it reads again and lands on the new revision', async () => {
    rows.rows.set(`${TENANT}/twilio`, storedTwilio(4, 'old'));
    rows.beforeWrite = () => rows.rows.set(`${TENANT}/twilio`, storedTwilio(5, 'theirs'));
    const outcome = await service.put(TENANT, twilio({ account: 'AC-2', password: 'mine' }), { reveal: false, actor: ACTOR });
    expect(outcome).toMatchObject({ kind: 'written', created: false, etag: '"r6"' });
    expect(storedPassword()).toBe('mine');
    expect(rows.writes).toBe(1);
  });

  it('keeps the stored secret for the mask, and refuses the mask where nothing is stored', async () => {
    rows.rows.set(`${TENANT}/twilio`, storedTwilio(1, 'kept-secret'));
    const outcome = await service.put(TENANT, twilio({ account: 'AC-3', password: '********' }), { reveal: false, actor: ACTOR });
    expect(outcome).toMatchObject({ kind: 'written', wire: { account: 'AC-3', password: '********' } });
    expect(storedPassword()).toBe('kept-secret');

    await expect(
      service.put(TENANT, { ...twilio({ account: 'x', password: '********' }), id: 'other' }, { reveal: false, actor: ACTOR }),
    ).rejects.toThrow(new ValidationFailedError('password: "********" keeps a stored secret, and there is none; send the real value'));
  });

  it('answers 412 for a stale If-Match and writes nothing', async () => {
    rows.rows.set(`${TENANT}/twilio`, storedTwilio(2, 'old'));
    await expect(
      service.put(TENANT, twilio({ account: 'x', password: 'y' }), { reveal: false, ifMatch: '"r1"', actor: ACTOR }),
    ).rejects.toBeInstanceOf(PreconditionFailedError);
    expect(rows.writes).toBe(0);
  });

  it('a write refused by the fence forgets the cached key and answers 404 when the tenant is gone', async () => {
    rows.beforeWrite = () => {
      rows.tenantKeyVersion = undefined;
      tenantLive = false;
    };
    await expect(service.put(TENANT, twilio({ account: 'x', password: 'y' }), { reveal: false, actor: ACTOR })).rejects.toBeInstanceOf(
      TenantNotFoundError,
    );
    expect(forgotten).toEqual([TENANT]);
    expect(rows.rows.size).toBe(0);
  });

  it('a write refused because the data key was replaced meanwhile is encrypted again under the new key', async () => {
    rows.beforeWrite = () => (rows.tenantKeyVersion = KEY_VERSION + 1);
    const outcome = await service.put(TENANT, twilio({ account: 'x', password: 'y' }), { reveal: false, actor: ACTOR });
    expect(outcome).toMatchObject({ kind: 'written', created: true });
    const envelope = (JSON.parse(rows.rows.get(`${TENANT}/twilio`)!.secrets) as Record<string, string>).password;
    expect(envelope).toContain(`:dek-${KEY_VERSION + 1}:`);
  });

  it('gives up with 409 (never a 5xx) when the row changes under every attempt', async () => {
    rows.rows.set(`${TENANT}/twilio`, storedTwilio(1, 'old'));
    let revision = 1;
    const keepChanging = (): void => {
      rows.rows.set(`${TENANT}/twilio`, storedTwilio(++revision, 'theirs'));
      rows.beforeWrite = keepChanging;
    };
    rows.beforeWrite = keepChanging;
    await expect(service.put(TENANT, twilio({ account: 'x', password: 'y' }), { reveal: false, actor: ACTOR })).rejects.toBeInstanceOf(
      WriteConflictError,
    );
    rows.beforeWrite = undefined;
  });

  it('PATCH changes only the fields sent, answers 404 for a missing integration and keeps the tenant 404 apart', async () => {
    rows.rows.set(`${TENANT}/twilio`, storedTwilio(1, 'kept'));
    const patched = await service.patch(TENANT, 'twilio', { account: 'AC-new' }, { reveal: true, actor: ACTOR });
    expect(patched).toEqual({ wire: { id: 'twilio', type: 'twilio', account: 'AC-new', password: 'kept' }, etag: '"r2"' });
    await expect(service.patch(TENANT, 'nope', { account: 'x' }, { reveal: false, actor: ACTOR })).rejects.toBeInstanceOf(
      IntegrationNotFoundError,
    );
    tenantLive = false;
    await expect(service.patch(TENANT, 'nope', { account: 'x' }, { reveal: false, actor: ACTOR })).rejects.toBeInstanceOf(
      TenantNotFoundError,
    );
  });

  describe('recording a check', () => {
    const result = (status: 'ok' | 'failed', message: string) => ({ result: { status, message, checkedAt: new Date(1000) }, learned: {} });
    const next = new Date(2000);

    it('keeps the result with its next due time, in the history, and says what changed against the previous result', async () => {
      await service.put(TENANT, twilio({ account: 'AC-1', password: 'p1' }), { reveal: false, actor: ACTOR });
      const record = (status: 'ok' | 'failed', message: string) =>
        service.recordVerification(TENANT, 'twilio', 1, result(status, message), ACTOR, { trigger: 'scheduled', nextCheckAt: next });
      expect(await record('ok', 'fine')).toEqual({ kept: true, transition: null });
      expect(await record('failed', 'refused')).toEqual({ kept: true, transition: 'failed' });
      expect(await record('failed', 'refused')).toEqual({ kept: true, transition: null });
      expect(await record('failed', 'suspended')).toEqual({ kept: true, transition: 'failed' });
      expect(await record('ok', 'fine')).toEqual({ kept: true, transition: 'recovered' });
      expect(rows.rows.get(`${TENANT}/twilio`)).toMatchObject({ verifyStatus: 'ok', checkDueAt: next, checkLeaseUntil: null });
      expect(history.map((h) => [h.status, h.trigger, h.revision])).toEqual([
        ['ok', 'scheduled', 1],
        ['failed', 'scheduled', 1],
        ['failed', 'scheduled', 1],
        ['failed', 'scheduled', 1],
        ['ok', 'scheduled', 1],
      ]);
      expect(audited.filter((e) => e.action === 'integration.verify').every((e) => e.inTransaction)).toBe(true);
    });

    it('keeps nothing but the audit event when the credentials changed meanwhile', async () => {
      await service.put(TENANT, twilio({ account: 'AC-1', password: 'p1' }), { reveal: false, actor: ACTOR });
      await service.put(TENANT, twilio({ account: 'AC-1', password: 'p2' }), { reveal: false, actor: ACTOR });
      const outcome = await service.recordVerification(TENANT, 'twilio', 1, result('failed', 'refused'), ACTOR, { trigger: 'manual', nextCheckAt: next });
      expect(outcome).toEqual({ kept: false, transition: null });
      expect(history).toEqual([]);
      expect(rows.rows.get(`${TENANT}/twilio`)!.verifyStatus).toBeNull();
    });
  });

  describe('with VERIFY_ON_SAVE', () => {
    beforeEach(() => build({ verifyOnSave: true }));

    it('refuses credentials the vendor rejects with 422 and stores nothing', async () => {
      check = { result: { status: 'failed', message: 'Twilio rejected the credentials', checkedAt: new Date() }, learned: {} };
      await expect(service.put(TENANT, twilio({ account: 'x', password: 'y' }), { reveal: false, actor: ACTOR })).rejects.toThrow(
        new UnprocessableError('Twilio rejected the credentials'),
      );
      expect(rows.rows.size).toBe(0);
    });

    it('stores good credentials with their result, in the history too, and due for the scheduler to reschedule', async () => {
      const before = Date.now();
      await service.put(TENANT, twilio({ account: 'x', password: 'y' }), { reveal: false, actor: ACTOR });
      const row = rows.rows.get(`${TENANT}/twilio`)!;
      expect(row).toMatchObject({ verifyStatus: 'ok', verifyMessage: 'fine', verifiedAt: new Date(0), checkLeaseUntil: null });
      expect(row.checkDueAt!.getTime()).toBeGreaterThanOrEqual(before);
      expect(history).toEqual([{ tenantId: TENANT, id: 'twilio', status: 'ok', message: 'fine', checkedAt: new Date(0), revision: 1, trigger: 'save' }]);
    });
  });

  describe('versions (history)', () => {
    const versionPassword = (revision: number): string => {
      const version = rows.versions.find((v) => v.integrationId === 'twilio' && v.revision === revision)!;
      const envelope = (JSON.parse(version.secrets) as Record<string, string>).password;
      return decryptSecret(KEY, KEY_VERSION, { tenantId: TENANT, integrationId: 'twilio', field: 'password', revision }, envelope);
    };

    it('every write makes the next version, across a delete and a re-create, with its actor', async () => {
      await service.put(TENANT, twilio({ account: 'AC-1', password: 'p1' }), { reveal: false, actor: ACTOR });
      await service.put(TENANT, twilio({ account: 'AC-2', password: '********' }), { reveal: false, actor: ACTOR });
      await service.patch(TENANT, 'twilio', { password: 'p3' }, { reveal: false, actor: ACTOR });
      await service.delete(TENANT, 'twilio', { actor: { ...ACTOR, sub: 'ops' } });
      await expect(service.get(TENANT, 'twilio', { reveal: false, actor: ACTOR })).rejects.toBeInstanceOf(IntegrationNotFoundError);
      const again = await service.put(TENANT, twilio({ account: 'AC-5', password: 'p5' }), { reveal: false, actor: ACTOR });
      expect(again).toMatchObject({ kind: 'written', created: true, etag: '"r5"' });
      expect(rows.versions.map((v) => [v.revision, v.action, v.deleted, v.actorSub, v.requestId])).toEqual([
        [1, 'create', false, 'svc-a', 'req-1'],
        [2, 'replace', false, 'svc-a', 'req-1'],
        [3, 'patch', false, 'svc-a', 'req-1'],
        [4, 'delete', true, 'ops', 'req-1'],
        [5, 'create', false, 'svc-a', 'req-1'],
      ]);
      // A version's secrets are its own ciphertexts, bound to its revision; a secret kept by the mask is in it too.
      expect([1, 2, 3, 5].map(versionPassword)).toEqual(['p1', 'p1', 'p3', 'p5']);
      expect(rows.versions[3]).toMatchObject({ config: '{}', secrets: '{}' });
      const envelope = (JSON.parse(rows.versions[0].secrets) as Record<string, string>).password;
      expect(() =>
        decryptSecret(KEY, KEY_VERSION, { tenantId: TENANT, integrationId: 'twilio', field: 'password', revision: 2 }, envelope),
      ).toThrow();
      expect(() => decryptSecret(KEY, KEY_VERSION, { tenantId: TENANT, integrationId: 'twilio', field: 'password' }, envelope)).toThrow();
    });

    it('a delete without If-Match does not lose a race: it deletes whatever revision is there, and its version says which', async () => {
      rows.rows.set(`${TENANT}/twilio`, storedTwilio(4, 'old'));
      rows.beforeWrite = () => rows.rows.set(`${TENANT}/twilio`, storedTwilio(7, 'theirs'));
      await service.delete(TENANT, 'twilio', { actor: ACTOR });
      expect(rows.versions.map((v) => [v.revision, v.action, v.deleted])).toEqual([[8, 'delete', true]]);
      expect(rows.writes).toBe(1);
    });

    it('a write that lost its race keeps no version; the retry makes the one of the revision it landed on', async () => {
      rows.rows.set(`${TENANT}/twilio`, storedTwilio(4, 'old'));
      rows.beforeWrite = () => rows.rows.set(`${TENANT}/twilio`, storedTwilio(5, 'theirs'));
      await service.put(TENANT, twilio({ account: 'AC-2', password: 'mine' }), { reveal: false, actor: ACTOR });
      expect(rows.versions.map((v) => v.revision)).toEqual([6]);
      expect(versionPassword(6)).toBe('mine');
    });

    it('a delete answers 404 for what is not there or already deleted, and honours If-Match', async () => {
      await expect(service.delete(TENANT, 'twilio', { actor: ACTOR })).rejects.toBeInstanceOf(IntegrationNotFoundError);
      rows.rows.set(`${TENANT}/twilio`, storedTwilio(2, 'old'));
      await expect(service.delete(TENANT, 'twilio', { ifMatch: '"r1"', actor: ACTOR })).rejects.toBeInstanceOf(PreconditionFailedError);
      await service.delete(TENANT, 'twilio', { ifMatch: '"r2"', actor: ACTOR });
      await expect(service.delete(TENANT, 'twilio', { actor: ACTOR })).rejects.toBeInstanceOf(IntegrationNotFoundError);
      await expect(service.patch(TENANT, 'twilio', { account: 'x' }, { reveal: false, actor: ACTOR })).rejects.toBeInstanceOf(
        IntegrationNotFoundError,
      );
      // If-Match treats the tombstone as absent: even * does not match it.
      await expect(
        service.put(TENANT, twilio({ account: 'x', password: 'y' }), { reveal: false, ifMatch: '*', actor: ACTOR }),
      ).rejects.toBeInstanceOf(PreconditionFailedError);
      expect(rows.versions.map((v) => [v.revision, v.action])).toEqual([[3, 'delete']]);
    });
  });

  it('reads: 404 integration vs 404 tenant, secrets masked unless revealed', async () => {
    rows.rows.set(`${TENANT}/twilio`, storedTwilio(7, 'plain'));
    expect(await service.get(TENANT, 'twilio', { reveal: false, actor: ACTOR })).toEqual({
      wire: { id: 'twilio', type: 'twilio', account: 'AC-stored', password: '********' },
      etag: '"r7"',
    });
    expect((await service.get(TENANT, 'twilio', { reveal: true, actor: ACTOR })).wire.password).toBe('plain');
    await expect(service.get(TENANT, 'missing', { reveal: false, actor: ACTOR })).rejects.toBeInstanceOf(IntegrationNotFoundError);
    tenantLive = false;
    await expect(service.get(TENANT, 'missing', { reveal: false, actor: ACTOR })).rejects.toBeInstanceOf(TenantNotFoundError);
  });

  describe('webhook events', () => {
    it('each write emits its event in its own transaction: created, updated, deleted, and created again by a restore', async () => {
      await service.put(TENANT, twilio({ account: 'AC-1', password: 'p1' }), { reveal: false, actor: ACTOR });
      await service.put(TENANT, twilio({ account: 'AC-2', password: '********' }), { reveal: false, actor: ACTOR });
      await service.patch(TENANT, 'twilio', { account: 'AC-3' }, { reveal: false, actor: ACTOR });
      await service.delete(TENANT, 'twilio', { actor: ACTOR });
      await expect(service.patch(TENANT, 'twilio', { account: 'AC-4' }, { reveal: false, actor: ACTOR })).rejects.toThrow(
        IntegrationNotFoundError,
      );
      expect(emitted.map((e) => [e.type, e.data.revision, e.inTransaction])).toEqual([
        ['integration.created', 1, true],
        ['integration.updated', 2, true],
        ['integration.updated', 3, true],
        ['integration.deleted', 4, true],
      ]);
      expect(emitted[0].data).toEqual({ tenant: TENANT, integration: 'twilio', 'integration-type': 'twilio', revision: 1 });
    });

    it("tells the outbox what the write's own read saw of the tenant's webhooks, and nothing when it did not ask", async () => {
      await service.put(TENANT, twilio({ account: 'AC-1', password: 'p1' }), { reveal: false, actor: ACTOR });
      await service.put(TENANT, twilio({ account: 'AC-2', password: '********' }), { reveal: false, actor: ACTOR });
      rows.tenantHasWebhook = true;
      await service.patch(TENANT, 'twilio', { account: 'AC-3' }, { reveal: false, actor: ACTOR });
      await service.delete(TENANT, 'twilio', { actor: ACTOR });
      expect(emitted.map((e) => [e.type, e.data.revision, e.subscribed])).toEqual([
        // No row to read: the outbox statement finds the subscribers itself.
        ['integration.created', 1, undefined],
        ['integration.updated', 2, false],
        ['integration.updated', 3, true],
        ['integration.deleted', 4, undefined],
      ]);
    });
  });

  describe('audit events', () => {
    const seen = () => audited.map((e) => [e.action, e.target, e.outcome, e.actor.sub, e.inTransaction]);

    it('records each write in its own transaction, as its actor, with the answer status', async () => {
      await service.put(TENANT, twilio({ account: 'AC-1', password: 'p1' }), { reveal: false, actor: ACTOR });
      await service.put(TENANT, twilio({ account: 'AC-2', password: '********' }), { reveal: false, actor: ACTOR });
      await service.patch(TENANT, 'twilio', { account: 'AC-3' }, { reveal: false, actor: ACTOR });
      await service.delete(TENANT, 'twilio', { actor: { ...ACTOR, sub: 'ops' } });
      await service.restore(TENANT, 'twilio', 3, { reveal: false, actor: ACTOR }).catch(() => undefined);
      expect(seen().slice(0, 4)).toEqual([
        ['integration.create', 'twilio', 201, 'svc-a', true],
        ['integration.replace', 'twilio', 200, 'svc-a', true],
        ['integration.update', 'twilio', 200, 'svc-a', true],
        ['integration.delete', 'twilio', 204, 'ops', true],
      ]);
    });

    it('a revealing read is recorded before it answers; a masked one is not', async () => {
      await service.put(TENANT, twilio({ account: 'AC-1', password: 'p1' }), { reveal: false, actor: ACTOR });
      audited.length = 0;
      await service.get(TENANT, 'twilio', { reveal: false, actor: ACTOR });
      expect(audited).toEqual([]);
      const { wire } = await service.get(TENANT, 'twilio', { reveal: true, actor: ACTOR });
      expect(wire.password).toBe('p1');
      expect(seen()).toEqual([['integration.secret-read', 'twilio', 200, 'svc-a', false]]);
    });

    it('a write whose answer shows a stored secret in plaintext is also a secret read, in the same transaction', async () => {
      await service.put(TENANT, twilio({ account: 'AC-1', password: 'p1' }), { reveal: false, actor: ACTOR });
      audited.length = 0;
      const { wire } = await service.patch(TENANT, 'twilio', { account: 'AC-2' }, { reveal: true, actor: ACTOR });
      expect(wire.password).toBe('p1');
      expect(seen()).toEqual([
        ['integration.update', 'twilio', 200, 'svc-a', true],
        ['integration.secret-read', 'twilio', 200, 'svc-a', true],
      ]);
      audited.length = 0;
      // Sending the secret shows the caller its own value: no read of a stored one.
      await service.patch(TENANT, 'twilio', { password: 'p2' }, { reveal: true, actor: ACTOR });
      expect(seen()).toEqual([['integration.update', 'twilio', 200, 'svc-a', true]]);
    });
  });
});
