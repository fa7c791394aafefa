import { type MigrationInterface, type QueryRunner, Table, TableColumn, TableIndex } from 'typeorm';
import { exactTextColumn, idColumn, timestampColumn } from './column-types';

/**
 * Scheduled re-verification (issue 15).
 *
 * - integrations.check_due_at: when the integration should next be looked
 *   at; NULL when checks are off for it (and for tombstones). Claiming moves
 *   it to the claim's lease end, so the claim query is one range scan of
 *   idx_integrations_check_due (`check_due_at <= now`, oldest first) on both
 *   engines: rows claimed by another instance are simply not in the range,
 *   and the claim of an instance that died comes back into it when its lease
 *   ends. Rows that exist now start unscheduled: the scheduler picks up
 *   unscheduled rows when it starts with an interval, and a tenant's
 *   setting reschedules that tenant's rows.
 * - integrations.check_lease_until: set while an instance holds the claim
 *   (equal to check_due_at then); the check's result clears it.
 * - tenants.verify_interval: the tenant's own interval in seconds (0 = off),
 *   NULL to follow VERIFY_INTERVAL; indexed so "does any tenant ask for
 *   checks" is a lookup, not a scan.
 * - verification_results: the last checks of each integration (the newest 10
 *   are kept), whatever caused them; they go with the integration row (and
 *   so with the tenant) by the foreign key's cascade.
 */
export class CredentialChecks1797292800000 implements MigrationInterface {
  name = 'CredentialChecks1797292800000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const mysql = ['mysql', 'mariadb'].includes(queryRunner.connection.options.type);
    await queryRunner.addColumns('integrations', [
      new TableColumn(timestampColumn(queryRunner, 'check_due_at', true)),
      new TableColumn(timestampColumn(queryRunner, 'check_lease_until', true)),
    ]);
    await queryRunner.createIndex('integrations', new TableIndex({ name: 'idx_integrations_check_due', columnNames: ['check_due_at'] }));
    await queryRunner.addColumn('tenants', new TableColumn({ name: 'verify_interval', type: 'int', isNullable: true }));
    await queryRunner.createIndex('tenants', new TableIndex({ name: 'idx_tenants_verify_interval', columnNames: ['verify_interval'] }));
    await queryRunner.createTable(
      new Table({
        name: 'verification_results',
        columns: [
          // SQLite autoincrements only an INTEGER PRIMARY KEY; MySQL's int would run out for a large fleet checked daily.
          { name: 'id', type: mysql ? 'bigint' : 'integer', isPrimary: true, isGenerated: true, generationStrategy: 'increment' },
          idColumn(queryRunner, 'tenant_id', false),
          idColumn(queryRunner, 'integration_id', false),
          { name: 'revision', type: 'int' },
          { name: 'status', type: 'varchar', length: '16' },
          exactTextColumn(queryRunner, 'message', 400),
          timestampColumn(queryRunner, 'checked_at'),
          // manual | scheduled | save
          { name: 'trigger', type: 'varchar', length: '16' },
        ],
        indices: [{ name: 'idx_verification_results_integration', columnNames: ['tenant_id', 'integration_id', 'id'] }],
        foreignKeys: [
          {
            name: 'fk_verification_results_integration',
            columnNames: ['tenant_id', 'integration_id'],
            referencedTableName: 'integrations',
            referencedColumnNames: ['tenant_id', 'id'],
            onDelete: 'CASCADE',
          },
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('verification_results');
    await queryRunner.dropIndex('tenants', 'idx_tenants_verify_interval');
    await queryRunner.dropIndex('integrations', 'idx_integrations_check_due');
    const columns: [string, string][] = [
      ['tenants', 'verify_interval'],
      ['integrations', 'check_lease_until'],
      ['integrations', 'check_due_at'],
    ];
    if (['mysql', 'mariadb'].includes(queryRunner.connection.options.type)) {
      for (const [table, column] of columns) await queryRunner.dropColumn(table, column);
      return;
    }
    // TypeORM drops a column on SQLite by recreating the table, and a revert runs inside a transaction, where
    // SQLite ignores TypeORM's `PRAGMA foreign_keys = OFF`: dropping the old tenants table would cascade-delete
    // every integration and version (test/history/history-migration.e2e-spec.ts saw it). SQLite 3.35+ drops an
    // unindexed column in place.
    for (const [table, column] of columns) await queryRunner.query(`ALTER TABLE "${table}" DROP COLUMN "${column}"`);
  }
}
