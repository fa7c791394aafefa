import { type MigrationInterface, type QueryRunner, Table } from 'typeorm';
import { exactTextColumn, idColumn, timestampColumn } from './column-types';

/**
 * The audit trail: one append-only, hash-chained event per privileged action.
 *
 * - audit_events: each tenant's chain (platform-wide actions in the chain
 *   ':platform', an id no tenant can have), keyed by (tenant_id, seq), so an
 *   append is one insert whose key is unique per chain: of two appenders that
 *   took the same seq, the second gets a duplicate key, never a fork. No
 *   foreign key to tenants: the trail of a deleted tenant is kept (it holds
 *   no secret). The (tenant_id, occurred_at) index serves `?since=` and the
 *   retention prune.
 * - audit_chain_anchors: per chain, the last event the retention prune
 *   removed (its seq, hash and time), so the first kept event still links to
 *   something and `audit:verify` tells pruning from tampering.
 */
export class AuditTrail1797206400000 implements MigrationInterface {
  name = 'AuditTrail1797206400000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'audit_events',
        columns: [
          idColumn(queryRunner, 'tenant_id'),
          { name: 'seq', type: 'int', isPrimary: true },
          timestampColumn(queryRunner, 'occurred_at'),
          exactTextColumn(queryRunner, 'actor_sub', 255),
          exactTextColumn(queryRunner, 'action', 64),
          exactTextColumn(queryRunner, 'target', 255),
          { name: 'outcome', type: 'int' },
          exactTextColumn(queryRunner, 'request_id', 64, true),
          exactTextColumn(queryRunner, 'client_address', 64, true),
          exactTextColumn(queryRunner, 'user_agent', 200, true),
          // SHA-256, hex: the previous event's hash (64 zeros for the first), and this event's.
          exactTextColumn(queryRunner, 'prev_hash', 64),
          exactTextColumn(queryRunner, 'hash', 64),
        ],
        indices: [{ name: 'idx_audit_events_tenant_time', columnNames: ['tenant_id', 'occurred_at'] }],
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'audit_chain_anchors',
        columns: [
          idColumn(queryRunner, 'tenant_id'),
          { name: 'seq', type: 'int' },
          exactTextColumn(queryRunner, 'hash', 64),
          timestampColumn(queryRunner, 'occurred_at'),
          timestampColumn(queryRunner, 'pruned_at'),
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('audit_chain_anchors');
    await queryRunner.dropTable('audit_events');
  }
}
