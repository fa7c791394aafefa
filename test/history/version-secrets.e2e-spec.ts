import { systemActor } from '../../src/common/request-actor';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { KeyManagementService } from '../../src/crypto/key-management.service';
import { IntegrationsService } from '../../src/integrations/integrations.service';
import { adminToken, bearer, createTenant, startTestApp, TEST_KEY_A, TEST_KEY_B, type TestApp } from '../helpers/test-app';

/**
 * The secrets of kept versions: encrypted at rest under the tenant's data key
 * and bound to their revision, re-encrypted by keys:rotate --reencrypt,
 * counted by keys:status, and destroyed with the tenant.
 */
const admin = bearer(adminToken());
const run = promisify(execFile);

interface VersionRow {
  tenant_id: string;
  integration_id: string;
  revision: number | string;
  secrets: string;
}

const versionRows = (t: TestApp, tenant: string): Promise<VersionRow[]> =>
  t.db.query<VersionRow>(
    'SELECT tenant_id, integration_id, revision, secrets FROM integration_versions WHERE tenant_id = ? ORDER BY integration_id, revision',
    [tenant],
  );

/** A history for one integration: create, replace, PATCH of a secret, delete, create again. Returns each version's plaintext secrets. */
async function history(t: TestApp, tenant: string, id: string): Promise<Map<number, Record<string, string>>> {
  const path = `/tenants/${tenant}/integrations/${id}`;
  const step = async (method: 'post' | 'patch' | 'delete', body: object | undefined, status: number): Promise<void> => {
    const agent = t.http();
    const request = agent[method](path).set(...admin);
    expect({ method, status: (await (body === undefined ? request : request.send(body))).status }).toEqual({ method, status });
  };
  const account = `${id}-acct`;
  await step('post', { type: 'twilio', account, password: `${id}-pw-one-0123456789` }, 201);
  await step('post', { type: 'twilio', account, password: `${id}-pw-two-0123456789` }, 200);
  await step('patch', { password: `${id}-pw-three-0123456789` }, 200);
  await step('delete', undefined, 204);
  await step('post', { type: 'twilio', account, password: `${id}-pw-five-0123456789` }, 201);
  return new Map([
    [1, { password: `${id}-pw-one-0123456789` }],
    [2, { password: `${id}-pw-two-0123456789` }],
    [3, { password: `${id}-pw-three-0123456789` }],
    [5, { password: `${id}-pw-five-0123456789` }],
  ]);
}

async function expectVersionsReadBack(t: TestApp, tenant: string, id: string, secrets: Map<number, Record<string, string>>): Promise<void> {
  for (const [revision, expected] of secrets) {
    const response = await t
      .http()
      .get(`/tenants/${tenant}/integrations/${id}/versions/${revision}`)
      .set(...admin);
    expect({ revision, status: response.status, password: response.body.integration?.password }).toEqual({
      revision,
      status: 200,
      password: expected.password,
    });
  }
}

