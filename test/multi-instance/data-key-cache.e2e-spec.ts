import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { systemActor } from '../../src/common/request-actor';
import { DataKeyService } from '../../src/crypto/data-key.service';
import { KeyManagementService } from '../../src/crypto/key-management.service';
import { isMysqlUrl } from '../helpers/child-app';
import { call, statusCounts } from '../helpers/http-calls';
import { createTenant, startTestApp, TEST_KEY_A, TEST_KEY_B, type TestApp } from '../helpers/test-app';

/**
 * Issue 16: data keys are cached per instance. A re-encrypting rotation run
 * by one instance while another serves: the other answers every request
 * right, and drops its cached keys as soon as the rotation replaced them
 * (REDIS_URL pub/sub), as it does for a deleted tenant. The cache TTL is an
 * hour here, so only the invalidation can explain a fresh key.
 */
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

async function until(check: () => boolean, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end;) {
    if (check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return check();
}

describe('Data-key caches of two instances during a rotation (issue 16)', () => {
  const prefix = `itest-${randomBytes(4).toString('hex')}:`;
  let a: TestApp;
  let b: TestApp;
  const urls: string[] = [];

  beforeAll(async () => {
    const probe = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    await probe.connect().catch((error: Error) => {
      throw new Error(
        `Redis is not answering at ${REDIS_URL} (${error.message}); it is on every machine of this kind (or set TEST_REDIS_URL)`,
      );
    });
    probe.disconnect();
    const env: Record<string, string> = {
      REDIS_URL,
      REDIS_KEY_PREFIX: prefix,
      DATA_KEY_CACHE_TTL_MS: '3600000',
      ENCRYPTION_KEYS: `${TEST_KEY_B},${TEST_KEY_A}`,
      // Two processes on one SQLite file share its one write lock (the embedded database is for one instance), and a
      // revealing read writes its audit event: there B's reads would wait on A's rotation and answer 503 after the
      // lock timeout. Without secret-read events B's reads only read, and still decrypt with its cached keys.
      ...(isMysqlUrl(process.env.DATABASE_URL) ? {} : { AUDIT_SECRET_READS: 'off' }),
    };
    a = await startTestApp(env, { ownDatabase: true });
    const url = a.config.database.kind === 'mysql' ? a.config.database.url : `sqlite:${a.config.database.path}`;
    b = await startTestApp({ ...env, DATABASE_URL: url });
    for (const t of [a, b]) {
      await t.app.listen({ port: 0, host: '127.0.0.1' });
      urls.push((await t.app.getUrl()).replace('[::1]', '127.0.0.1'));
    }
  });
  afterAll(async () => {
    await b?.app.close();
    await a?.close();
  });

  it('keys:rotate --reencrypt on one instance while the other serves: 0 errors, 0 wrong values, and the other drops its stale keys', async () => {
    const tenants = await Promise.all([1, 2, 3].map(() => createTenant(a, 'dk')));
    for (const tenant of tenants) {
      expect((await call(urls[0], 'POST', `/tenants/${tenant}/integrations/twilio`, { account: 'AC-0', password: 'pw-0' })).status).toBe(
        201,
      );
      // B reads: it now holds each tenant's key in its cache.
      expect((await call(urls[1], 'GET', `/tenants/${tenant}/integrations/twilio`)).status).toBe(200);
    }
    const cache = b.app.get(DataKeyService);
    expect(tenants.map((tenant) => cache.cached(tenant)?.version)).toEqual([1, 1, 1]);

    // B serves writes and reads, each checked, until the rotation on A is over. Two processes writing one SQLite
    // file wait on its lock (the embedded database is for one instance): there B only reads meanwhile.
    const writes = a.config.database.kind === 'mysql';
    let rotating = true;
    const statuses: number[] = [];
    const wrong: unknown[] = [];
    const load = (async () => {
      for (let n = 1; rotating; n++) {
        const tenant = tenants[n % tenants.length];
        const path = `/tenants/${tenant}/integrations/twilio`;
        if (writes) statuses.push((await call(urls[1], 'POST', path, { account: `AC-${n}`, password: `pw-${n}` })).status);
        const read = await call(urls[n % 2], 'GET', path);
        statuses.push(read.status);
        const mark = String(read.body.account).replace(/^AC-/, '');
        if (read.body.password !== `pw-${mark}`) wrong.push(read.body);
      }
    })();
    const summary = await a.app.get(KeyManagementService).rotate({ reencrypt: true, batchSize: 1, actor: systemActor('cli:test') });
    rotating = false;
    await load;
    console.log(`rotation on A while B served: ${JSON.stringify(statusCounts(statuses))}, ${summary.reencrypted} tenants re-encrypted`);
    expect(summary.reencrypted).toBeGreaterThanOrEqual(3);
    expect(statuses.filter((s) => s >= 300)).toEqual([]);
    expect(wrong).toEqual([]);

    // B was told: none of its cached "current" keys is the replaced version 1.
    expect(await until(() => tenants.every((tenant) => cache.cached(tenant)?.version !== 1), 2000)).toBe(true);
    for (const tenant of tenants) {
      expect(
        (await call(urls[1], 'POST', `/tenants/${tenant}/integrations/twilio`, { account: 'AC-after', password: 'pw-after' })).status,
      ).toBe(200);
      expect(cache.cached(tenant)?.version).toBe(2);
      const [row] = await a.db.query<{ data_key_version: number | string }>('SELECT data_key_version FROM tenants WHERE id = ?', [tenant]);
      expect(Number(row.data_key_version)).toBe(2);
      expect((await call(urls[0], 'GET', `/tenants/${tenant}/integrations/twilio`)).body).toMatchObject({ account: 'AC-after' });
    }
  }, 60_000);

  it("a tenant deleted through one instance is gone from the other's key cache at once", async () => {
    const tenant = await createTenant(a, 'dk-del');
    expect((await call(urls[1], 'POST', `/tenants/${tenant}/integrations/twilio`, { account: 'AC-1', password: 'pw-1' })).status).toBe(201);
    const cache = b.app.get(DataKeyService);
    expect(cache.cached(tenant)).toBeDefined();
    expect((await call(urls[0], 'DELETE', `/tenants/${tenant}`)).status).toBe(204);
    expect(await until(() => cache.cached(tenant) === undefined, 2000)).toBe(true);
    expect((await call(urls[1], 'GET', `/tenants/${tenant}/integrations/twilio`)).status).toBe(404);
  });
});
