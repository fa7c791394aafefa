import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * One event of a chain (migration AuditTrail1797206400000). Written once,
 * never updated; `hash` covers every other column and `prev_hash`
 * (audit-chain.ts), so a changed, removed or reordered row is found by
 * `npm run audit:verify`.
 */
@Entity({ name: 'audit_events' })
export class AuditEventEntity {
  /** The tenant, or PLATFORM_CHAIN for platform-wide actions. */
  @PrimaryColumn({ name: 'tenant_id', type: 'varchar', length: 64 })
  tenantId!: string;

  /** 1, 2, 3 … within the chain, without gaps (pruning removes a prefix). */
  @PrimaryColumn({ type: 'int' })
  seq!: number;

  /** Never earlier than the previous event's, so a chain is in time order too. */
  @Column({ name: 'occurred_at', type: 'datetime', precision: 3 })
  occurredAt!: Date;

  @Column({ name: 'actor_sub', type: 'varchar', length: 255 })
  actorSub!: string;

  @Column({ type: 'varchar', length: 64 })
  action!: string;

  @Column({ type: 'varchar', length: 255 })
  target!: string;

  /** The HTTP status answered (for integration.verify: 200 accepted, 422 refused by the vendor). */
  @Column({ type: 'int' })
  outcome!: number;

  @Column({ name: 'request_id', type: 'varchar', length: 64, nullable: true })
  requestId!: string | null;

  @Column({ name: 'client_address', type: 'varchar', length: 64, nullable: true })
  clientAddress!: string | null;

  @Column({ name: 'user_agent', type: 'varchar', length: 200, nullable: true })
  userAgent!: string | null;

  @Column({ name: 'prev_hash', type: 'varchar', length: 64 })
  prevHash!: string;

  @Column({ type: 'varchar', length: 64 })
  hash!: string;
}
