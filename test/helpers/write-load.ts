import { call, pool, statusCounts } from './http-calls';
import { createTenant, type TestApp } from './test-app';

/**
 * The write tests of issue 12, shared by the e2e suite (one instance on SQLite, two on MySQL/MariaDB) and the
 * Galera cluster suite (three instances, one per node): the same load and the same assertions, over whichever
 * instances are given. `urls[i]` is the HTTP address of `apps[i]`.
 */
export interface WriteLoadOptions {
  prefix?: string;
  tenants?: number;
  perTenant?: number;
  clients?: number;
  seconds?: number;
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

/** Many tenants creating at once in shuffled order, spread over the instances: no 5xx, every row once, every value reads back through every instance. */
export async function manyTenantsCreating(apps: TestApp[], urls: string[], options: WriteLoadOptions = {}): Promise<void> {
  const tenants = await Promise.all(Array.from({ length: options.tenants ?? 50 }, () => createTenant(apps[0], options.prefix ?? 'wide')));
  const writes = shuffle(
    tenants.flatMap((tenant) =>
      Array.from({ length: options.perTenant ?? 20 }, (_, i) => ({
        tenant,
        id: `sg-${i}`,
        body: { type: 'sendgrid', account: `${tenant}-${i}`, password: `pw-${tenant}-${i}` },
      })),
    ),
  );
  const started = Date.now();
  const answers = await pool(
    writes.map((write, n) => () => call(urls[n % urls.length], 'POST', `/tenants/${write.tenant}/integrations/${write.id}`, write.body)),
    options.clients ?? 20,
  );
  const seconds = (Date.now() - started) / 1000;
  console.log(
    `${writes.length} creates over ${tenants.length} tenants through ${urls.length} instance(s): ${JSON.stringify(statusCounts(answers.map((a) => a.status)))} in ${seconds.toFixed(1)} s`,
  );
  expect(statusCounts(answers.map((a) => a.status))).toEqual({ 201: writes.length });

  // Each row once, seen from every instance's database (on a cluster, every node).
  for (const app of apps) {
    const [{ total, owners }] = await app.db.query<{ total: number | string; owners: number | string }>(
      `SELECT COUNT(*) AS total, COUNT(DISTINCT tenant_id) AS owners FROM integrations WHERE tenant_id IN (${tenants.map(() => '?').join(',')})`,
      tenants,
    );
    expect({ rows: Number(total), tenants: Number(owners) }).toEqual({ rows: writes.length, tenants: tenants.length });
  }
  // Every value reads back whole through every instance.
  for (const url of urls) {
    const reads = await pool(
      writes.map((write) => () => call(url, 'GET', `/tenants/${write.tenant}/integrations/${write.id}`)),
      options.clients ?? 20,
    );
    const wrong = reads.filter(
      (read, i) => read.status !== 200 || JSON.stringify(read.body) !== JSON.stringify({ id: writes[i].id, ...writes[i].body }),
    );
    expect(wrong).toEqual([]);
  }
}

/**
 * Clients mixing create, replace, PATCH (with and without If-Match), DELETE and GET on shared keys, spread over the
 * instances: no 5xx, what stays reads back whole, and every acknowledged write is one kept version, none missing.
 */
export async function mixedWritesOnSharedKeys(apps: TestApp[], urls: string[], options: WriteLoadOptions = {}): Promise<void> {
  const tenants = await Promise.all(Array.from({ length: 4 }, () => createTenant(apps[0], options.prefix ?? 'mix')));
  const keys = tenants.flatMap((tenant) => ['twilio', 'tw-2', 'tw-3'].map((id) => ({ tenant, id })));
  const statuses: Record<string, number[]> = { GET: [], POST: [], PATCH: [], DELETE: [] };
  const deadline = Date.now() + (options.seconds ?? 15) * 1000;
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
  await Promise.all(Array.from({ length: options.clients ?? 20 }, (_, worker) => client(worker)));
  const seen = Object.fromEntries(Object.entries(statuses).map(([method, list]) => [method, statusCounts(list)]));
  console.log(`mixed load for ${options.seconds ?? 15} s through ${urls.length} instance(s): ${JSON.stringify(seen)} (${written} POSTs)`);

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
}
