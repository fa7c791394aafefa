import { isMysqlUrl } from '../helpers/child-app';
import { call, pool, statusCounts } from '../helpers/http-calls';
import { createTenant, startTestApp, type TestApp } from '../helpers/test-app';

/**
 * Issue 12, writes that never deadlock. InnoDB's locking reads of rows that do
 * not exist take gap locks, and inserts into neighbouring keys then deadlock;
 * so these tests write to many tenants at once, over real HTTP on loopback so
 * that the requests truly overlap. On MySQL/MariaDB two instances share the
 * database, so writes of one integration also race across processes' pools.
 */
const MYSQL = isMysqlUrl(process.env.DATABASE_URL);

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

describe(`Reliability: concurrent writes across many tenants (${MYSQL ? 'MySQL/MariaDB, two instances' : 'SQLite'})`, () => {
  const apps: TestApp[] = [];
  const urls: string[] = [];

  beforeAll(async () => {
    apps.push(await startTestApp());
    if (MYSQL) apps.push(await startTestApp({ DATABASE_URL: apps[0].config.database.kind === 'mysql' ? apps[0].config.database.url : '' }));
    for (const app of apps) {
      await app.app.listen({ port: 0, host: '127.0.0.1' });
      urls.push((await app.app.getUrl()).replace('[::1]', '127.0.0.1'));
    }
  });
  afterAll(async () => {
    for (const app of apps.reverse()) await app.close();
  });

  it('50 tenants x 20 new integrations from 20 parallel clients in shuffled order: no 5xx, every row once, every value reads back', async () => {
    const tenants = await Promise.all(Array.from({ length: 50 }, () => createTenant(apps[0], 'wide')));
    const writes = shuffle(
      tenants.flatMap((tenant) =>
        Array.from({ length: 20 }, (_, i) => ({
          tenant,
          id: `sg-${i}`,
          body: { type: 'sendgrid', account: `${tenant}-${i}`, password: `pw-${tenant}-${i}` },
        })),
      ),
    );
    const started = Date.now();
    const answers = await pool(
      writes.map((write, n) => () => call(urls[n % urls.length], 'POST', `/tenants/${write.tenant}/integrations/${write.id}`, write.body)),
      20,
    );
    const seconds = (Date.now() - started) / 1000;
    console.log(
      `${writes.length} creates over ${tenants.length} tenants: ${JSON.stringify(statusCounts(answers.map((a) => a.status)))} in ${seconds.toFixed(1)} s`,
    );
    expect(statusCounts(answers.map((a) => a.status))).toEqual({ 201: writes.length });

    const [{ total, owners }] = await apps[0].db.query<{ total: number | string; owners: number | string }>(
      `SELECT COUNT(*) AS total, COUNT(DISTINCT tenant_id) AS owners FROM integrations WHERE tenant_id IN (${tenants.map(() => '?').join(',')})`,
      tenants,
    );
    expect({ rows: Number(total), tenants: Number(owners) }).toEqual({ rows: writes.length, tenants: tenants.length });
    const reads = await pool(
      writes.map((write) => () => call(urls[0], 'GET', `/tenants/${write.tenant}/integrations/${write.id}`)),
      20,
    );
    const wrong = reads.filter(
      (read, i) => read.status !== 200 || JSON.stringify(read.body) !== JSON.stringify({ id: writes[i].id, ...writes[i].body }),
    );
    expect(wrong).toEqual([]);
  }, 120_000);

  it('20 clients mixing create, replace, PATCH, DELETE and GET on shared keys for 15 s: no 5xx, and what stays reads back whole', async () => {
    const tenants = await Promise.all(Array.from({ length: 4 }, () => createTenant(apps[0], 'mix')));
    const keys = tenants.flatMap((tenant) => ['twilio', 'tw-2', 'tw-3'].map((id) => ({ tenant, id })));
    const statuses: Record<string, number[]> = { GET: [], POST: [], PATCH: [], DELETE: [] };
    const deadline = Date.now() + 15_000;
    let written = 0;
    const client = async (worker: number): Promise<void> => {
      for (let n = 0; Date.now() < deadline; n++) {
        const { tenant, id } = keys[Math.floor(Math.random() * keys.length)];
        const base = urls[(worker + n) % urls.length];
        const path = `/tenants/${tenant}/integrations/${id}`;
        const dice = Math.random();
        // Account and password of one write carry the same mark, so a read shows whether two writes were interleaved.
        const mark = `w${worker}-${n}`;
        if (dice < 0.35) {
          statuses.GET.push((await call(base, 'GET', path)).status);
        } else if (dice < 0.65) {
          statuses.POST.push((await call(base, 'POST', path, { type: 'twilio', account: `AC-${mark}`, password: `pw-${mark}` })).status);
          written++;
        } else if (dice < 0.85) {
          // Sometimes with the ETag of a read just before, so the 412 path races too.
          const read = Math.random() < 0.5 ? await call(base, 'GET', path) : undefined;
          const headers: Record<string, string> = read?.etag ? { 'if-match': read.etag } : {};
          statuses.PATCH.push((await call(base, 'PATCH', path, { account: `AC-${mark}`, password: `pw-${mark}` }, headers)).status);
        } else {
          statuses.DELETE.push((await call(base, 'DELETE', path)).status);
        }
      }
    };
    await Promise.all(Array.from({ length: 20 }, (_, worker) => client(worker)));
    const seen = Object.fromEntries(Object.entries(statuses).map(([method, list]) => [method, statusCounts(list)]));
    console.log(`mixed load for 15 s: ${JSON.stringify(seen)} (${written} POSTs)`);

    const allowed: Record<string, number[]> = { GET: [200, 404], POST: [200, 201], PATCH: [200, 404, 412], DELETE: [204, 404] };
    const unexpected = Object.entries(statuses).flatMap(([method, list]) =>
      list.filter((s) => !allowed[method].includes(s)).map((s) => `${method} ${s}`),
    );
    expect(unexpected).toEqual([]);
    expect(statuses.POST.length).toBeGreaterThan(100);

    for (const { tenant, id } of keys) {
      const read = await call(urls[0], 'GET', `/tenants/${tenant}/integrations/${id}`);
      if (read.status === 404) continue;
      expect(read.status).toBe(200);
      const mark = String(read.body.account).replace(/^AC-/, '');
      expect(read.body).toEqual({ id, type: 'twilio', account: `AC-${mark}`, password: `pw-${mark}` });
    }

    // Versions: every revision each integration went through is kept once, none missing, and the newest is what it is now.
    const rows = await apps[0].db.query<{ tenant_id: string; id: string; revision: number | string }>(
      `SELECT tenant_id, id, revision FROM integrations WHERE tenant_id IN (${tenants.map(() => '?').join(',')})`,
      tenants,
    );
    const versions = await apps[0].db.query<{ tenant_id: string; integration_id: string; revision: number | string }>(
      `SELECT tenant_id, integration_id, revision FROM integration_versions WHERE tenant_id IN (${tenants.map(() => '?').join(',')})`,
      tenants,
    );
    let checked = 0;
    for (const row of rows) {
      const kept = versions
        .filter((v) => v.tenant_id === row.tenant_id && v.integration_id === row.id)
        .map((v) => Number(v.revision))
        .sort((a, b) => a - b);
      const expected = Array.from({ length: Number(row.revision) }, (_, i) => i + 1);
      expect({ key: `${row.tenant_id}/${row.id}`, revisions: kept }).toEqual({ key: `${row.tenant_id}/${row.id}`, revisions: expected });
      const newest = await call(urls[0], 'GET', `/tenants/${row.tenant_id}/integrations/${row.id}/versions/${row.revision}`);
      const now = await call(urls[0], 'GET', `/tenants/${row.tenant_id}/integrations/${row.id}`);
      if (now.status === 404) expect(newest.body).toMatchObject({ action: 'delete', deleted: true });
      else expect({ etag: now.etag, integration: newest.body.integration }).toEqual({ etag: `"r${row.revision}"`, integration: now.body });
      checked += kept.length;
    }
    console.log(`versions after the mixed load: ${checked} over ${rows.length} integrations, no duplicate, no gap`);
    // One version for each write that was answered as done, and none for the others.
    const done = [...statuses.POST, ...statuses.PATCH, ...statuses.DELETE].filter((status) => status >= 200 && status < 300).length;
    expect(checked).toBe(done);
  }, 60_000);
});
