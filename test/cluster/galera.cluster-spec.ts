import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createConnection } from 'mysql2/promise';
import { MIGRATIONS } from '../../src/database/migrations';
import { call, statusCounts } from '../helpers/http-calls';
import { createTenant, startTestApp, token, type TestApp } from '../helpers/test-app';

/**
 * Issue 16 on a real multi-primary cluster: three instances, each on its own
 * Galera node (npm run cluster:up). Every loop is bounded in time.
 */
const PORTS = [3311, 3312, 3313];
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const NODE_SH = join(__dirname, '../../scripts/cluster/node.sh');
const DB = `cluster_test_${randomBytes(3).toString('hex')}`;
const urlOf = (port: number): string => `mysql://root@127.0.0.1:${port}/${DB}`;

async function pool<T>(jobs: (() => Promise<T>)[], parallel: number): Promise<T[]> {
  const results: T[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < jobs.length) {
        const i = next++;
        results[i] = await jobs[i]();
      }
    }),
  );
  return results;
}

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
    const results = await Promise.allSettled(
      PORTS.map((port) => startTestApp({ DATABASE_URL: urlOf(port), REDIS_URL, REDIS_KEY_PREFIX: `${DB}:`, RATE_LIMIT_MAX: '100000' })),
    );
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

  it('many tenants creating at once over the three: 0 x 5xx, each row once, every write reads back from every node', async () => {
    const tenants = await Promise.all(Array.from({ length: 20 }, (_, i) => createTenant(apps[i % 3], 'gal')));
    const writes = tenants.flatMap((tenant) =>
      Array.from({ length: 10 }, (_, i) => ({
        tenant,
        id: `sg-${i}`,
        body: { type: 'sendgrid', account: `${tenant}-${i}`, password: `pw-${tenant}-${i}` },
      })),
    );
    const started = Date.now();
    const times: number[] = [];
    const answers = await pool(
      writes.map((w, n) => async () => {
        const t0 = Date.now();
        const a = await call(urls[n % 3], 'POST', `/tenants/${w.tenant}/integrations/${w.id}`, w.body);
        times.push(Date.now() - t0);
        return a;
      }),
      24,
    );
    const seconds = (Date.now() - started) / 1000;
    console.log(
      `3 instances on Galera: ${writes.length} creates, ${JSON.stringify(statusCounts(answers.map((a) => a.status)))}, ${(writes.length / seconds).toFixed(0)} req/s, p99 ${percentile(times, 0.99)} ms`,
    );
    expect(statusCounts(answers.map((a) => a.status))).toEqual({ 201: writes.length });
    for (const app of apps) {
      const [{ n }] = await app.db.query<{ n: number | string }>(
        `SELECT COUNT(*) AS n FROM integrations WHERE tenant_id IN (${tenants.map(() => '?').join(',')})`,
        tenants,
      );
      expect(Number(n)).toBe(writes.length);
    }
    for (const url of urls) {
      const reads = await pool(
        writes.map((w) => () => call(url, 'GET', `/tenants/${w.tenant}/integrations/${w.id}`)),
        24,
      );
      expect(
        reads.filter(
          (r, i) => r.status !== 200 || r.body.account !== writes[i].body.account || r.body.password !== writes[i].body.password,
        ),
      ).toEqual([]);
    }
  });

  it('mixed writes on shared keys across the three for 10 s: no 5xx; ETag/If-Match keeps its meaning across nodes', async () => {
    const tenant = await createTenant(apps[0], 'galmix');
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

  it('one node killed with SIGKILL under load: no acknowledged write lost, its instance answers 503 + Retry-After then recovers, the others serve, the node rejoins', async () => {
    const tenant = await createTenant(apps[0], 'galkill');
    const acked: { id: string; account: string }[] = [];
    const byInstance: Record<number, number[]> = { 0: [], 1: [], 2: [] };
    let stop = false;
    let firstAfterKill503: number | undefined;
    let recoveredAt: number | undefined;
    let killedAt = 0;
    const load = Promise.all(
      Array.from({ length: 6 }, async (_, worker) => {
        for (let n = 0; !stop; n++) {
          const which = (worker + n) % 3;
          const id = `k-${worker}-${n}`;
          const answer = await call(urls[which], 'POST', `/tenants/${tenant}/integrations/${id}`, {
            type: 'twilio',
            account: `AC-${id}`,
            password: 'pw',
          }).catch(() => ({ status: 0, etag: null, body: {} }));
          byInstance[which].push(answer.status);
          if (answer.status === 201) acked.push({ id, account: `AC-${id}` });
          if (which === 2 && killedAt > 0) {
            if (answer.status === 503 && firstAfterKill503 === undefined) firstAfterKill503 = Date.now() - killedAt;
            if (answer.status === 201 && firstAfterKill503 !== undefined && recoveredAt === undefined) recoveredAt = Date.now() - killedAt;
          }
          if (answer.status === 503) await new Promise((r) => setTimeout(r, 100));
        }
      }),
    );
    await new Promise((r) => setTimeout(r, 2000));
    killedAt = Date.now();
    execFileSync('bash', [NODE_SH, 'kill', '3']);
    await new Promise((r) => setTimeout(r, 5000));
    const retry = await call(urls[2], 'GET', `/tenants/${tenant}/integrations`);
    const restartAt = Date.now() - killedAt;
    execFileSync('bash', [NODE_SH, 'start', '3'], { timeout: 200_000 });
    const rejoinedAt = Date.now() - killedAt;
    for (const end = Date.now() + 30_000; recoveredAt === undefined && Date.now() < end;) await new Promise((r) => setTimeout(r, 200));
    stop = true;
    await load;
    console.log(
      `node kill: first 503 after ${firstAfterKill503} ms, restart at ${restartAt} ms, rejoined (size 3) at ${rejoinedAt} ms, instance 3 writing again at ${recoveredAt} ms; ` +
        `answers per instance ${JSON.stringify(Object.values(byInstance).map(statusCounts))}`,
    );
    expect(retry.status).toBe(503);
    expect(firstAfterKill503).toBeDefined();
    expect(recoveredAt).toBeDefined();
    expect(execFileSync('bash', [NODE_SH, 'size', '3']).toString().trim()).toBe('3');
    // The other two never failed; the killed node's instance answered 201 or 503, nothing else.
    for (const i of [0, 1]) expect(byInstance[i].filter((s) => s !== 201)).toEqual([]);
    expect(byInstance[2].filter((s) => s !== 201 && s !== 503)).toEqual([]);
    // Every acknowledged write is on every node.
    for (const url of urls) {
      const list = await call(url, 'GET', `/tenants/${tenant}/integrations`);
      const ids = new Set((list.body as unknown as { id: string }[]).map((i) => i.id));
      expect(acked.filter((a) => !ids.has(a.id))).toEqual([]);
    }
  });
});
