import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** How a check came about, as the history shows it. */
export type VerificationTrigger = 'manual' | 'scheduled' | 'save';

/** One check of an integration's credentials, kept in its history (the newest 10). */
@Entity({ name: 'verification_results' })
export class VerificationResultEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @Column({ name: 'tenant_id', type: 'varchar', length: 64 })
  tenantId!: string;

  @Column({ name: 'integration_id', type: 'varchar', length: 64 })
  integrationId!: string;

  /** The revision whose credentials were checked. */
  @Column({ type: 'int' })
  revision!: number;

  @Column({ type: 'varchar', length: 16 })
  status!: string;

  /** Redacted of secrets by runVerifier. */
  @Column({ type: 'varchar', length: 400 })
  message!: string;

  @Column({ name: 'checked_at', type: 'datetime', precision: 3 })
  checkedAt!: Date;

  @Column({ type: 'varchar', length: 16 })
  trigger!: VerificationTrigger;
}
