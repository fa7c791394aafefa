import { type MigrationInterface, type QueryRunner, Table } from 'typeorm';
import { idColumn, timestampColumn } from './column-types';

/**
 * API clients, their revocations and the service's token-signing keys (issue 13).
 *
 * - api_clients: a tenant's clients; the foreign key cascades, so deleting a
 *   tenant removes its clients (their live tokens then reach a tenant that no
 *   longer exists and never will: tenant ids are never reused).
 * - api_client_revocations: deleted clients whose tokens may still be alive,
 *   read incrementally by `seq` by every instance. No foreign key: a
 *   revocation must outlive its client.
 * - signing_keys: ES256 keys, the private half wrapped by the master key ring.
 */
export class ApiClients1796515200000 implements MigrationInterface {
  name = 'ApiClients1796515200000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'api_clients',
        columns: [
          idColumn(queryRunner, 'id'),
          idColumn(queryRunner, 'tenant_id', false),
          { name: 'name', type: 'varchar', length: '200' },
          { name: 'scope', type: 'varchar', length: '500' },
          { name: 'secret_hash', type: 'varchar', length: '255' },
          timestampColumn(queryRunner, 'secret_created_at'),
          { name: 'previous_secret_hash', type: 'varchar', length: '255', isNullable: true },
          timestampColumn(queryRunner, 'previous_secret_expires_at', true),
          { name: 'created_by', type: 'varchar', length: '255' },
          timestampColumn(queryRunner, 'created_at'),
        ],
        indices: [{ name: 'idx_api_clients_tenant', columnNames: ['tenant_id', 'id'] }],
        foreignKeys: [
          { name: 'fk_api_clients_tenant', columnNames: ['tenant_id'], referencedTableName: 'tenants', referencedColumnNames: ['id'], onDelete: 'CASCADE' },
        ],
      }),
    );

    await queryRunner.createTable(
      new Table({
        name: 'api_client_revocations',
        columns: [
          { name: 'seq', type: 'integer', isPrimary: true, isGenerated: true, generationStrategy: 'increment' },
          idColumn(queryRunner, 'client_id', false),
          idColumn(queryRunner, 'tenant_id', false),
          timestampColumn(queryRunner, 'revoked_at'),
          timestampColumn(queryRunner, 'expires_at'),
        ],
        indices: [{ name: 'idx_api_client_revocations_expires', columnNames: ['expires_at'] }],
      }),
    );

    await queryRunner.createTable(
      new Table({
        name: 'signing_keys',
        columns: [
          idColumn(queryRunner, 'kid'),
          { name: 'algorithm', type: 'varchar', length: '16' },
          { name: 'public_jwk', type: 'varchar', length: '1024' },
          { name: 'private_key_wrapped', type: 'varchar', length: '1024' },
          { name: 'master_key_id', type: 'varchar', length: '32' },
          timestampColumn(queryRunner, 'created_at'),
          timestampColumn(queryRunner, 'retired_at', true),
          timestampColumn(queryRunner, 'publish_until', true),
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('signing_keys');
    await queryRunner.dropTable('api_client_revocations');
    await queryRunner.dropTable('api_clients');
  }
}
