import { type MigrationInterface, type QueryRunner, Table, TableColumn, TableForeignKey } from 'typeorm';
import { idColumn, timestampColumn } from './column-types';

const FOREIGN_KEY = 'fk_integrations_tenant';

async function replaceTenantForeignKey(queryRunner: QueryRunner, onDelete: 'CASCADE' | undefined): Promise<void> {
  const table = await queryRunner.getTable('integrations');
  const existing = table?.foreignKeys.find((key) => key.columnNames.length === 1 && key.columnNames[0] === 'tenant_id');
  if (table === undefined || existing === undefined) throw new Error('integrations has no foreign key on tenant_id to replace');
  await queryRunner.dropForeignKey(table, existing);
  await queryRunner.createForeignKey(
    'integrations',
    new TableForeignKey({ name: FOREIGN_KEY, columnNames: ['tenant_id'], referencedTableName: 'tenants', referencedColumnNames: ['id'], onDelete }),
  );
}

/**
 * Deleted tenants leave a tombstone of their own instead of a soft-deleted row
 * (issue 12), and everything a tenant owns goes with its row: the foreign keys
 * cascade. The database then keeps the rule "an integration exists only in a
 * live tenant" by itself, with no module deleting another module's rows, and
 * a write needs no locking read of the tenant to keep it.
 *
 * It also makes room for the data-key replacement of `keys:rotate --reencrypt`:
 * the previous data key stays beside the new one until every secret has been
 * re-encrypted, so the rotation never holds a tenant's lock while it works.
 */
export class TenantTombstones1795910400000 implements MigrationInterface {
  name = 'TenantTombstones1795910400000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({ name: 'deleted_tenants', columns: [idColumn(queryRunner, 'id'), timestampColumn(queryRunner, 'deleted_at')] }),
    );
    await queryRunner.query('INSERT INTO deleted_tenants (id, deleted_at) SELECT id, deleted_at FROM tenants WHERE deleted_at IS NOT NULL');
    // Deleting a tenant always deleted its integrations too; this only guards against a hand-edited database.
    await queryRunner.query('DELETE FROM integrations WHERE tenant_id IN (SELECT id FROM tenants WHERE deleted_at IS NOT NULL)');
    await queryRunner.query('DELETE FROM tenants WHERE deleted_at IS NOT NULL');
    await replaceTenantForeignKey(queryRunner, 'CASCADE');
    await queryRunner.dropColumn('tenants', 'deleted_at');
    // The data key that `data_key_version - 1` names, wrapped like data_key_wrapped, while a re-encryption runs.
    await queryRunner.addColumn('tenants', new TableColumn({ name: 'previous_data_key_wrapped', type: 'varchar', length: '255', isNullable: true }));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropColumn('tenants', 'previous_data_key_wrapped');
    await queryRunner.addColumn('tenants', new TableColumn(timestampColumn(queryRunner, 'deleted_at', true)));
    await replaceTenantForeignKey(queryRunner, undefined);
    await queryRunner.query(
      `INSERT INTO tenants (id, name, data_key_wrapped, master_key_id, data_key_version, data_key_created_at, created_at, updated_at, deleted_at)
       SELECT id, id, NULL, NULL, 1, NULL, deleted_at, deleted_at, deleted_at FROM deleted_tenants`,
    );
    await queryRunner.dropTable('deleted_tenants');
  }
}
