import { Column, Entity, PrimaryColumn } from 'typeorm';

@Entity({ name: 'tenants' })
export class TenantEntity {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  id!: string;

  @Column({ type: 'varchar', length: 200 })
  name!: string;

  @Column({ name: 'data_key_wrapped', type: 'varchar', length: 255, nullable: true })
  dataKeyWrapped!: string | null;

  @Column({ name: 'master_key_id', type: 'varchar', length: 32, nullable: true })
  masterKeyId!: string | null;

  @Column({ name: 'data_key_version', type: 'int', default: 1 })
  dataKeyVersion!: number;

  @Column({ name: 'data_key_created_at', type: 'datetime', precision: 3, nullable: true })
  dataKeyCreatedAt!: Date | null;

  @Column({ name: 'created_at', type: 'datetime', precision: 3 })
  createdAt!: Date;

  @Column({ name: 'updated_at', type: 'datetime', precision: 3 })
  updatedAt!: Date;

  @Column({ name: 'deleted_at', type: 'datetime', precision: 3, nullable: true })
  deletedAt!: Date | null;
}
