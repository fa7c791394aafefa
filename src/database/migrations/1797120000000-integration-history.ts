import { type MigrationInterface, type QueryRunner, Table, TableColumn, TableIndex } from 'typeorm';
import { idColumn, timestampColumn } from './column-types';

/**
 * Versions and rollback (Vault KV v2-like history of each integration).
 *
 * - integrations.deleted_at: a DELETE leaves the row as a tombstone (content
 *   emptied, revision bumped) instead of removing it, so revision numbers go on
 *   across a delete and a re-create and a version number is never used twice.
 *   Reads treat a tombstone as absent. The index lets the pruner find
 *   tombstones past their retention without scanning the table.
 * - integration_versions: the state after every write, keyed by revision.
 *   Its foreign key names the integration row, and cascades: a version goes
 *   with its integration row (the pruner removes a tombstone with its
 *   versions in one statement), and, since integrations cascade from tenants,
 *   deleting a tenant deletes every version with its data key
 *   (crypto-shredding). A version never outlives its row, so rows removed by
 *   hand leave no version behind to collide with a later revision.
 *
 * Integrations written before this migration have no versions: their history
 * starts with their next write (a version's secrets need the tenant's data key,
 * which a migration does not hold).
 */
export class IntegrationHistory1797120000000 implements MigrationInterface {
  name = 'IntegrationHistory1797120000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.addColumn('integrations', new TableColumn(timestampColumn(queryRunner, 'deleted_at', true)));
    await queryRunner.createIndex('integrations', new TableIndex({ name: 'idx_integrations_deleted_at', columnNames: ['deleted_at'] }));
    await queryRunner.createTable(
      new Table({
        name: 'integration_versions',
        columns: [
          idColumn(queryRunner, 'tenant_id'),
          idColumn(queryRunner, 'integration_id'),
          { name: 'revision', type: 'int', isPrimary: true },
          { name: 'type', type: 'varchar', length: '32' },
          // Non-secret vendor fields as plain JSON; '{}' for a delete.
          { name: 'config', type: 'text' },
          // Secret fields as JSON of field → enc:v1 envelope, AAD bound to the revision; '{}' for a delete.
          { name: 'secrets', type: 'text' },
          // create | replace | patch | delete | restore | verify
          { name: 'action', type: 'varchar', length: '16' },
          // The state after a delete: no content.
          { name: 'deleted', type: 'boolean' },
          { name: 'restored_from', type: 'int', isNullable: true },
          { name: 'actor_sub', type: 'varchar', length: '255' },
          { name: 'request_id', type: 'varchar', length: '64', isNullable: true },
          timestampColumn(queryRunner, 'created_at'),
        ],
        foreignKeys: [
          {
            name: 'fk_integration_versions_integration',
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
    await queryRunner.dropTable('integration_versions');
    // Without the column a tombstone would read as a live integration with nothing in it.
    await queryRunner.query('DELETE FROM integrations WHERE deleted_at IS NOT NULL');
    await queryRunner.dropIndex('integrations', 'idx_integrations_deleted_at');
    await queryRunner.dropColumn('integrations', 'deleted_at');
  }
}
