import { type MigrationInterface, type QueryRunner, Table } from 'typeorm';
import { exactTextColumn, idColumn, timestampColumn } from './column-types';

/**
 * Webhooks and their outbox (issue 15).
 *
 * - webhooks: a tenant's endpoints. `events_mask` has one bit per event type
 *   (the order of WEBHOOK_EVENT_TYPES), so an emit selects the subscribed
 *   endpoints with `events_mask & ? <> 0` on both engines; `events` keeps the
 *   list as sent, for display. The signing secret (and, for a while after a
 *   rotation, the one before it) is an envelope under the tenant's data key.
 * - webhook_deliveries: the transactional outbox, one row per event and
 *   endpoint, written in the transaction of the change that caused it. The
 *   worker claims due rows through `lease_until`; the (status,
 *   next_attempt_at) index is its scan. `retry_until` ends the retries.
 *
 * Both cascade from tenants: deleting a tenant removes its webhooks and their
 * deliveries (their secrets were under its data key, which goes too).
 */
export class Webhooks1797379200000 implements MigrationInterface {
  name = 'Webhooks1797379200000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'webhooks',
        columns: [
          idColumn(queryRunner, 'tenant_id'),
          idColumn(queryRunner, 'id'),
          { name: 'url', type: 'varchar', length: '2048' },
          { name: 'events_mask', type: 'int' },
          { name: 'events', type: 'varchar', length: '1024' },
          { name: 'description', type: 'varchar', length: '500' },
          { name: 'secret', type: 'varchar', length: '512' },
          { name: 'previous_secret', type: 'varchar', length: '512', isNullable: true },
          timestampColumn(queryRunner, 'previous_secret_expires_at', true),
          { name: 'enabled', type: 'boolean' },
          { name: 'disabled_reason', type: 'varchar', length: '500', isNullable: true },
          timestampColumn(queryRunner, 'failing_since', true),
          timestampColumn(queryRunner, 'created_at'),
          timestampColumn(queryRunner, 'updated_at'),
        ],
        foreignKeys: [
          {
            name: 'fk_webhooks_tenant',
            columnNames: ['tenant_id'],
            referencedTableName: 'tenants',
            referencedColumnNames: ['id'],
            onDelete: 'CASCADE',
          },
        ],
      }),
    );

    await queryRunner.createTable(
      new Table({
        name: 'webhook_deliveries',
        columns: [
          idColumn(queryRunner, 'tenant_id'),
          idColumn(queryRunner, 'webhook_id'),
          idColumn(queryRunner, 'event_id'),
          { name: 'event_type', type: 'varchar', length: '64' },
          // The exact body that is signed and sent, so every retry sends the same bytes.
          exactTextColumn(queryRunner, 'payload', 8192),
          { name: 'status', type: 'varchar', length: '16' },
          { name: 'attempts', type: 'int' },
          timestampColumn(queryRunner, 'next_attempt_at'),
          timestampColumn(queryRunner, 'lease_until', true),
          timestampColumn(queryRunner, 'retry_until'),
          timestampColumn(queryRunner, 'created_at'),
          timestampColumn(queryRunner, 'last_attempt_at', true),
          { name: 'last_status_code', type: 'int', isNullable: true },
          { name: 'last_error', type: 'varchar', length: '300', isNullable: true },
          { name: 'response_excerpt', type: 'varchar', length: '1024', isNullable: true },
          timestampColumn(queryRunner, 'delivered_at', true),
        ],
        indices: [
          { name: 'idx_webhook_deliveries_due', columnNames: ['status', 'next_attempt_at'] },
          { name: 'idx_webhook_deliveries_list', columnNames: ['tenant_id', 'webhook_id', 'created_at'] },
        ],
        foreignKeys: [
          {
            name: 'fk_webhook_deliveries_webhook',
            columnNames: ['tenant_id', 'webhook_id'],
            referencedTableName: 'webhooks',
            referencedColumnNames: ['tenant_id', 'id'],
            onDelete: 'CASCADE',
          },
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('webhook_deliveries');
    await queryRunner.dropTable('webhooks');
  }
}
