import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Between, type EntityManager, LessThan, MoreThan, MoreThanOrEqual, type FindOptionsWhere, type Repository } from 'typeorm';
import { DatabaseService } from '../database/database.service';
import { EntityInsert } from '../database/entity-insert';
import { AuditChainAnchorEntity } from './audit-chain-anchor.entity';
import { AuditEventEntity } from './audit-event.entity';
import type { ChainHead } from './chain-lanes';

/** Which events of a chain a read wants. */
export interface EventFilter {
  /** Only events after this seq (a cursor) … */
  afterSeq: number;
  /** … up to this one (the chain's head when the read began: pages end). */
  upToSeq: number;
  since?: Date;
  action?: string;
}

/** The first event of a chain, for the retention prune. */
export interface ChainStart {
  tenantId: string;
  seq: number;
  occurredAt: Date;
}

/**
 * The audit tables. Appends and prunes run in the caller's transaction when
 * given one (`tx`), reads as operations of their own; everything through
 * DatabaseService, so SQLite's one connection is shared safely. No locking
 * reads anywhere: InnoDB would take gap locks for rows that do not exist (a
 * chain's next seq), and inserts of neighbouring chains would deadlock.
 */
@Injectable()
export class AuditRepository {
  private readonly inserts: EntityInsert<AuditEventEntity>;

  constructor(
    @InjectRepository(AuditEventEntity) private readonly events: Repository<AuditEventEntity>,
    @InjectRepository(AuditChainAnchorEntity) private readonly anchors: Repository<AuditChainAnchorEntity>,
    private readonly db: DatabaseService,
  ) {
    this.inserts = new EntityInsert(events, db);
  }

  /** The chain's newest event, or its anchor when a prune removed every event; null for a chain never written. One round trip. */
  async head(chain: string, tx?: EntityManager): Promise<ChainHead | null> {
    const rows = await this.db.within(tx, (manager) =>
      manager.query<{ seq: number | string; hash: string; at: Date | string }[]>(
        `SELECT seq, hash, occurred_at AS at FROM (SELECT seq, hash, occurred_at FROM ${this.eventsTable} WHERE tenant_id = ? ORDER BY seq DESC LIMIT 1) newest
         UNION ALL SELECT seq, hash, occurred_at FROM ${this.anchorsTable} WHERE tenant_id = ?`,
        [chain, chain],
      ),
    );
    let head: ChainHead | null = null;
    for (const row of rows) {
      const seq = Number(row.seq);
      if (head === null || seq > head.seq) head = { seq, hash: row.hash, occurredAt: dateOf(row.at) };
    }
    return head;
  }

  /** Appends events (one chain, consecutive seqs) in one statement. A taken seq fails with a duplicate key. */
  insert(rows: AuditEventEntity[], tx?: EntityManager): Promise<void> {
    return this.inserts.run(rows, tx);
  }

  /** Whether the chain has ever been written (events, or an anchor left by a prune). */
  async chainExists(chain: string): Promise<boolean> {
    return (await this.head(chain)) !== null;
  }

  /** Events of a chain in seq order, filtered; at most `limit`. */
  find(chain: string, filter: EventFilter, limit: number): Promise<AuditEventEntity[]> {
    const where: FindOptionsWhere<AuditEventEntity> = { tenantId: chain, seq: Between(filter.afterSeq + 1, filter.upToSeq) };
    if (filter.since !== undefined) where.occurredAt = MoreThanOrEqual(filter.since);
    if (filter.action !== undefined) where.action = filter.action;
    return this.db.run((manager) => manager.withRepository(this.events).find({ where, order: { seq: 'ASC' }, take: limit }));
  }

  /** The next events of a chain after `afterSeq`, in seq order, unfiltered (the verifier's walk). */
  after(chain: string, afterSeq: number, limit: number): Promise<AuditEventEntity[]> {
    return this.db.run((manager) =>
      manager.withRepository(this.events).find({ where: { tenantId: chain, seq: MoreThan(afterSeq) }, order: { seq: 'ASC' }, take: limit }),
    );
  }

