import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { loadDatabaseConfig } from '../src/config/database.config';
import { dataSourceOptions } from '../src/database/data-source-options';
import { MIGRATIONS } from '../src/database/migrations';
import { ownMysqlDatabase, startTestApp, type TestApp } from './helpers/test-app';

const mysqlUrl = process.env.DATABASE_URL?.startsWith('mysql') ? process.env.DATABASE_URL : undefined;

/**
 * A database of its own for one migration test (a MySQL database when
 * DATABASE_URL names one, else a SQLite file), opened with every migration
 * known and none run; gone afterwards.
 */
async function withMigrationsDatabase(work: (db: DataSource) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'migrations-'));
  const own = mysqlUrl === undefined ? undefined : await ownMysqlDatabase(mysqlUrl);
  const url = own?.url ?? `sqlite:${join(dir, 'm.sqlite')}`;
  let db: DataSource | undefined;
  try {
    db = await new DataSource({
      ...dataSourceOptions(loadDatabaseConfig({ DATABASE_URL: url }, dir)),
      migrations: MIGRATIONS,
    }).initialize();
    await work(db);
  } finally {
    await db?.destroy();
    await own?.drop();
    rmSync(dir, { recursive: true, force: true });
  }
}

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
    it('several instances starting at once on one empty MySQL database queue on the lock row, all come up, and the schema is made once', async () => {
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
        // The lock is a row (GET_LOCK is per node on Galera), released at the end.
        expect(await apps[0].db.query('SELECT name FROM migration_lock')).toEqual([]);
      } finally {
        for (const app of apps) await app.app.close();
        await database.drop();
      }
    });

    it('a migration lock left by an instance that died is taken over once it expires, and a live one is waited for', async () => {
      const database = await ownMysqlDatabase(mysqlUrl);
      const admin = new DataSource({ type: 'mariadb', url: database.url });
      await admin.initialize();
      let app: TestApp | undefined;
      try {
        await admin.query(
          'CREATE TABLE migration_lock (name VARCHAR(64) NOT NULL PRIMARY KEY, holder VARCHAR(100) NOT NULL, expires_at DATETIME(3) NOT NULL) ENGINE=InnoDB',
        );
        // As a holder that stopped renewing would leave it: 3 s before it expires.
        await admin.query("INSERT INTO migration_lock VALUES ('migrations', 'dead-host:1:abcd', NOW(3) + INTERVAL 3 SECOND)");
        const started = Date.now();
        app = await startTestApp({ DATABASE_URL: database.url });
        const waited = Date.now() - started;
        expect(waited).toBeGreaterThanOrEqual(2500);
        expect(waited).toBeLessThan(15_000);
        const rows = await app.db.query<{ name: string }>('SELECT name FROM migrations ORDER BY id');
        expect(rows.map((r) => r.name)).toEqual(MIGRATIONS.map((m) => new m().name ?? m.name));
        expect(await admin.query('SELECT holder FROM migration_lock')).toEqual([]);
      } finally {
        await app?.app.close();
        await admin.destroy();
        await database.drop();
      }
    });
  }

  it('adds api_clients, whose rows go with their tenant, with revocations and signing keys beside them, and reverts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'migrations-'));
    const own = mysqlUrl === undefined ? undefined : await ownMysqlDatabase(mysqlUrl);
    const url = own?.url ?? `sqlite:${join(dir, 'm.sqlite')}`;
    const at = '2026-01-02 03:04:05.678';
    try {
      const db = await new DataSource({
        ...dataSourceOptions(loadDatabaseConfig({ DATABASE_URL: url }, dir)),
        migrations: MIGRATIONS,
      }).initialize();
      await db.runMigrations();
      await db.query(
        `INSERT INTO tenants (id, name, data_key_wrapped, master_key_id, data_key_version, data_key_created_at, created_at, updated_at)
         VALUES ('t1', 'T1', 'enc:v1:k:a:b:c', 'k', 1, ?, ?, ?)`,
        [at, at, at],
      );
      await db.query(
        `INSERT INTO api_clients (id, tenant_id, name, scope, secret_hash, secret_created_at, created_by, created_at)
         VALUES ('ic-1', 't1', 'c', 'integrations:read', '$scrypt$x', ?, 'admin', ?)`,
        [at, at],
      );
      // A client of a tenant that does not exist is refused by the foreign key.
      await expect(
        db.query(
          `INSERT INTO api_clients (id, tenant_id, name, scope, secret_hash, secret_created_at, created_by, created_at)
           VALUES ('ic-2', 'nobody', 'c', 'integrations:read', '$scrypt$x', ?, 'admin', ?)`,
          [at, at],
        ),
      ).rejects.toThrow();
      await db.query("DELETE FROM tenants WHERE id = 't1'");
      expect(await db.query('SELECT * FROM api_clients')).toEqual([]);
      for (const table of ['api_client_revocations', 'signing_keys']) expect(await db.query(`SELECT * FROM ${table}`)).toEqual([]);

      // Undone down to (and including) the api-clients migration: the ones added after it go first.
      const apiClients = MIGRATIONS.findIndex((m) => new m().name === 'ApiClients1796515200000');
      for (let i = MIGRATIONS.length; i > apiClients; i--) await db.undoLastMigration();
      expect((await db.query<{ name: string }[]>('SELECT name FROM migrations ORDER BY id')).map((r) => r.name)).toEqual(
        MIGRATIONS.slice(0, apiClients).map((m) => new m().name),
      );
      // Matched by message: better-sqlite3's own errors may come from another test file's realm, where toThrow() does not see an Error.
      await expect(db.query('SELECT * FROM api_clients')).rejects.toMatchObject({ message: expect.stringContaining('api_clients') });
      await db.destroy();
    } finally {
      await own?.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('adds the audit trail: events keyed by (tenant, seq), outliving their tenant, text stored as given; and reverts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'migrations-'));
    const own = mysqlUrl === undefined ? undefined : await ownMysqlDatabase(mysqlUrl);
    const url = own?.url ?? `sqlite:${join(dir, 'm.sqlite')}`;
    const at = '2026-01-02 03:04:05.678';
    const event = (tenant: string, seq: number, agent = 'curl/8') =>
      db.query(
        `INSERT INTO audit_events (tenant_id, seq, occurred_at, actor_sub, action, target, outcome, request_id, client_address, user_agent, prev_hash, hash)
         VALUES (?, ?, ?, 'alice', 'tenant.create', ?, 201, NULL, NULL, ?, ?, ?)`,
        [tenant, seq, at, tenant, agent, '0'.repeat(64), 'a'.repeat(64)],
      );
    let db!: DataSource;
    try {
      db = await new DataSource({
        ...dataSourceOptions(loadDatabaseConfig({ DATABASE_URL: url }, dir)),
        migrations: MIGRATIONS,
      }).initialize();
      await db.runMigrations();
      await db.query(
        `INSERT INTO tenants (id, name, data_key_wrapped, master_key_id, data_key_version, data_key_created_at, created_at, updated_at)
         VALUES ('t1', 'T1', 'enc:v1:k:a:b:c', 'k', 1, ?, ?, ?)`,
        [at, at, at],
      );
      await event('t1', 1, 'Mozilla/5.0 (😀) ñ');
      // No foreign key: a chain needs no live tenant (the platform's has none), and outlives a deleted one.
      await event(':platform', 1);
      await db.query("DELETE FROM tenants WHERE id = 't1'");
      const rows = await db.query<{ tenant_id: string; user_agent: string }[]>(
        'SELECT tenant_id, user_agent FROM audit_events ORDER BY tenant_id',
      );
      expect(rows).toEqual([
        { tenant_id: ':platform', user_agent: 'curl/8' },
        { tenant_id: 't1', user_agent: 'Mozilla/5.0 (😀) ñ' },
      ]);
      // One event per seq in a chain; the same seq in another chain is fine.
      expect(
        await event('t1', 1).then(
          () => 'inserted',
          () => 'refused',
        ),
      ).toBe('refused');
      await event('T1', 1);
      await db.query(`INSERT INTO audit_chain_anchors (tenant_id, seq, hash, occurred_at, pruned_at) VALUES ('t1', 0, ?, ?, ?)`, [
        'b'.repeat(64),
        at,
        at,
      ]);

      // Back to before the audit trail, later migrations first.
      const auditTrail = MIGRATIONS.findIndex((migration) => migration.name === 'AuditTrail1797206400000');
      for (let i = MIGRATIONS.length; i > auditTrail; i--) await db.undoLastMigration();
      // (Not rejects.toThrow(): better-sqlite3's native addon builds its errors in the realm of the first test file that loaded it.)
      const gone = (table: string) =>
        db.query(`SELECT * FROM ${table}`).then(
          () => false,
          () => true,
        );
      expect(await gone('audit_events')).toBe(true);
      expect(await gone('audit_chain_anchors')).toBe(true);
    } finally {
      await db?.destroy();
      await own?.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('adds scheduling columns, the tenant setting and verification_results, whose rows go with their integration; and reverts', async () => {
    const at = '2026-01-02 03:04:05.678';
    await withMigrationsDatabase(async (db) => {
      await db.runMigrations();
      await db.query(
        `INSERT INTO tenants (id, name, data_key_version, created_at, updated_at, verify_interval) VALUES ('t1', 'T1', 1, ?, ?, 21600)`,
        [at, at],
      );
      await db.query(
        `INSERT INTO integrations (tenant_id, id, type, config, secrets, revision, created_at, updated_at, check_due_at, check_lease_until)
       VALUES ('t1', 'twilio', 'twilio', '{}', '{}', 1, ?, ?, ?, NULL)`,
        [at, at, at],
      );
      for (const status of ['ok', 'failed']) {
        await db.query(
          `INSERT INTO verification_results (tenant_id, integration_id, revision, status, message, checked_at, ${db.driver.escape('trigger')})
         VALUES ('t1', 'twilio', 1, ?, 'm', ?, 'scheduled')`,
          [status, at],
        );
      }
      const rows = await db.query<{ id: number; status: string }[]>('SELECT id, status FROM verification_results ORDER BY id');
      expect(rows.map((row) => row.status)).toEqual(['ok', 'failed']);
      expect(Number(rows[1].id)).toBeGreaterThan(Number(rows[0].id));
      // A result needs its integration, and goes with it (and so with its tenant).
      const orphan = await db
        .query(
          `INSERT INTO verification_results (tenant_id, integration_id, revision, status, message, checked_at, ${db.driver.escape('trigger')}) VALUES ('t1', 'nope', 1, 'ok', 'm', ?, 'manual')`,
          [at],
        )
        .then(
          () => 'inserted',
          () => 'refused',
        );
      expect(orphan).toBe('refused');
      await db.query("DELETE FROM tenants WHERE id = 't1'");
      expect(await db.query('SELECT id FROM verification_results')).toEqual([]);

      // Back to before the credential checks, later migrations first.
      const checks = MIGRATIONS.findIndex((migration) => migration.name === 'CredentialChecks1797292800000');
      for (let i = MIGRATIONS.length; i > checks; i--) await db.undoLastMigration();
      const gone = (sql: string) =>
        db.query(sql).then(
          () => false,
          () => true,
        );
      expect(await gone('SELECT * FROM verification_results')).toBe(true);
      expect(await gone('SELECT check_due_at FROM integrations')).toBe(true);
      expect(await gone('SELECT verify_interval FROM tenants')).toBe(true);
    });
  });

  it('adds webhooks and their deliveries, which go with their tenant; and reverts', async () => {
    const at = '2026-01-02 03:04:05.678';
    await withMigrationsDatabase(async (db) => {
      await db.runMigrations();
      await db.query(`INSERT INTO tenants (id, name, data_key_version, created_at, updated_at) VALUES ('t1', 'T1', 1, ?, ?)`, [at, at]);
      await db.query(
        `INSERT INTO webhooks (tenant_id, id, url, events_mask, events, description, secret, enabled, created_at, updated_at)
       VALUES ('t1', 'wh-1', 'https://example.com/hook', 1, '["integration.created"]', '', 'enc', 1, ?, ?)`,
        [at, at],
      );
      const delivery = (webhook: string) =>
        db.query(
          `INSERT INTO webhook_deliveries (tenant_id, webhook_id, event_id, event_type, payload, status, attempts, next_attempt_at, retry_until, created_at)
         VALUES ('t1', ?, 'msg-1', 'integration.created', '{}', 'pending', 0, ?, ?, ?)`,
          [webhook, at, at, at],
        );
      await delivery('wh-1');
      // A delivery needs its endpoint, and goes with it (and so with its tenant).
      expect(
        await delivery('wh-nope').then(
          () => 'inserted',
          () => 'refused',
        ),
      ).toBe('refused');
      await db.query("DELETE FROM tenants WHERE id = 't1'");
      expect(await db.query('SELECT event_id FROM webhook_deliveries')).toEqual([]);
      expect(await db.query('SELECT id FROM webhooks')).toEqual([]);

      const webhooks = MIGRATIONS.findIndex((migration) => migration.name === 'Webhooks1797379200000');
      for (let i = MIGRATIONS.length; i > webhooks; i--) await db.undoLastMigration();
      const gone = (table: string) =>
        db.query(`SELECT * FROM ${table}`).then(
          () => false,
          () => true,
        );
      expect(await gone('webhook_deliveries')).toBe(true);
      expect(await gone('webhooks')).toBe(true);
    });
  });

  it('moves soft-deleted tenants to tombstones, makes integrations follow their tenant, and reverts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'migrations-'));
    const own = mysqlUrl === undefined ? undefined : await ownMysqlDatabase(mysqlUrl);
    const url = own?.url ?? `sqlite:${join(dir, 'm.sqlite')}`;
    const open = (migrations: typeof MIGRATIONS) =>
      new DataSource({ ...dataSourceOptions(loadDatabaseConfig({ DATABASE_URL: url }, dir)), migrations }).initialize();
    const names = async (db: DataSource) =>
      (await db.query<{ name: string }[]>('SELECT name FROM migrations ORDER BY id')).map((r) => r.name);
    const at = '2026-01-02 03:04:05.678';
    try {
      // The schema as it was before tombstones, with one live and one soft-deleted tenant.
      let db = await open(MIGRATIONS.slice(0, 2));
      await db.runMigrations();
      await db.query(
        `INSERT INTO tenants (id, name, data_key_wrapped, master_key_id, data_key_version, data_key_created_at, created_at, updated_at, deleted_at)
         VALUES ('live', 'Live', 'enc:v1:k:a:b:c', 'k', 1, ?, ?, ?, NULL), ('gone', 'Gone', NULL, NULL, 1, ?, ?, ?, ?)`,
        [at, at, at, at, at, at, at],
      );
      await db.query(
        `INSERT INTO integrations (tenant_id, id, type, config, secrets, revision, created_at, updated_at) VALUES ('live', 'twilio', 'twilio', '{}', '{}', 1, ?, ?)`,
        [at, at],
      );
      await db.destroy();

      db = await open(MIGRATIONS);
      await db.runMigrations();
      expect(await names(db)).toEqual(MIGRATIONS.map((m) => new m().name));
      expect((await db.query<{ id: string }[]>('SELECT id FROM tenants')).map((r) => r.id)).toEqual(['live']);
      expect((await db.query<{ id: string }[]>('SELECT id FROM deleted_tenants')).map((r) => r.id)).toEqual(['gone']);
      expect(await db.query('SELECT previous_data_key_wrapped FROM tenants')).toEqual([{ previous_data_key_wrapped: null }]);
      // The integrations' foreign key now cascades: the tenant row takes its integrations with it.
      await db.query("DELETE FROM tenants WHERE id = 'live'");
      expect(await db.query('SELECT * FROM integrations')).toEqual([]);

      // Migrations added later (api clients, issue 13) are undone first.
      for (let i = MIGRATIONS.length; i > 3; i--) await db.undoLastMigration();
      expect(await names(db)).toEqual(MIGRATIONS.slice(0, 3).map((m) => new m().name));
      await db.undoLastMigration();
      expect(await names(db)).toEqual(MIGRATIONS.slice(0, 2).map((m) => new m().name));
      const restored = await db.query<{ id: string; deleted_at: unknown }[]>('SELECT id, deleted_at FROM tenants');
      expect(restored.map((r) => [r.id, r.deleted_at !== null])).toEqual([['gone', true]]);
      await db.destroy();
    } finally {
      await own?.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
