import { Column, Entity, PrimaryColumn } from 'typeorm';

/** The write that made a version. `verify`: a verification taught a field (Salesforce `instance`), a new revision. */
export const VERSION_ACTIONS = ['create', 'replace', 'patch', 'delete', 'restore', 'verify'] as const;
export type VersionAction = (typeof VERSION_ACTIONS)[number];

/**
 * One kept version of an integration: its state after the write that made
 * revision `revision`, with who made it and through which request. Written in
 * the same transaction as the integration's row, never changed afterwards
 * except by key rotation (the same secrets under another data key).
 */
@Entity({ name: 'integration_versions' })
export class IntegrationVersionEntity {
  @PrimaryColumn({ name: 'tenant_id', type: 'varchar', length: 64 })
  tenantId!: string;

  @PrimaryColumn({ name: 'integration_id', type: 'varchar', length: 64 })
  integrationId!: string;

  @PrimaryColumn({ type: 'int' })
  revision!: number;

  @Column({ type: 'varchar', length: 32 })
  type!: string;

  /** Non-secret vendor fields, JSON; '{}' for a delete. */
  @Column({ type: 'text' })
  config!: string;

  /** Secret vendor fields, JSON of field → enc:v1 envelope bound to this revision; '{}' for a delete. */
  @Column({ type: 'text' })
  secrets!: string;

  @Column({ type: 'varchar', length: 16 })
  action!: VersionAction;

  /** The state after a delete: nothing to show or restore. */
  @Column({ type: 'boolean' })
  deleted!: boolean;

  /** For a restore: the revision it brought back. */
  @Column({ name: 'restored_from', type: 'int', nullable: true })
  restoredFrom!: number | null;

  /** The token's `sub` of whoever wrote it (cut to 255 characters). */
  @Column({ name: 'actor_sub', type: 'varchar', length: 255 })
  actorSub!: string;

  @Column({ name: 'request_id', type: 'varchar', length: 64, nullable: true })
  requestId!: string | null;

  @Column({ name: 'created_at', type: 'datetime', precision: 3 })
  createdAt!: Date;
}
