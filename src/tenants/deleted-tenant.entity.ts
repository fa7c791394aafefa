import { Column, Entity, PrimaryColumn } from 'typeorm';

/** What stays of a deleted tenant: its id (never reused) and when it went. No key, no data. */
@Entity({ name: 'deleted_tenants' })
export class DeletedTenantEntity {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  id!: string;

  @Column({ name: 'deleted_at', type: 'datetime', precision: 3 })
  deletedAt!: Date;
}
