import { MIGRATIONS } from '../src/database/migrations';
import { ownMysqlDatabase, startTestApp, type TestApp } from './helpers/test-app';

const mysqlUrl = process.env.DATABASE_URL?.startsWith('mysql') ? process.env.DATABASE_URL : undefined;

describe('Migrations at start', () => {
  it('a fresh database gets every migration once', async () => {
    const t = await startTestApp({}, { ownDatabase: true });
    try {
      const rows = await t.db.query<{ name: string }>('SELECT name FROM migrations ORDER BY id');
      expect(rows.map((r) => r.name)).toEqual(MIGRATIONS.map((m) => new m().name ?? m.name));
    } finally {
      await t.close();
    }
  });

  // Several instances of a deployment start together only on a shared server database; SQLite is one process's file.
  if (mysqlUrl !== undefined) {
    it('several instances starting at once on one MySQL database queue on the lock and all come up', async () => {
      const database = await ownMysqlDatabase(mysqlUrl);
      const apps: TestApp[] = [];
      try {
        const started = await Promise.allSettled([1, 2, 3].map(() => startTestApp({ DATABASE_URL: database.url })));
        for (const result of started) if (result.status === 'fulfilled') apps.push(result.value);
        expect(started.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
        const rows = await apps[0].db.query<{ name: string }>('SELECT name FROM migrations ORDER BY id');
        expect(rows.map((r) => r.name)).toEqual(MIGRATIONS.map((m) => new m().name ?? m.name));
        const tables = await apps[0].db.query<{ n: number | string }>(
          "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name IN ('tenants', 'integrations', 'key_rotations')",
        );
        expect(Number(tables[0].n)).toBe(3);
      } finally {
        for (const app of apps) await app.app.close();
        await database.drop();
      }
    });
  }
});
