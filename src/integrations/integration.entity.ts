import { Column, Entity, PrimaryColumn } from 'typeorm';

@Entity({ name: 'integrations' })
export class IntegrationEntity {
  @PrimaryColumn({ name: 'tenant_id', type: 'varchar', length: 64 })
  tenantId!: string;

  @PrimaryColumn({ type: 'varchar', length: 64 })
  id!: string;

  @Column({ type: 'varchar', length: 32 })
  type!: string;

  /** Non-secret vendor fields, JSON. */
  @Column({ type: 'text' })
  config!: string;

  /** Secret vendor fields, JSON of field → enc:v1 envelope. */
  @Column({ type: 'text' })
  secrets!: string;

  @Column({ type: 'int', default: 1 })
  revision!: number;

  @Column({ name: 'created_at', type: 'datetime', precision: 3 })
  createdAt!: Date;

  @Column({ name: 'updated_at', type: 'datetime', precision: 3 })
  updatedAt!: Date;

  /** The last credential check ('ok' | 'failed'); NULL when never verified, or since the credentials last changed. */
  @Column({ name: 'verify_status', type: 'varchar', length: 16, nullable: true })
  verifyStatus?: string | null;

  /** Its message, redacted of secrets. */
  @Column({ name: 'verify_message', type: 'varchar', length: 400, nullable: true })
  verifyMessage?: string | null;

  @Column({ name: 'verified_at', type: 'datetime', precision: 3, nullable: true })
  verifiedAt?: Date | null;

  /**
   * When the scheduler should next look at it (issue 15): set by every write
   * (new credentials are unverified), by every kept check (the next due
   * time), and to the lease's end by a claim. NULL when checks are off for it.
   */
  @Column({ name: 'check_due_at', type: 'datetime', precision: 3, nullable: true })
  checkDueAt?: Date | null;

  /** Set while an instance holds the claim to check it; cleared by the check's result. */
  @Column({ name: 'check_lease_until', type: 'datetime', precision: 3, nullable: true })
  checkLeaseUntil?: Date | null;

  /** Set when the integration was deleted: the row stays as a tombstone (no content) so revisions go on; reads treat it as absent. */
  @Column({ name: 'deleted_at', type: 'datetime', precision: 3, nullable: true })
  deletedAt?: Date | null;
}
