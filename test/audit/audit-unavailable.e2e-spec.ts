import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Test, type TestingModule } from '@nestjs/testing';
import { AuditModule } from '../../src/audit/audit.module';
import { AuditService } from '../../src/audit/audit.service';
import { AuditUnavailableError } from '../../src/common/errors/domain-errors';
import { toErrorResponse } from '../../src/common/filters/error-response';
import { systemActor } from '../../src/common/request-actor';
import { ConfigModule } from '../../src/config/config.module';
import { loadConfiguration } from '../../src/config/configuration';
import { DatabaseModule } from '../../src/database/database.module';
import { DatabaseService } from '../../src/database/database.service';
import { auditRows } from '../helpers/audit';
import {
  adminToken,
  bearer,
  createTenant,
  ownMysqlDatabase,
  startTestApp,
  TEST_JWT_SECRET,
  TEST_KEY_A,
  type TestApp,
} from '../helpers/test-app';

/**
 * Vault's rule: what needs an audit event does not happen without it. A
 * plaintext read with the trail unwritable gets 503 instead of the secret; a
 * change with the trail unwritable is not made.
 */
const mysqlUrl = /^(mysql|mariadb):\/\//.test(process.env.DATABASE_URL ?? '') ? process.env.DATABASE_URL : undefined;
const admin = bearer(adminToken());

/** Makes the trail unwritable (its table gone, as a full disk or a revoked grant would) and puts it back. */
const hideTrail = (db: DatabaseService) => db.query('ALTER TABLE audit_events RENAME TO audit_events_away');
const restoreTrail = (db: DatabaseService) => db.query('ALTER TABLE audit_events_away RENAME TO audit_events');

