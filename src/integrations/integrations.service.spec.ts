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
import { CONFIGURATION, type Configuration } from '../config/configuration';
import { decryptSecret, encryptSecret } from '../crypto/secret-cipher';
import { TenantKeysService } from '../tenants/tenant-keys.service';
import type { WriteFence } from '../tenants/tenants.repository';
import { TenantsService } from '../tenants/tenants.service';
import { IntegrationBodyValidator, type IntegrationInput } from './integration-body.validator';
import type { IntegrationEntity } from './integration.entity';
import { IntegrationsRepository, type StoredIntegration } from './integrations.repository';
import { IntegrationsService, WriteConflictError } from './integrations.service';
import { type CredentialCheck, CredentialCheckService } from './verification/credential-check.service';
import { findVendor } from './vendors/registry';

const TENANT = 'acme';
const KEY = randomBytes(32);
const KEY_VERSION = 3;

/**
 * The repository's contract, in memory: an update lands only on the revision
 * it names, an insert only where no row is, and both only while the fence
 * (tenant at a key version) holds. `beforeWrite` lets a test play another
 * instance that writes between this one's read and its statement.
 */
class InMemoryIntegrations {
  readonly rows = new Map<string, IntegrationEntity>();
  tenantKeyVersion: number | undefined = KEY_VERSION;
  beforeWrite: (() => void) | undefined;
  writes = 0;

