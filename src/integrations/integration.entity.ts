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
}
