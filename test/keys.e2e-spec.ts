import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { systemActor } from '../src/common/request-actor';
import { KeyManagementService } from '../src/crypto/key-management.service';
import { adminToken, bearer, createTenant, startTestApp, TEST_KEY_A, TEST_KEY_B, type TestApp } from './helpers/test-app';

const run = promisify(execFile);
const admin = bearer(adminToken());

/** The operator command, run as a user would (through ts-node, so no build is needed). */
async function cli(t: TestApp, args: string[], keys: string): Promise<{ stdout: string; stderr: string; code: number }> {
  const env = { ...process.env, DATABASE_URL: databaseUrl(t), ENCRYPTION_KEYS: keys, JWT_SECRET: 'cli-test-secret-that-is-32-bytes-long', DATA_DIR: t.config.app.dataDir };
  try {
    const { stdout, stderr } = await run(process.execPath, ['-r', 'ts-node/register/transpile-only', join(__dirname, '../src/cli.ts'), ...args], { env, timeout: 60_000 });
    return { stdout, stderr, code: 0 };
  } catch (error) {
    const failed = error as { stdout: string; stderr: string; code: number };
    return { stdout: failed.stdout, stderr: failed.stderr, code: failed.code };
  }
}

function databaseUrl(t: TestApp): string {
  return t.config.database.kind === 'sqlite' ? `sqlite:${t.config.database.path}` : t.config.database.url;
}

interface Seeded {
  tenant: string;
  id: string;
  body: Record<string, string>;
}

async function seed(t: TestApp, tenants: number, perTenant: number): Promise<Seeded[]> {
  const seeded: Seeded[] = [];
  for (let i = 0; i < tenants; i++) {
    const tenant = await createTenant(t, 'keys');
    for (let j = 0; j < perTenant; j++) {
      const body = { type: 'salesforce', 'consumer-key': `ck${j}`, 'consumer-secret': randomBytes(9).toString('hex'), username: `u${j}@x.test`, password: randomBytes(9).toString('hex'), 'secret-token': randomBytes(9).toString('hex') };
      const response = await t.http().post(`/tenants/${tenant}/integrations/sf-${j}`).set(...admin).send(body);
      expect(response.status).toBe(201);
      seeded.push({ tenant, id: `sf-${j}`, body });
    }
  }
  return seeded;
}

async function expectAllReadBack(t: TestApp, seeded: Seeded[]): Promise<void> {
  for (const { tenant, id, body } of seeded) {
    const response = await t.http().get(`/tenants/${tenant}/integrations/${id}`).set(...admin);
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ id, ...body });
  }
}

async function secretsColumn(t: TestApp, seeded: Seeded[]): Promise<string[]> {
  const tenants = [...new Set(seeded.map((s) => s.tenant))];
  const rows = await t.db.query<{ secrets: string }>(`SELECT secrets FROM integrations WHERE tenant_id IN (${tenants.map(() => '?').join(',')}) ORDER BY tenant_id, id`, tenants);
  return rows.map((r) => r.secrets);
}