  findOne(tenantId: string, id: string): Promise<StoredIntegration | null> {
    const row = this.rows.get(`${tenantId}/${id}`);
    return Promise.resolve(row === undefined ? null : { ...row });
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
    this.rows.set(`${row.tenantId}/${row.id}`, { ...row, createdAt: current.createdAt });
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

  async function build(options: { verifyOnSave?: boolean; requireIfMatch?: boolean } = {}): Promise<void> {
    rows = new InMemoryIntegrations();
    tenantLive = true;
    check = undefined;
    forgotten.length = 0;
    const config = {
      app: { requireIfMatch: options.requireIfMatch ?? false },
    } as unknown as Configuration;
    const moduleRef = await Test.createTestingModule({
      providers: [
        IntegrationsService,
        IntegrationBodyValidator,
        { provide: CONFIGURATION, useValue: config },
        { provide: IntegrationsRepository, useValue: rows },
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
    const outcome = await service.put(TENANT, twilio({ account: 'AC-1', password: 'token-1' }), { reveal: false });
    expect(outcome).toEqual({ kind: 'written', created: true, wire: { id: 'twilio', type: 'twilio', account: 'AC-1', password: 'token-1' }, etag: '"r1"' });
    expect(rows.rows.get(`${TENANT}/twilio`)!.secrets).not.toContain('token-1');
    expect(storedPassword()).toBe('token-1');
  });

  it('replaces on the revision it read; when another instance wrote first, it reads again and lands on the new revision', async () => {
    rows.rows.set(`${TENANT}/twilio`, storedTwilio(4, 'old'));
    rows.beforeWrite = () => rows.rows.set(`${TENANT}/twilio`, storedTwilio(5, 'theirs'));
    const outcome = await service.put(TENANT, twilio({ account: 'AC-2', password: 'mine' }), { reveal: false });
    expect(outcome).toMatchObject({ kind: 'written', created: false, etag: '"r6"' });
    expect(storedPassword()).toBe('mine');
    expect(rows.writes).toBe(1);
  });

  it('keeps the stored secret for the mask, and refuses the mask where nothing is stored', async () => {
    rows.rows.set(`${TENANT}/twilio`, storedTwilio(1, 'kept-secret'));
    const outcome = await service.put(TENANT, twilio({ account: 'AC-3', password: '********' }), { reveal: false });
    expect(outcome).toMatchObject({ kind: 'written', wire: { account: 'AC-3', password: '********' } });
    expect(storedPassword()).toBe('kept-secret');

    await expect(service.put(TENANT, { ...twilio({ account: 'x', password: '********' }), id: 'other' }, { reveal: false })).rejects.toThrow(
      new ValidationFailedError('password: "********" keeps a stored secret, and there is none; send the real value'),
    );
  });

  it('answers 412 for a stale If-Match and writes nothing', async () => {
    rows.rows.set(`${TENANT}/twilio`, storedTwilio(2, 'old'));
    await expect(service.put(TENANT, twilio({ account: 'x', password: 'y' }), { reveal: false, ifMatch: '"r1"' })).rejects.toBeInstanceOf(
      PreconditionFailedError,
    );
    expect(rows.writes).toBe(0);
  });

  it('a write refused by the fence forgets the cached key and answers 404 when the tenant is gone', async () => {
    rows.beforeWrite = () => {
      rows.tenantKeyVersion = undefined;
      tenantLive = false;
    };
    await expect(service.put(TENANT, twilio({ account: 'x', password: 'y' }), { reveal: false })).rejects.toBeInstanceOf(TenantNotFoundError);
    expect(forgotten).toEqual([TENANT]);
    expect(rows.rows.size).toBe(0);
  });

  it('a write refused because the data key was replaced meanwhile is encrypted again under the new key', async () => {
    rows.beforeWrite = () => (rows.tenantKeyVersion = KEY_VERSION + 1);
    const outcome = await service.put(TENANT, twilio({ account: 'x', password: 'y' }), { reveal: false });
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
    await expect(service.put(TENANT, twilio({ account: 'x', password: 'y' }), { reveal: false })).rejects.toBeInstanceOf(WriteConflictError);
    rows.beforeWrite = undefined;
  });

  it('PATCH changes only the fields sent, answers 404 for a missing integration and keeps the tenant 404 apart', async () => {
    rows.rows.set(`${TENANT}/twilio`, storedTwilio(1, 'kept'));
    const patched = await service.patch(TENANT, 'twilio', { account: 'AC-new' }, { reveal: true });
    expect(patched).toEqual({ wire: { id: 'twilio', type: 'twilio', account: 'AC-new', password: 'kept' }, etag: '"r2"' });
    await expect(service.patch(TENANT, 'nope', { account: 'x' }, { reveal: false })).rejects.toBeInstanceOf(IntegrationNotFoundError);
    tenantLive = false;
    await expect(service.patch(TENANT, 'nope', { account: 'x' }, { reveal: false })).rejects.toBeInstanceOf(TenantNotFoundError);
  });

  describe('with VERIFY_ON_SAVE', () => {
    beforeEach(() => build({ verifyOnSave: true }));

    it('refuses credentials the vendor rejects with 422 and stores nothing', async () => {
      check = { result: { status: 'failed', message: 'Twilio rejected the credentials', checkedAt: new Date() }, learned: {} };
      await expect(service.put(TENANT, twilio({ account: 'x', password: 'y' }), { reveal: false })).rejects.toThrow(
        new UnprocessableError('Twilio rejected the credentials'),
      );
      expect(rows.rows.size).toBe(0);
    });

    it('stores good credentials with their result', async () => {
      await service.put(TENANT, twilio({ account: 'x', password: 'y' }), { reveal: false });
      expect(rows.rows.get(`${TENANT}/twilio`)).toMatchObject({ verifyStatus: 'ok', verifyMessage: 'fine', verifiedAt: new Date(0) });
    });
  });

  it('reads: 404 integration vs 404 tenant, secrets masked unless revealed', async () => {
    rows.rows.set(`${TENANT}/twilio`, storedTwilio(7, 'plain'));
    expect(await service.get(TENANT, 'twilio', { reveal: false })).toEqual({
      wire: { id: 'twilio', type: 'twilio', account: 'AC-stored', password: '********' },
      etag: '"r7"',
    });
    expect((await service.get(TENANT, 'twilio', { reveal: true })).wire.password).toBe('plain');
    await expect(service.get(TENANT, 'missing', { reveal: false })).rejects.toBeInstanceOf(IntegrationNotFoundError);
    tenantLive = false;
    await expect(service.get(TENANT, 'missing', { reveal: false })).rejects.toBeInstanceOf(TenantNotFoundError);
  });
});
