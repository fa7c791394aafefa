import { type MigrationInterface, type QueryRunner, Table, TableForeignKey, TableIndex } from 'typeorm';
import { idColumn, timestampColumn } from './column-types';

/**
 * Tenants, their integrations and the key-rotation journal. Written with the
 * driver-neutral schema API so MySQL/MariaDB and SQLite share this file.
 */
export class InitialSchema1732752000000 implements MigrationInterface {
  name = 'InitialSchema1732752000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'tenants',
        columns: [
          idColumn(queryRunner, 'id'),
          { name: 'name', type: 'varchar', length: '200' },
          // The tenant's data key, wrapped by master key `master_key_id`; NULL once deleted (crypto-shredded).
          { name: 'data_key_wrapped', type: 'varchar', length: '255', isNullable: true },
          { name: 'master_key_id', type: 'varchar', length: '32', isNullable: true },
          // Bumped whenever the data key itself is replaced; secrets name it in their envelope.
          { name: 'data_key_version', type: 'int', default: 1 },
          timestampColumn(queryRunner, 'data_key_created_at', true),
          timestampColumn(queryRunner, 'created_at'),
          timestampColumn(queryRunner, 'updated_at'),
          timestampColumn(queryRunner, 'deleted_at', true),
        ],
      }),
    );
    await queryRunner.createIndex('tenants', new TableIndex({ name: 'idx_tenants_master_key_id', columnNames: ['master_key_id'] }));

    await queryRunner.createTable(
      new Table({
        name: 'integrations',
        columns: [
          idColumn(queryRunner, 'tenant_id'),
          idColumn(queryRunner, 'id'),
          { name: 'type', type: 'varchar', length: '32' },
          // Non-secret vendor fields as plain JSON.
          { name: 'config', type: 'text' },
          // Secret fields as JSON of field → enc:v1 envelope under the tenant's data key.
          { name: 'secrets', type: 'text' },
          // Optimistic concurrency: the ETag is derived from it.
          { name: 'revision', type: 'int', default: 1 },
          timestampColumn(queryRunner, 'created_at'),
          timestampColumn(queryRunner, 'updated_at'),
        ],
      }),
    );
    await queryRunner.createForeignKey(
      'integrations',
      new TableForeignKey({ name: 'fk_integrations_tenant', columnNames: ['tenant_id'], referencedTableName: 'tenants', referencedColumnNames: ['id'] }),
    );

    await queryRunner.createTable(
      new Table({
        name: 'key_rotations',
        columns: [
          { name: 'id', type: 'integer', isPrimary: true, isGenerated: true, generationStrategy: 'increment' },
          { name: 'mode', type: 'varchar', length: '16' },
          { name: 'master_key_id', type: 'varchar', length: '32' },
          timestampColumn(queryRunner, 'started_at'),
          timestampColumn(queryRunner, 'finished_at', true),
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('key_rotations');
    await queryRunner.dropForeignKey('integrations', 'fk_integrations_tenant');
    await queryRunner.dropTable('integrations');
    await queryRunner.dropTable('tenants');
  }
}