  anchor(chain: string): Promise<AuditChainAnchorEntity | null> {
    return this.db.run((manager) => manager.withRepository(this.anchors).findOneBy({ tenantId: chain }));
  }

  /** Chains with events, in id order after `after`. */
  async chains(after: string, limit: number): Promise<string[]> {
    const rows = await this.db.query<{ tenant_id: string }>(
      `SELECT tenant_id FROM ${this.eventsTable} WHERE tenant_id > ? GROUP BY tenant_id ORDER BY tenant_id LIMIT ?`,
      [after, limit],
    );
    return rows.map((row) => row.tenant_id);
  }

  async countChains(): Promise<number> {
    const [row] = await this.db.query<{ n: number | string }>(`SELECT COUNT(DISTINCT tenant_id) AS n FROM ${this.eventsTable}`);
    return Number(row?.n ?? 0);
  }

  /** The first event of each chain after `after` (in id order): with times that never go back in a chain, the oldest. */
  async starts(after: string, limit: number): Promise<ChainStart[]> {
    const rows = await this.db.query<{ tenant_id: string; seq: number | string; occurred_at: Date | string }>(
      `SELECT e.tenant_id, e.seq, e.occurred_at FROM ${this.eventsTable} e
       JOIN (SELECT tenant_id, MIN(seq) AS first FROM ${this.eventsTable} WHERE tenant_id > ? GROUP BY tenant_id ORDER BY tenant_id LIMIT ?) f
         ON f.tenant_id = e.tenant_id AND f.first = e.seq
       ORDER BY e.tenant_id`,
      [after, limit],
    );
    return rows.map((row) => ({ tenantId: row.tenant_id, seq: Number(row.seq), occurredAt: dateOf(row.occurred_at) }));
  }

  /**
   * How far a prune may go in one batch: of the chain's first `limit` events
   * from seq `from` on that are older than `cutoff` (a prefix, times never
   * going back in a chain), the last one; null when there is none.
   */
  async lastBefore(chain: string, from: number, cutoff: Date, limit: number, tx: EntityManager): Promise<AuditEventEntity | null> {
    const rows = await this.db.within(tx, (manager) =>
      manager.withRepository(this.events).find({
        where: { tenantId: chain, seq: MoreThanOrEqual(from), occurredAt: LessThan(cutoff) },
        order: { seq: 'ASC' },
        take: limit,
      }),
    );
    return rows.at(-1) ?? null;
  }

  /**
   * Removes a chain's events up to `last` and records `last` as its anchor,
   * in the caller's transaction. The anchor only moves forward: of two prunes
   * at once, the later delete waits for the earlier one's rows and finds them
   * gone. Returns how many events went.
   */
  async pruneThrough(last: AuditEventEntity, prunedAt: Date, tx: EntityManager): Promise<number> {
    return this.db.within(tx, async (manager) => {
      const { affected } = await manager.delete(AuditEventEntity, { tenantId: last.tenantId, seq: Between(0, last.seq) });
      const anchor = { seq: last.seq, hash: last.hash, occurredAt: last.occurredAt, prunedAt };
      const moved = await manager.update(AuditChainAnchorEntity, { tenantId: last.tenantId, seq: LessThan(last.seq) }, anchor);
      if (moved.affected === 0 && !(await manager.existsBy(AuditChainAnchorEntity, { tenantId: last.tenantId }))) {
        await manager.insert(AuditChainAnchorEntity, { tenantId: last.tenantId, ...anchor });
      }
      return affected ?? 0;
    });
  }

  private get eventsTable(): string {
    return this.db.dataSource.driver.escape(this.events.metadata.tableName);
  }

  private get anchorsTable(): string {
    return this.db.dataSource.driver.escape(this.anchors.metadata.tableName);
  }
}

/** A datetime(3) as mysql2 returns it (a Date, the connection being UTC) or as SQLite stores it (UTC text). */
function dateOf(value: Date | string): Date {
  if (value instanceof Date) return value;
  return new Date(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?$/.test(value) ? `${value.replace(' ', 'T')}Z` : value);
}
