import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createConnection } from 'mysql2/promise';
import { DataKeyService } from '../../src/crypto/data-key.service';
import { MIGRATIONS } from '../../src/database/migrations';
import { cli } from '../helpers/audit';
import { call, statusCounts } from '../helpers/http-calls';
import { createTenant, startTestApp, TEST_KEY_A, TEST_KEY_B, token, type TestApp } from '../helpers/test-app';
import { manyTenantsCreating, mixedWritesOnSharedKeys } from '../helpers/write-load';

/**
 * Issue 16 on a real multi-primary cluster: three instances, each on its own
 * Galera node (npm run cluster:up). Every loop is bounded in time.
 */
const PORTS = [3311, 3312, 3313];
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const NODE_SH = join(__dirname, '../../scripts/cluster/node.sh');
const DB = `cluster_test_${randomBytes(3).toString('hex')}`;
const urlOf = (port: number): string => `mysql://root@127.0.0.1:${port}/${DB}`;
// Every instance: the shared Redis, a master key ring a rotation can move to, and data keys cached for an hour,
// so only the cross-instance invalidation can explain an instance dropping a replaced key.
const INSTANCE_ENV = {
  REDIS_URL,
  REDIS_KEY_PREFIX: `${DB}:`,
  RATE_LIMIT_MAX: '100000',
  ENCRYPTION_KEYS: `${TEST_KEY_B},${TEST_KEY_A}`,
  DATA_KEY_CACHE_TTL_MS: '3600000',
};

const percentile = (values: number[], p: number): number =>
  [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * p))];