describe('An unwritable audit trail', () => {
  describe('AuditService.recordSecretRead (the audit module alone, @nestjs/testing)', () => {
    let dir: string;
    let own: { url: string; drop: () => Promise<void> } | undefined;
    const modules: TestingModule[] = [];

    const compile = async (env: Record<string, string>): Promise<TestingModule> => {
      const config = loadConfiguration({
        NODE_ENV: 'test',
        LOG_LEVEL: 'silent',
        DATA_DIR: dir,
        JWT_SECRET: TEST_JWT_SECRET,
        ENCRYPTION_KEYS: TEST_KEY_A,
        DATABASE_URL: own?.url ?? `sqlite:${join(dir, 'audit.sqlite')}`,
        ...env,
      });
      const moduleRef = await Test.createTestingModule({ imports: [ConfigModule.forRoot(config), DatabaseModule, AuditModule] }).compile();
      moduleRef.useLogger(false);
      await moduleRef.init();
      modules.push(moduleRef);
      return moduleRef;
    };

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'audit-unavailable-'));
      own = mysqlUrl === undefined ? undefined : await ownMysqlDatabase(mysqlUrl);
    });
    afterAll(async () => {
      for (const moduleRef of modules) await moduleRef.close();
      await own?.drop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('answers 503 with Retry-After and says the secret is not sent, without the secret; records again once the trail is back', async () => {
      const moduleRef = await compile({});
      const audit = moduleRef.get(AuditService);
      const db = moduleRef.get(DatabaseService);
      const read = { tenantId: 'acme', actor: systemActor('reader'), targets: ['twilio', 'salesforce'] };
      await audit.recordSecretRead(read);

      await hideTrail(db);
      let refused: unknown;
      try {
        await audit.recordSecretRead(read);
      } catch (error) {
        refused = error;
      }
      await restoreTrail(db);
      expect(refused).toBeInstanceOf(AuditUnavailableError);
      const answer = toErrorResponse(refused);
      expect(answer).toEqual({
        status: 503,
        body: { error: 'The audit trail cannot be written, so the secret is not sent; retry shortly', code: 'AUDIT_UNAVAILABLE' },
        headers: { 'Retry-After': '5' },
        unexpected: false,
      });

      // Back: the chain goes on from the last event written, without a gap.
      await audit.recordSecretRead({ ...read, targets: ['pusher'] });
      const rows = await db.query<{ seq: number | string; target: string }>(
        "SELECT seq, target FROM audit_events WHERE tenant_id = 'acme' ORDER BY seq",
      );
      expect(rows.map((r) => [Number(r.seq), r.target])).toEqual([
        [1, 'twilio'],
        [2, 'salesforce'],
        [3, 'pusher'],
      ]);
    });

    it('AUDIT_SECRET_READS=off records no event for reads, and refuses nothing when the trail is unwritable', async () => {
      const moduleRef = await compile({ AUDIT_SECRET_READS: 'off' });
      const audit = moduleRef.get(AuditService);
      const db = moduleRef.get(DatabaseService);
      await audit.recordSecretRead({ tenantId: 'quiet', actor: systemActor('reader'), targets: ['twilio'] });
      expect(await db.query("SELECT * FROM audit_events WHERE tenant_id = 'quiet'")).toEqual([]);
      await hideTrail(db);
      try {
        await expect(
          audit.recordSecretRead({ tenantId: 'quiet', actor: systemActor('reader'), targets: ['twilio'] }),
        ).resolves.toBeUndefined();
      } finally {
        await restoreTrail(db);
      }
    });
  });

  describe('through the API', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startTestApp({}, { ownDatabase: true });
    });
    afterAll(() => t?.close());

    it('a change whose event cannot be written is not made: 503 AUDIT_UNAVAILABLE, and nothing changed; then it works again without a gap', async () => {
      const tenant = await createTenant(t, 'unwritable');
      const newcomer = t.uniqueId('newcomer');
      await hideTrail(t.db);
      try {
        const created = await t
          .http()
          .post('/tenants')
          .set(...admin)
          .send({ id: newcomer, name: 'New' });
        expect(created.status).toBe(503);
        expect(created.headers['retry-after']).toBe('5');
        expect(created.body).toMatchObject({
          error: 'The audit trail cannot be written, so this change was not made; retry shortly',
          code: 'AUDIT_UNAVAILABLE',
        });
        const renamed = await t
          .http()
          .patch(`/tenants/${tenant}`)
          .set(...admin)
          .send({ name: 'Never' });
        expect(renamed.status).toBe(503);
        const client = await t
          .http()
          .post(`/tenants/${tenant}/api-clients`)
          .set(...admin)
          .send({ name: 'Never', scope: 'integrations:read' });
        expect(client.status).toBe(503);
        expect(client.body.code).toBe('AUDIT_UNAVAILABLE');
        expect(JSON.stringify(client.body)).not.toMatch(/ics-/);
        const deleted = await t
          .http()
          .delete(`/tenants/${tenant}`)
          .set(...admin);
        expect(deleted.status).toBe(503);
      } finally {
        await restoreTrail(t.db);
      }
      // Nothing happened: no tenant, the old name, no client, the tenant still there.
      expect(
        (
          await t
            .http()
            .get(`/tenants/${newcomer}`)
            .set(...admin)
        ).status,
      ).toBe(404);
      const kept = await t
        .http()
        .get(`/tenants/${tenant}`)
        .set(...admin);
      expect(kept.status).toBe(200);
      expect(kept.body.name).toBe(`Tenant ${tenant}`);
      expect(
        (
          await t
            .http()
            .get(`/tenants/${tenant}/api-clients`)
            .set(...admin)
        ).body,
      ).toEqual([]);

      expect(
        (
          await t
            .http()
            .patch(`/tenants/${tenant}`)
            .set(...admin)
            .send({ name: 'Now' })
        ).status,
      ).toBe(200);
      expect(
        (
          await t
            .http()
            .post('/tenants')
            .set(...admin)
            .send({ id: newcomer, name: 'New' })
        ).status,
      ).toBe(201);
      expect((await auditRows(t, tenant)).map((r) => [r.seq, r.action])).toEqual([
        [1, 'tenant.create'],
        [2, 'tenant.update'],
      ]);
      expect((await auditRows(t, newcomer)).map((r) => [r.seq, r.action])).toEqual([[1, 'tenant.create']]);
    });

    it('a read of the trail is refused too (its own event comes first)', async () => {
      const tenant = await createTenant(t, 'unreadable');
      await hideTrail(t.db);
      try {
        const response = await t
          .http()
          .get(`/tenants/${tenant}/audit`)
          .set(...admin);
        expect(response.status).toBe(503);
        expect(response.body).toMatchObject({
          error: 'The audit trail cannot be written, so it is not read either; retry shortly',
          code: 'AUDIT_UNAVAILABLE',
        });
      } finally {
        await restoreTrail(t.db);
      }
    });
  });
});