describe('Key management', () => {
  it('rotates to a new master key, reports usage, refuses a ring that lacks a key in use, and reads everything back', async () => {
    const first = await startTestApp({ ENCRYPTION_KEYS: TEST_KEY_A }, { ownDatabase: true });
    try {
      const seeded = await seed(first, 4, 3);
      const onSameDb = { DATABASE_URL: databaseUrl(first), DATA_DIR: first.config.app.dataDir };

      // The new key alone cannot read what the old one wrapped: refused at start, naming the key and the count.
      await expect(startTestApp({ ...onSameDb, ENCRYPTION_KEYS: TEST_KEY_B })).rejects.toThrow(/ENCRYPTION_KEYS lacks master key 'test-a' \(still wraps the data keys of \d+ tenants?\)/);

      const rotated = await cli(first, ['keys:rotate'], `${TEST_KEY_B},${TEST_KEY_A}`);
      expect(rotated.code).toBe(0);
      expect(rotated.stdout).toMatch(/re-wrapped: +\d+ tenant data keys/);
      expect(Number(/re-wrapped: +(\d+)/.exec(rotated.stdout)![1])).toBeGreaterThanOrEqual(4);
      expect(rotated.stdout).toMatch(/failed: +0/);
      expect(rotated.stderr).toMatch(/Re-wrapping \d+\/\d+ tenants \(100%\)/);

      const status = await cli(first, ['keys:status'], `${TEST_KEY_B},${TEST_KEY_A}`);
      expect(status.code).toBe(0);
      expect(status.stdout).toMatch(/test-a +yes +0 +0 +0 +can be removed/);
      expect(status.stdout).toMatch(/test-b \(active\) +yes +\d+ +\d+ +\d+ +in use/);

      // A second run has nothing left to do.
      expect((await cli(first, ['keys:rotate'], `${TEST_KEY_B},${TEST_KEY_A}`)).stdout).toMatch(/re-wrapped: +0/);

      const after = await startTestApp({ ...onSameDb, ENCRYPTION_KEYS: TEST_KEY_B, MIGRATIONS_RUN: 'false' });
      try {
        await expectAllReadBack(after, seeded);
      } finally {
        await after.close();
      }
    } finally {
      await first.close();
    }
  });

  describe('with the new key first in the ring', () => {
    let t: TestApp;
    let keys: KeyManagementService;
    beforeAll(async () => {
      t = await startTestApp({ ENCRYPTION_KEYS: `${TEST_KEY_B},${TEST_KEY_A}` }, { ownDatabase: true });
      keys = t.app.get(KeyManagementService);
    });
    afterAll(() => t.close());

    it('--reencrypt gives each tenant a new data key: no ciphertext stays the same, every secret reads back', async () => {
      const seeded = await seed(t, 3, 2);
      const before = await secretsColumn(t, seeded);
      const summary = await keys.rotate({ reencrypt: true, batchSize: 2, actor: systemActor('cli:test') });
      expect(summary.failed).toEqual([]);
      expect(summary.reencrypted).toBeGreaterThanOrEqual(3);
      const after = await secretsColumn(t, seeded);
      after.forEach((row, i) => {
        expect(row).not.toBe(before[i]);
        for (const envelope of Object.values(JSON.parse(row) as Record<string, string>)) {
          expect(before.join()).not.toContain(envelope.split(':')[4]);
        }
      });
      const versions = await t.db.query<{ data_key_version: number | string }>('SELECT data_key_version FROM tenants WHERE id = ?', [seeded[0].tenant]);
      expect(Number(versions[0].data_key_version)).toBe(2);
      await expectAllReadBack(t, seeded);
    });

    it('a rotation stopped halfway resumes where it stopped, and loses nothing', async () => {
      const seeded = await seed(t, 4, 2);
      const [{ live }] = await t.db.query<{ live: number | string }>('SELECT COUNT(*) AS live FROM tenants WHERE data_key_wrapped IS NOT NULL');
      let calls = 0;
      await expect(
        keys.rotate({ reencrypt: true, batchSize: 1, actor: systemActor('cli:test') }, () => {
          // Progress is reported after each tenant commits; dying here is dying between tenants.
          if (++calls === 3) throw new Error('killed');
        }),
      ).rejects.toThrow('killed');
      // The first call reports 0 done, so two tenants were finished before the "kill".
      const resumed = await keys.rotate({ reencrypt: true, batchSize: 1, actor: systemActor('cli:test') });
      expect(resumed.failed).toEqual([]);
      expect(resumed.reencrypted).toBe(Number(live) - 2);
      await expectAllReadBack(t, seeded);
    });

    it('while a rotation runs, concurrent reads and writes see no error and no wrong value', async () => {
      const seeded = await seed(t, 6, 2);
      const expected = new Map(seeded.map((s) => [`${s.tenant}/${s.id}`, s.body]));
      let running = true;
      const problems: string[] = [];
      let requests = 0;
      const client = async (worker: number) => {
        let n = 0;
        // Each worker owns every third integration, so "expected" is exact for what it reads.
        const mine = seeded.filter((_s, i) => i % 3 === worker);
        while (running) {
          const target = mine[n++ % mine.length];
          const key = `${target.tenant}/${target.id}`;
          if (n % 3 === 0) {
            const body = { ...expected.get(key)!, password: `w${worker}-${n}` };
            const response = await t.http().post(`/tenants/${target.tenant}/integrations/${target.id}`).set(...admin).send(body);
            if (response.status !== 200) problems.push(`write ${key}: ${response.status}`);
            else expected.set(key, body);
          } else {
            const response = await t.http().get(`/tenants/${target.tenant}/integrations/${target.id}`).set(...admin);
            if (response.status !== 200) problems.push(`read ${key}: ${response.status}`);
            else if (JSON.stringify(response.body) !== JSON.stringify({ id: target.id, ...expected.get(key) })) problems.push(`read ${key}: wrong value`);
          }
          requests++;
        }
      };
      const workers = [0, 1, 2].map((w) => client(w));
      const summaries = [];
      while (summaries.length < 3 || requests < 60) {
        summaries.push(await keys.rotate({ reencrypt: true, batchSize: 2, actor: systemActor('cli:test') }));
        // In-process, SQLite queries never yield to I/O: let the clients' requests through between rounds.
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      running = false;
      await Promise.all(workers);
      expect(problems).toEqual([]);
      expect(requests).toBeGreaterThan(20);
      for (const summary of summaries) expect(summary.failed).toEqual([]);
      await expectAllReadBack(t, [...expected].map(([key, body]) => ({ tenant: key.split('/')[0], id: key.split('/')[1], body })));
    });

    it('deleting a tenant destroys its data key and ciphertext (crypto-shredding)', async () => {
      const [victim] = await seed(t, 1, 2);
      const [before] = await t.db.query<{ data_key_wrapped: string | null }>('SELECT data_key_wrapped FROM tenants WHERE id = ?', [victim.tenant]);
      expect(before.data_key_wrapped).toMatch(/^enc:v1:/);
      expect((await t.http().delete(`/tenants/${victim.tenant}`).set(...admin)).status).toBe(204);

      // The tenant's row, and the wrapped data key in it, are gone; a tombstone keeps only the id and the time.
      expect(await t.db.query('SELECT * FROM tenants WHERE id = ?', [victim.tenant])).toEqual([]);
      const tombstones = await t.db.query<Record<string, unknown>>('SELECT * FROM deleted_tenants WHERE id = ?', [victim.tenant]);
      expect(tombstones.map((row) => Object.keys(row).sort())).toEqual([['deleted_at', 'id']]);
      expect(tombstones[0].deleted_at).not.toBeNull();
      expect(await t.db.query('SELECT * FROM integrations WHERE tenant_id = ?', [victim.tenant])).toEqual([]);
      const dump = JSON.stringify([await t.db.query('SELECT * FROM tenants'), await t.db.query('SELECT * FROM deleted_tenants'), await t.db.query('SELECT * FROM integrations')]);
      expect(dump).not.toContain(before.data_key_wrapped!);
      for (const value of Object.values(victim.body)) if (value.length > 10) expect(dump).not.toContain(value);
      expect((await t.http().get(`/tenants/${victim.tenant}/integrations/${victim.id}`).set(...admin)).status).toBe(404);
    });
  });

  it('keys:generate prints a usable id:base64key entry', async () => {
    const t = await startTestApp();
    try {
      const generated = await cli(t, ['keys:generate'], TEST_KEY_A);
      expect(generated.stdout.trim()).toMatch(/^k\d{8}-[0-9a-f]{6}:[A-Za-z0-9+/]{43}=$/);
      expect(Buffer.from(generated.stdout.trim().split(':')[1], 'base64')).toHaveLength(32);
    } finally {
      await t.close();
    }
  });
});