describe('Three instances on a three-node Galera cluster (issue 16)', () => {
  const apps: TestApp[] = [];
  const urls: string[] = [];

  beforeAll(async () => {
    for (const port of PORTS) {
      const probe = await createConnection({ host: '127.0.0.1', port, user: 'root' }).catch((error: Error) => {
        throw new Error(`Galera node on port ${port} is not answering (${error.message}): run npm run cluster:up first`);
      });
      const [rows] = await probe.query("SHOW STATUS LIKE 'wsrep_cluster_size'");
      await probe.end();
      expect((rows as { Value: string }[])[0].Value).toBe('3');
    }
    const admin = await createConnection({ host: '127.0.0.1', port: PORTS[0], user: 'root' });
    await admin.query(`CREATE DATABASE \`${DB}\` CHARACTER SET utf8mb4`);
    await admin.end();
  });
  afterAll(async () => {
    for (const app of apps) await app.app.close().catch(() => undefined);
    const admin = await createConnection({ host: '127.0.0.1', port: PORTS[0], user: 'root' });
    await admin.query(`DROP DATABASE IF EXISTS \`${DB}\``);
    await admin.end();
  });

  it('three instances started at once on an empty database, each on its own node: all come up, the schema is made once', async () => {
    const started = Date.now();
    const results = await Promise.allSettled(PORTS.map((port) => startTestApp({ ...INSTANCE_ENV, DATABASE_URL: urlOf(port) })));
    for (const r of results) if (r.status === 'fulfilled') apps.push(r.value);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
    console.log(`3 instances up on an empty database in ${Date.now() - started} ms`);
    for (const app of apps) {
      await app.app.listen({ port: 0, host: '127.0.0.1' });
      urls.push((await app.app.getUrl()).replace('[::1]', '127.0.0.1'));
    }
    for (const app of apps) {
      const rows = await app.db.query<{ name: string }>('SELECT name FROM migrations ORDER BY id');
      expect(rows.map((r) => r.name)).toEqual(MIGRATIONS.map((m) => new m().name ?? m.name));
    }
  });

  it('the write tests of issue 12 spread over the three: many tenants creating at once in shuffled order, 0 x 5xx, each row once on every node, every value reads back through every instance', async () => {
    await manyTenantsCreating(apps, urls, { prefix: 'gal' });
  });

  it('issue 12 mixed writes (create, replace, PATCH, DELETE, GET) on shared keys over the three for 15 s: no 5xx, what stays reads back whole, one version per acknowledged write', async () => {
    await mixedWritesOnSharedKeys(apps, urls, { prefix: 'galmix' });
  });

  it('GET on one node then PATCH with its ETag on another, on shared keys for 10 s: only 200/201/412; one ETag and one value on every node', async () => {
    const tenant = await createTenant(apps[0], 'galetag');
    const statuses: number[] = [];
    const deadline = Date.now() + 10_000;
    await Promise.all(
      Array.from({ length: 12 }, async (_, worker) => {
        for (let n = 0; Date.now() < deadline; n++) {
          const base = urls[(worker + n) % 3];
          const path = `/tenants/${tenant}/integrations/tw-${n % 3}`;
          const mark = `w${worker}-${n}`;
          const read = await call(base, 'GET', path);
          const headers: Record<string, string> = read.etag ? { 'if-match': read.etag } : {};
          statuses.push(
            (
              await call(
                urls[(worker + n + 1) % 3],
                read.status === 200 ? 'PATCH' : 'POST',
                path,
                read.status === 200
                  ? { account: `AC-${mark}`, password: `pw-${mark}` }
                  : { type: 'twilio', account: `AC-${mark}`, password: `pw-${mark}` },
                headers,
              )
            ).status,
          );
        }
      }),
    );
    console.log(`mixed on shared keys: ${JSON.stringify(statusCounts(statuses))}`);
    expect(statuses.filter((s) => ![200, 201, 412].includes(s))).toEqual([]);
    for (let i = 0; i < 3; i++) {
      const seen = await Promise.all(urls.map((url) => call(url, 'GET', `/tenants/${tenant}/integrations/tw-${i}`)));
      const mark = String(seen[0].body.account).replace(/^AC-/, '');
      for (const s of seen)
        expect({ etag: s.etag, body: s.body }).toEqual({
          etag: seen[0].etag,
          body: { id: `tw-${i}`, type: 'twilio', account: `AC-${mark}`, password: `pw-${mark}` },
        });
    }
  });

  it('rate limits are global through Redis: the N+1st request is refused whichever instance it reaches', async () => {
    const limited = await startTestApp({
      DATABASE_URL: urlOf(PORTS[0]),
      REDIS_URL,
      REDIS_KEY_PREFIX: `${DB}:rl:`,
      RATE_LIMIT_MAX: '5',
      MIGRATIONS_RUN: 'false',
    });
    const more = await Promise.all(
      [PORTS[1], PORTS[2]].map((port) =>
        startTestApp({ DATABASE_URL: urlOf(port), REDIS_URL, REDIS_KEY_PREFIX: `${DB}:rl:`, RATE_LIMIT_MAX: '5', MIGRATIONS_RUN: 'false' }),
      ),
    );
    const three = [limited, ...more];
    try {
      const headers = { authorization: `Bearer ${token({ sub: `rl-${DB}`, scope: 'platform:admin' })}` };
      const statuses: number[] = [];
      for (let i = 0; i < 8; i++) statuses.push((await three[i % 3].app.inject({ method: 'GET', url: '/tenants', headers })).statusCode);
      expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429, 429]);
    } finally {
      for (const t of three) await t.app.close();
    }
  });

  it('keys:rotate --reencrypt run on one node while the three instances serve: 0 errors, 0 wrong values, no stale cached key', async () => {
    const tenants = await Promise.all(Array.from({ length: 6 }, (_, i) => createTenant(apps[i % 3], 'galkeys')));
    for (const tenant of tenants) {
      expect((await call(urls[0], 'POST', `/tenants/${tenant}/integrations/twilio`, { account: 'AC-0', password: 'pw-0' })).status).toBe(
        201,
      );
      // Every instance reads: each now holds each tenant's data key in its cache.
      for (const url of urls) expect((await call(url, 'GET', `/tenants/${tenant}/integrations/twilio`)).status).toBe(200);
    }
    const caches = apps.map((app) => app.app.get(DataKeyService));
    expect(caches.map((cache) => tenants.map((tenant) => cache.cached(tenant)?.version))).toEqual(apps.map(() => tenants.map(() => 1)));

    // Six clients write through one instance and read back through the next, each value checked, until the rotation ends.
    let rotating = true;
    const statuses: number[] = [];
    const wrong: unknown[] = [];
    const load = Promise.all(
      Array.from({ length: 6 }, async (_, worker) => {
        for (let n = 0; rotating; n++) {
          const tenant = tenants[(worker + n) % tenants.length];
          const path = `/tenants/${tenant}/integrations/twilio`;
          const mark = `w${worker}-${n}`;
          const write = await call(urls[(worker + n) % 3], 'POST', path, { account: `AC-${mark}`, password: `pw-${mark}` });
          statuses.push(write.status);
          const read = await call(urls[(worker + n + 1) % 3], 'GET', path);
          statuses.push(read.status);
          const seen = String(read.body.account).replace(/^AC-/, '');
          if (read.body.password !== `pw-${seen}`) wrong.push(read.body);
        }
      }),
    );
    const started = Date.now();
    // The operator command, as an operator runs it, against node 1 only.
    const rotation = await cli(apps[0], ['keys:rotate', '--reencrypt'], { REDIS_URL, REDIS_KEY_PREFIX: `${DB}:` });
    rotating = false;
    await load;
    console.log(
      `keys:rotate --reencrypt on node 1 in ${Date.now() - started} ms while 3 instances served: ${JSON.stringify(statusCounts(statuses))}, ${wrong.length} wrong values`,
    );
    // Progress goes to stderr; the summary to stdout. Every tenant of this database was re-encrypted (these six among them).
    expect({ code: rotation.code, failed: /error|fail/i.test(rotation.stderr) }).toEqual({ code: 0, failed: false });
    expect(Number(/re-encrypted: +(\d+) tenants/.exec(rotation.stdout)?.[1])).toBeGreaterThanOrEqual(tenants.length);
    expect(statuses.length).toBeGreaterThan(0);
    expect(statuses.filter((s) => s >= 300)).toEqual([]);
    expect(wrong).toEqual([]);
    // Every instance was told: none still holds a replaced data key as current (the cache TTL is an hour).
    const deadline = Date.now() + 2000;
    while (Date.now() < deadline && !caches.every((cache) => tenants.every((tenant) => cache.cached(tenant)?.version !== 1)))
      await new Promise((r) => setTimeout(r, 20));
    expect(caches.map((cache) => tenants.filter((tenant) => cache.cached(tenant)?.version === 1))).toEqual(apps.map(() => []));
    // And each node holds every tenant at the new data-key version, with values written after it readable everywhere.
    for (const app of apps) {
      const rows = await app.db.query<{ v: number | string }>(
        `SELECT data_key_version AS v FROM tenants WHERE id IN (${tenants.map(() => '?').join(',')})`,
        tenants,
      );
      expect(rows.map((r) => Number(r.v))).toEqual(tenants.map(() => 2));
    }
    for (const [i, tenant] of tenants.entries()) {
      const path = `/tenants/${tenant}/integrations/twilio`;
      expect((await call(urls[i % 3], 'POST', path, { account: 'AC-after', password: 'pw-after' })).status).toBe(200);
      for (const url of urls) expect((await call(url, 'GET', path)).body).toMatchObject({ account: 'AC-after', password: 'pw-after' });
    }
  });

  it('one node killed with SIGKILL under load: no acknowledged write lost, its instance answers 503 + Retry-After then recovers, the others serve, the node rejoins', async () => {
    const tenant = await createTenant(apps[0], 'galkill');
    const acked: string[] = [];
    const survivors: { status: number; ms: number; at: number }[] = [];
    const killedNode: { at: number; status: number; retryAfter: string | null }[] = [];
    let stop = false;
    let killedAt = 0;
    const write = async (which: number, id: string): Promise<{ status: number; retryAfter: string | null; ms: number }> => {
      const t0 = Date.now();
      const response = await fetch(`${urls[which]}/tenants/${tenant}/integrations/${id}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token({ scope: 'platform:admin' })}`, 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'twilio', account: `AC-${id}`, password: 'pw' }),
      }).catch(() => undefined);
      await response?.text();
      const status = response?.status ?? 0;
      if (status === 201) acked.push(id);
      return { status, retryAfter: response?.headers.get('retry-after') ?? null, ms: Date.now() - t0 };
    };
    // Four clients on the two surviving instances, and a probe of the doomed node's instance every 100 ms.
    const load = Promise.all([
      ...Array.from({ length: 4 }, async (_, worker) => {
        for (let n = 0; !stop; n++) {
          const at = killedAt > 0 ? Date.now() - killedAt : -1;
          survivors.push(await write(worker % 2, `s-${worker}-${n}`).then(({ status, ms }) => ({ status, ms, at })));
        }
      }),
      (async () => {
        for (let n = 0; !stop; n++) {
          const answer = await write(2, `p-${n}`);
          if (killedAt > 0) killedNode.push({ at: Date.now() - killedAt, status: answer.status, retryAfter: answer.retryAfter });
          await new Promise((r) => setTimeout(r, 100));
        }
      })(),
    ]);
    await new Promise((r) => setTimeout(r, 2000));
    const before = survivors.length;
    killedAt = Date.now();
    await promisify(execFile)('bash', [NODE_SH, 'kill', '3']);
    await new Promise((r) => setTimeout(r, 5000));
    const restartAt = Date.now() - killedAt;
    // Asynchronously: the instances and their clients run in this process, and a synchronous wait of
    // several seconds here froze them all (it showed up as a multi-second stall of the survivors).
    await promisify(execFile)('bash', [NODE_SH, 'start', '3'], { timeout: 200_000 });
    const rejoinedAt = Date.now() - killedAt;
    for (const end = Date.now() + 30_000; Date.now() < end && killedNode.at(-1)?.status !== 201;)
      await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 1000));
    stop = true;
    await load;
    const first503 = killedNode.find((a) => a.status === 503);
    const lastFailure = [...killedNode].reverse().find((a) => a.status !== 201);
    const recovered = killedNode.find((a) => a.status === 201 && a.at > (lastFailure?.at ?? 0));
    const during = survivors.slice(before);
    console.log(
      `node kill: instance 3 first 503 at ${first503?.at} ms, node restarted at ${restartAt} ms, back in a size-3 cluster at ${rejoinedAt} ms, ` +
        `instance 3 writing again at ${recovered?.at} ms (${JSON.stringify(statusCounts(killedNode.map((a) => a.status)))}); ` +
        `survivors meanwhile: ${JSON.stringify(statusCounts(during.map((a) => a.status)))}, max ${Math.max(...during.map((a) => a.ms))} ms, p99 ${percentile(
          during.map((a) => a.ms),
          0.99,
        )} ms; slowest survivor writes (started at ms after the kill: took ms): ${[...during]
          .sort((a, b) => b.ms - a.ms)
          .slice(0, 5)
          .map((a) => `${a.at}: ${a.ms}`)
          .join(', ')}`,
    );
    // The doomed node's instance: 201 or 503 with Retry-After, never anything else, and writing again without a restart.
    expect(killedNode.filter((a) => !(a.status === 201 || (a.status === 503 && a.retryAfter !== null)))).toEqual([]);
    expect(first503).toBeDefined();
    expect(recovered).toBeDefined();
    expect(execFileSync('bash', [NODE_SH, 'size', '3']).toString().trim()).toBe('3');
    // The other two kept serving: every write answered 201.
    expect(during.filter((a) => a.status !== 201)).toEqual([]);
    // Every acknowledged write is on every node (each instance's database is its own node).
    for (const app of apps) {
      const rows = await app.db.query<{ id: string }>('SELECT id FROM integrations WHERE tenant_id = ?', [tenant]);
      const ids = new Set(rows.map((r) => r.id));
      expect(acked.filter((id) => !ids.has(id))).toEqual([]);
    }
  });
});
