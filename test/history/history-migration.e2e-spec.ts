import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { loadDatabaseConfig } from '../../src/config/database.config';
import { dataSourceOptions } from '../../src/database/data-source-options';
import { MIGRATIONS } from '../../src/database/migrations';
import { ownMysqlDatabase } from '../helpers/test-app';

const mysqlUrl = process.env.DATABASE_URL?.startsWith('mysql') ? process.env.DATABASE_URL : undefined;

describe('Migration: integration history', () => {
  it('keeps existing integrations live, makes versions follow their integration and tenant, and reverts without tombstones', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'history-migration-'));
    const own = mysqlUrl === undefined ? undefined : await ownMysqlDatabase(mysqlUrl);
    const url = own?.url ?? `sqlite:${join(dir, 'm.sqlite')}`;
    const index = MIGRATIONS.findIndex((m) => new m().name === 'IntegrationHistory1797120000000');
    const open = (migrations: typeof MIGRATIONS) =>
      new DataSource({ ...dataSourceOptions(loadDatabaseConfig({ DATABASE_URL: url }, dir)), migrations }).initialize();
    const at = '2026-01-02 03:04:05.678';
    const version = (tenant: string, id: string, revision: number) =>
      `INSERT INTO integration_versions (tenant_id, integration_id, revision, type, config, secrets, action, deleted, restored_from, actor_sub, request_id, created_at)
       VALUES ('${tenant}', '${id}', ${revision}, 'twilio', '{}', '{}', 'create', 0, NULL, 'someone', NULL, '${at}')`;
    try {
      // The schema as it was before, with a tenant and an integration in it.
      let db = await open(MIGRATIONS.slice(0, index));
      await db.runMigrations();
      await db.query(
        `INSERT INTO tenants (id, name, data_key_wrapped, master_key_id, data_key_version, data_key_created_at, created_at, updated_at)
         VALUES ('t1', 'T1', 'enc:v1:k:a:b:c', 'k', 1, ?, ?, ?), ('t2', 'T2', 'enc:v1:k:a:b:c', 'k', 1, ?, ?, ?)`,
        [at, at, at, at, at, at],
      );
      await db.query(
        `INSERT INTO integrations (tenant_id, id, type, config, secrets, revision, created_at, updated_at)
         VALUES ('t1', 'twilio', 'twilio', '{"account":"AC"}', '{}', 4, ?, ?), ('t1', 'tw-2', 'twilio', '{}', '{}', 1, ?, ?), ('t2', 'twilio', 'twilio', '{}', '{}', 1, ?, ?)`,
        [at, at, at, at, at, at],
      );
      await db.destroy();

      db = await open(MIGRATIONS);
      await db.runMigrations();
      expect(await db.query("SELECT id, revision, config, deleted_at FROM integrations WHERE tenant_id = 't1' ORDER BY id")).toEqual([
        { id: 'tw-2', revision: 1, config: '{}', deleted_at: null },
        { id: 'twilio', revision: 4, config: '{"account":"AC"}', deleted_at: null },
      ]);
      // A version needs its integration; it goes with it, and with its tenant.
      await expect(db.query(version('t1', 'nothing', 1))).rejects.toMatchObject({ message: expect.stringMatching(/foreign key/i) });
      await db.query(version('t1', 'twilio', 5));
      await db.query(version('t1', 'tw-2', 2));
      await db.query(version('t2', 'twilio', 2));
      await db.query("DELETE FROM integrations WHERE tenant_id = 't1' AND id = 'tw-2'");
      expect(await db.query("SELECT integration_id FROM integration_versions WHERE tenant_id = 't1'")).toEqual([
        { integration_id: 'twilio' },
      ]);
      await db.query("DELETE FROM tenants WHERE id = 't1'");
      expect(await db.query('SELECT tenant_id FROM integration_versions')).toEqual([{ tenant_id: 't2' }]);
      // Two versions of one revision cannot be.
      await expect(db.query(version('t2', 'twilio', 2))).rejects.toMatchObject({ message: expect.stringMatching(/unique|duplicate/i) });

      // Reverting: tombstones would read as empty live integrations without their column, so they go.
      await db.query(`UPDATE integrations SET deleted_at = ?, config = '{}', secrets = '{}', revision = 2 WHERE tenant_id = 't2'`, [at]);
      await db.query(
        `INSERT INTO integrations (tenant_id, id, type, config, secrets, revision, created_at, updated_at) VALUES ('t2', 'live', 'twilio', '{}', '{}', 1, ?, ?)`,
        [at, at],
      );
      // (Migrations added after this one are undone first.)
      for (let i = MIGRATIONS.length; i > index; i--) await db.undoLastMigration();
      expect((await db.query<{ name: string }[]>('SELECT name FROM migrations ORDER BY id')).map((r) => r.name)).toEqual(
        MIGRATIONS.slice(0, index).map((m) => new m().name),
      );
      expect(await db.query("SELECT id FROM integrations WHERE tenant_id = 't2'")).toEqual([{ id: 'live' }]);
      // (Matched by message: better-sqlite3's own errors may come from another test file's realm, where toThrow() does not see an Error.)
      await expect(db.query('SELECT * FROM integration_versions')).rejects.toMatchObject({
        message: expect.stringContaining('integration_versions'),
      });
      await expect(db.query('SELECT deleted_at FROM integrations')).rejects.toMatchObject({
        message: expect.stringContaining('deleted_at'),
      });
      await db.destroy();
    } finally {
      await own?.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
