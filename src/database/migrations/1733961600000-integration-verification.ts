import { type MigrationInterface, type QueryRunner, TableColumn } from 'typeorm';
import { timestampColumn } from './column-types';

/**
 * The last credential check of each integration (issue 6), as columns of its own
 * row: the result goes with the row (integration or tenant deleted → result gone),
 * and a write of new credentials clears it in the same UPDATE. All NULL = never
 * verified.
 */
export class IntegrationVerification1733961600000 implements MigrationInterface {
  name = 'IntegrationVerification1733961600000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.addColumns('integrations', [
      // 'ok' | 'failed'
      new TableColumn({ name: 'verify_status', type: 'varchar', length: '16', isNullable: true }),
      // Already redacted and cut to 300 characters by runVerifier.
      new TableColumn({ name: 'verify_message', type: 'varchar', length: '400', isNullable: true }),
      new TableColumn(timestampColumn(queryRunner, 'verified_at', true)),
    ]);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropColumns('integrations', ['verified_at', 'verify_message', 'verify_status']);
  }
}
