import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * A tenant's webhook endpoint (issue 15). The signing secret is an envelope
 * under the tenant's data key (AAD: tenant, webhook, field); the row goes
 * with its tenant (the foreign key cascades).
 */
@Entity({ name: 'webhooks' })
export class WebhookEntity {
  @PrimaryColumn({ name: 'tenant_id', type: 'varchar', length: 64 })
  tenantId!: string;

  @PrimaryColumn({ type: 'varchar', length: 64 })
  id!: string;

  @Column({ type: 'varchar', length: 2048 })
  url!: string;

  /** One bit per subscribed event type (eventMask). */
  @Column({ name: 'events_mask', type: 'int' })
  eventsMask!: number;

  /** The subscribed types as a JSON array, for display. */
  @Column({ type: 'varchar', length: 1024 })
  events!: string;

  @Column({ type: 'varchar', length: 500 })
  description!: string;

  @Column({ type: 'varchar', length: 512 })
  secret!: string;

  /** The secret before the last rotation, still signing until `previousSecretExpiresAt`. */
  @Column({ name: 'previous_secret', type: 'varchar', length: 512, nullable: true })
  previousSecret!: string | null;

  @Column({ name: 'previous_secret_expires_at', type: 'datetime', precision: 3, nullable: true })
  previousSecretExpiresAt!: Date | null;

  @Column({ type: 'boolean' })
  enabled!: boolean;

  @Column({ name: 'disabled_reason', type: 'varchar', length: 500, nullable: true })
  disabledReason!: string | null;

  /** The first failure since the last success; null while it answers. */
  @Column({ name: 'failing_since', type: 'datetime', precision: 3, nullable: true })
  failingSince!: Date | null;

  @Column({ name: 'created_at', type: 'datetime', precision: 3 })
  createdAt!: Date;

  @Column({ name: 'updated_at', type: 'datetime', precision: 3 })
  updatedAt!: Date;
}
