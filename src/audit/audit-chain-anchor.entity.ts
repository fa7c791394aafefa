import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * The last event the retention prune removed from a chain: the first event
 * kept links to its hash, so a pruned prefix is told apart from tampering.
 */
@Entity({ name: 'audit_chain_anchors' })
export class AuditChainAnchorEntity {
  @PrimaryColumn({ name: 'tenant_id', type: 'varchar', length: 64 })
  tenantId!: string;

  @Column({ type: 'int' })
  seq!: number;

  @Column({ type: 'varchar', length: 64 })
  hash!: string;

  /** When that event happened: the chain's times never go back, across a prune too. */
  @Column({ name: 'occurred_at', type: 'datetime', precision: 3 })
  occurredAt!: Date;

  @Column({ name: 'pruned_at', type: 'datetime', precision: 3 })
  prunedAt!: Date;
}