describe('Secrets of kept versions', () => {
  describe('at rest', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startTestApp();
    });
    afterAll(() => t.close());

    it('holds every version secret encrypted, each version its own ciphertext', async () => {
      const tenant = await createTenant(t, 'vs-rest');
      const secrets = await history(t, tenant, 'twilio');
      const rows = await versionRows(t, tenant);
      expect(rows.map((r) => Number(r.revision))).toEqual([1, 2, 3, 4, 5]);
      const dump = JSON.stringify(await t.db.query('SELECT * FROM integration_versions WHERE tenant_id = ?', [tenant]));
      for (const { password } of secrets.values()) expect(dump).not.toContain(password);
      const envelopes = rows.flatMap((r) => Object.values(JSON.parse(r.secrets) as Record<string, string>));
      expect(envelopes).toHaveLength(4);
      for (const envelope of envelopes) expect(envelope).toMatch(/^enc:v1:dek-1:/);
      expect(new Set(envelopes).size).toBe(4);
      // Version 3 kept the password PATCHed into it; version 2's is another ciphertext of another value.
      await expectVersionsReadBack(t, tenant, 'twilio', secrets);
    });

    it("does not decrypt a version's ciphertext moved to another revision, to the integration's row, or the row's into a version", async () => {
      const tenant = await createTenant(t, 'vs-moved');
      const secrets = await history(t, tenant, 'twilio');
      const rows = await versionRows(t, tenant);
      const byRevision = new Map(rows.map((r) => [Number(r.revision), r.secrets]));
      const leaks = (body: unknown): boolean => [...secrets.values()].some(({ password }) => JSON.stringify(body).includes(password));

      // Version 1's secrets copied into version 2: version 2 no longer decrypts (500, nothing shown), version 1 still does.
      await t.db.query('UPDATE integration_versions SET secrets = ? WHERE tenant_id = ? AND integration_id = ? AND revision = 2', [
        byRevision.get(1),
        tenant,
        'twilio',
      ]);
      const moved = await t
        .http()
        .get(`/tenants/${tenant}/integrations/twilio/versions/2`)
        .set(...admin);
      expect({ status: moved.status, code: moved.body.code, leaks: leaks(moved.body) }).toEqual({
        status: 500,
        code: 'SECRET_UNREADABLE',
        leaks: false,
      });
      const restored = await t
        .http()
        .post(`/tenants/${tenant}/integrations/twilio/versions/2/restore`)
        .set(...admin);
      expect({ status: restored.status, code: restored.body.code }).toEqual({ status: 500, code: 'SECRET_UNREADABLE' });
      // Masked, nothing is decrypted: the version is still listed.
      expect(
        (
          await t
            .http()
            .get(`/tenants/${tenant}/integrations/twilio/versions`)
            .set(...admin)
        ).status,
      ).toBe(200);
      await expectVersionsReadBack(t, tenant, 'twilio', new Map([[1, secrets.get(1)!]]));

      // Version 5's secrets (the current state's) copied into the integration's row: the row no longer decrypts.
      const [row] = await t.db.query<{ secrets: string }>('SELECT secrets FROM integrations WHERE tenant_id = ? AND id = ?', [
        tenant,
        'twilio',
      ]);
      await t.db.query('UPDATE integrations SET secrets = ? WHERE tenant_id = ? AND id = ?', [byRevision.get(5), tenant, 'twilio']);
      const fromVersion = await t
        .http()
        .get(`/tenants/${tenant}/integrations/twilio`)
        .set(...admin);
      expect({ status: fromVersion.status, code: fromVersion.body.code, leaks: leaks(fromVersion.body) }).toEqual({
        status: 500,
        code: 'SECRET_UNREADABLE',
        leaks: false,
      });

      // And the row's ciphertext (same plaintext as version 5) copied into version 5 does not decrypt there.
      await t.db.query('UPDATE integrations SET secrets = ? WHERE tenant_id = ? AND id = ?', [row.secrets, tenant, 'twilio']);
      expect(
        (
          await t
            .http()
            .get(`/tenants/${tenant}/integrations/twilio`)
            .set(...admin)
        ).status,
      ).toBe(200);
      await t.db.query('UPDATE integration_versions SET secrets = ? WHERE tenant_id = ? AND integration_id = ? AND revision = 5', [
        row.secrets,
        tenant,
        'twilio',
      ]);
      const fromRow = await t
        .http()
        .get(`/tenants/${tenant}/integrations/twilio/versions/5`)
        .set(...admin);
      expect({ status: fromRow.status, code: fromRow.body.code }).toEqual({ status: 500, code: 'SECRET_UNREADABLE' });
    });

    it('in another tenant or integration does not decrypt either', async () => {
      const a = await createTenant(t, 'vs-a');
      const b = await createTenant(t, 'vs-b');
      await history(t, a, 'twilio');
      await history(t, b, 'twilio');
      await history(t, b, 'tw-2');
      const [fromA] = (await versionRows(t, a)).filter((r) => Number(r.revision) === 1);
      await t.db.query('UPDATE integration_versions SET secrets = ? WHERE tenant_id = ? AND integration_id = ? AND revision = 1', [
        fromA.secrets,
        b,
        'twilio',
      ]);
      const [fromOther] = (await versionRows(t, b)).filter((r) => r.integration_id === 'tw-2' && Number(r.revision) === 1);
      await t.db.query('UPDATE integration_versions SET secrets = ? WHERE tenant_id = ? AND integration_id = ? AND revision = 2', [
        fromOther.secrets,
        b,
        'twilio',
      ]);
      for (const revision of [1, 2]) {
        const response = await t
          .http()
          .get(`/tenants/${b}/integrations/twilio/versions/${revision}`)
          .set(...admin);
        expect({ revision, status: response.status }).toEqual({ revision, status: 500 });
      }
    });
  });

  describe('under key rotation and tenant deletion', () => {
    let t: TestApp;
    let keys: KeyManagementService;
    beforeAll(async () => {
      t = await startTestApp({ ENCRYPTION_KEYS: `${TEST_KEY_B},${TEST_KEY_A}` }, { ownDatabase: true });
      keys = t.app.get(KeyManagementService);
    });
    afterAll(() => t.close());

    it("keys:rotate --reencrypt re-encrypts every version (a deleted integration's too), and they read back", async () => {
      const tenant = await createTenant(t, 'vs-rot');
      const first = await history(t, tenant, 'twilio');
      const second = await history(t, tenant, 'tw-deleted');
      expect(
        (
          await t
            .http()
            .delete(`/tenants/${tenant}/integrations/tw-deleted`)
            .set(...admin)
        ).status,
      ).toBe(204);
      const before = await versionRows(t, tenant);
      const withSecrets = before.filter((r) => r.secrets !== '{}');
      expect(withSecrets).toHaveLength(8);

      const summary = await keys.rotate({ reencrypt: true, batchSize: 10, actor: systemActor('cli:test') });
      expect(summary.failed).toEqual([]);
      expect(summary.versions).toBeGreaterThanOrEqual(8);

      const after = await versionRows(t, tenant);
      expect(after.map((r) => `${r.integration_id}@${r.revision}`)).toEqual(before.map((r) => `${r.integration_id}@${r.revision}`));
      const old = before.map((r) => r.secrets).join();
      for (const row of after.filter((r) => r.secrets !== '{}')) {
        for (const envelope of Object.values(JSON.parse(row.secrets) as Record<string, string>)) {
          expect(envelope).toMatch(/^enc:v1:dek-2:/);
          expect(old).not.toContain(envelope.split(':')[4]);
        }
      }
      expect(await t.app.get(IntegrationsService).hasSecretsOutside(tenant, 2)).toBe(false);
      await expectVersionsReadBack(t, tenant, 'twilio', first);
      await expectVersionsReadBack(t, tenant, 'tw-deleted', second);
      // The deleted one comes back from a re-encrypted version.
      const back = await t
        .http()
        .post(`/tenants/${tenant}/integrations/tw-deleted/versions/5/restore`)
        .set(...admin);
      expect(back.status).toBe(201);
      expect(
        (
          await t
            .http()
            .get(`/tenants/${tenant}/integrations/tw-deleted`)
            .set(...admin)
        ).body.password,
      ).toBe(second.get(5)!.password);
    });

    it('a tenant is not finished while a version of it is under the previous data key', async () => {
      const tenant = await createTenant(t, 'vs-check');
      await history(t, tenant, 'twilio');
      const service = t.app.get(IntegrationsService);
      expect(await service.hasSecretsOutside(tenant, 1)).toBe(false);
      // Only a version holds a dek-1 envelope: the integrations' rows are not the only thing checked.
      const rows = await t.db.query<{ secrets: string }>('SELECT secrets FROM integrations WHERE tenant_id = ?', [tenant]);
      expect(rows.every((row) => row.secrets.includes(':dek-1:'))).toBe(true);
      await t.db.query(
        "UPDATE integration_versions SET secrets = REPLACE(secrets, ':dek-1:', ':dek-9:') WHERE tenant_id = ? AND revision = 1",
        [tenant],
      );
      expect(await service.hasSecretsOutside(tenant, 1)).toBe(true);
    });

    it('keys:status counts kept versions and their secrets', async () => {
      const tenant = await createTenant(t, 'vs-status');
      await history(t, tenant, 'twilio');
      const usage = await keys.usage();
      const active = usage.find((u) => u.active)!;
      const [{ versions }] = await t.db.query<{ versions: number | string }>(
        'SELECT COUNT(*) AS versions FROM integration_versions WHERE deleted = ?',
        [0],
      );
      expect(active.versions).toBe(Number(versions));
      expect(active.versions).toBeGreaterThanOrEqual(4);
      // Twilio has one secret field per version.
      expect(active.versionSecrets).toBe(active.versions);

      const env = {
        ...process.env,
        DATABASE_URL: t.config.database.kind === 'sqlite' ? `sqlite:${t.config.database.path}` : t.config.database.url,
        ENCRYPTION_KEYS: `${TEST_KEY_B},${TEST_KEY_A}`,
        JWT_SECRET: 'cli-test-secret-that-is-32-bytes-long',
        DATA_DIR: t.config.app.dataDir,
      };
      const status = await run(
        process.execPath,
        ['-r', 'ts-node/register/transpile-only', join(__dirname, '../../src/cli.ts'), 'keys:status'],
        { env, timeout: 60_000 },
      );
      expect(status.stdout).toContain(`kept versions: ${active.versions} under test-b (${active.versionSecrets} secrets)`);
      // The table's columns are what they were.
      expect(status.stdout).toMatch(/^master key +in ring +tenants +integrations +secrets +status$/m);
    });

    it('deleting a tenant leaves no version and no version ciphertext (crypto-shredding)', async () => {
      const tenant = await createTenant(t, 'vs-shred');
      const secrets = await history(t, tenant, 'twilio');
      const envelopes = (await versionRows(t, tenant)).flatMap((r) => Object.values(JSON.parse(r.secrets) as Record<string, string>));
      expect(envelopes.length).toBe(4);
      expect(
        (
          await t
            .http()
            .delete(`/tenants/${tenant}`)
            .set(...admin)
        ).status,
      ).toBe(204);

      expect(await t.db.query('SELECT * FROM integration_versions WHERE tenant_id = ?', [tenant])).toEqual([]);
      expect(await t.db.query('SELECT * FROM integrations WHERE tenant_id = ?', [tenant])).toEqual([]);
      const dump = JSON.stringify([
        await t.db.query('SELECT * FROM integration_versions'),
        await t.db.query('SELECT * FROM integrations'),
        await t.db.query('SELECT * FROM tenants'),
      ]);
      for (const envelope of envelopes) expect(dump).not.toContain(envelope.split(':')[4]);
      for (const { password } of secrets.values()) expect(dump).not.toContain(password);
      expect(
        (
          await t
            .http()
            .get(`/tenants/${tenant}/integrations/twilio/versions`)
            .set(...admin)
        ).status,
      ).toBe(404);
    });
  });
});
