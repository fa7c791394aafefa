import { Column, Entity, PrimaryColumn } from 'typeorm';

/** A live tenant. Deleting one removes its row (its integrations cascade) and leaves a DeletedTenantEntity. */
@Entity({ name: 'tenants' })
export class TenantEntity {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  id!: string;

  @Column({ type: 'varchar', length: 200 })
  name!: string;

  /** The tenant's data key (version `dataKeyVersion`), wrapped by master key `masterKeyId`. */
  @Column({ name: 'data_key_wrapped', type: 'varchar', length: 255, nullable: true })
  dataKeyWrapped!: string | null;

  @Column({ name: 'master_key_id', type: 'varchar', length: 32, nullable: true })
  masterKeyId!: string | null;

  /** Bumped whenever the data key itself is replaced; every secret names the version it was encrypted with. */
  @Column({ name: 'data_key_version', type: 'int', default: 1 })
  dataKeyVersion!: number;

  @Column({ name: 'data_key_created_at', type: 'datetime', precision: 3, nullable: true })
  dataKeyCreatedAt!: Date | null;

  /** Version `dataKeyVersion - 1`, wrapped by the same master key, kept only while a re-encryption moves secrets off it. */
  @Column({ name: 'previous_data_key_wrapped', type: 'varchar', length: 255, nullable: true })
  previousDataKeyWrapped!: string | null;

  /** Its own interval for scheduled re-verification in seconds (0 = off); NULL follows VERIFY_INTERVAL. */
  @Column({ name: 'verify_interval', type: 'int', nullable: true })
  verifyInterval!: number | null;

  @Column({ name: 'created_at', type: 'datetime', precision: 3 })
  createdAt!: Date;

  @Column({ name: 'updated_at', type: 'datetime', precision: 3 })
  updatedAt!: Date;
}
