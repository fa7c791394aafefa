import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * A tenant's API client (issue 13): a system of the tenant that gets its own
 * tokens from POST /token. Its secret is kept only as a scrypt hash; the row
 * goes with its tenant (the foreign key cascades).
 */
@Entity({ name: 'api_clients' })
export class ApiClientEntity {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  id!: string;

  @Column({ name: 'tenant_id', type: 'varchar', length: 64 })
  tenantId!: string;

  @Column({ type: 'varchar', length: 200 })
  name!: string;

  /** Space-separated scopes its tokens may carry. */
  @Column({ type: 'varchar', length: 500 })
  scope!: string;

  /** `$scrypt$ln=…,r=…,p=…$salt$hash` of the current secret. */
  @Column({ name: 'secret_hash', type: 'varchar', length: 255 })
  secretHash!: string;

  @Column({ name: 'secret_created_at', type: 'datetime', precision: 3 })
  secretCreatedAt!: Date;

  /** The secret before the last rotation, accepted until `previousSecretExpiresAt`. */
  @Column({ name: 'previous_secret_hash', type: 'varchar', length: 255, nullable: true })
  previousSecretHash!: string | null;

  @Column({ name: 'previous_secret_expires_at', type: 'datetime', precision: 3, nullable: true })
  previousSecretExpiresAt!: Date | null;

  /** The `sub` of the token that created it. */
  @Column({ name: 'created_by', type: 'varchar', length: 255 })
  createdBy!: string;

  @Column({ name: 'created_at', type: 'datetime', precision: 3 })
  createdAt!: Date;
}
