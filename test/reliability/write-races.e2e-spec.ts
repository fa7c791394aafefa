import { isMysqlUrl } from '../helpers/child-app';
import { startTestApp, type TestApp } from '../helpers/test-app';
import { manyTenantsCreating, mixedWritesOnSharedKeys } from '../helpers/write-load';

/**
 * Issue 12, writes that never deadlock. InnoDB's locking reads of rows that do
 * not exist take gap locks, and inserts into neighbouring keys then deadlock;
 * so these tests write to many tenants at once, over real HTTP on loopback so
 * that the requests truly overlap. On MySQL/MariaDB two instances share the
 * database, so writes of one integration also race across processes' pools.
 */
const MYSQL = isMysqlUrl(process.env.DATABASE_URL);

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
    await manyTenantsCreating(apps, urls);
  }, 120_000);

  it('20 clients mixing create, replace, PATCH, DELETE and GET on shared keys for 15 s: no 5xx, and what stays reads back whole', async () => {
    await mixedWritesOnSharedKeys(apps, urls);
  }, 60_000);
});
