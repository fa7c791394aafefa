import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

/**
 * A deleted API client whose tokens may still be alive: every instance reads
 * new rows (by `seq`) into its in-memory revocation set. A row is useless once
 * `expiresAt` has passed, since every token of the client has expired by then.
 */
@Entity({ name: 'api_client_revocations' })
export class ClientRevocationEntity {
  @PrimaryGeneratedColumn({ type: 'integer' })
  seq!: number;

  @Column({ name: 'client_id', type: 'varchar', length: 64 })
  clientId!: string;

  @Column({ name: 'tenant_id', type: 'varchar', length: 64 })
  tenantId!: string;

  @Column({ name: 'revoked_at', type: 'datetime', precision: 3 })
  revokedAt!: Date;

  @Column({ name: 'expires_at', type: 'datetime', precision: 3 })
  expiresAt!: Date;
}
