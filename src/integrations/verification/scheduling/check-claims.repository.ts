import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { type EntityManager, IsNull, LessThanOrEqual, Not, type Repository } from 'typeorm';
import { DatabaseService } from '../../../database/database.service';
import { IntegrationEntity } from '../../integration.entity';

/** A claimed integration: what the scheduler needs to decide about it. */
export interface ClaimedIntegration {
  tenantId: string;
  id: string;
  type: string;
  /** The last kept check, if any (a fresh one needs only a new due time). */
  verifiedAt: Date | null;
}

/**
 * The scheduling columns of integrations (issue 15). A claim moves
 * check_due_at to the lease's end (and marks check_lease_until), so:
 * due rows are one range of idx_integrations_check_due (`<= now`, oldest
 * first), claimed rows are not in it, and the claim of an instance that died
 * comes back into it by itself when the lease ends. Two ways to claim:
 *
 * - MySQL 8 / MariaDB ≥ 10.6: SELECT … FOR UPDATE SKIP LOCKED in a
 *   transaction, then one UPDATE of the rows it locked. Instances claiming at
 *   once skip each other's rows instead of waiting on them or deadlocking.
 * - SQLite, and older servers: the same SELECT without a lock, then per row a
 *   conditional UPDATE (`… AND check_due_at <= now`) that only one claimer
 *   can win; the loser's row no longer matches.
 */
@Injectable()
export class CheckClaimsRepository {

  constructor(
    @InjectRepository(IntegrationEntity) private readonly integrations: Repository<IntegrationEntity>,
    private readonly db: DatabaseService,
  ) {}

  /** Claims up to `limit` due integrations until `leaseEnd`. */
  async claim(now: Date, leaseEnd: Date, limit: number): Promise<ClaimedIntegration[]> {
    if (limit <= 0) return [];
    if (await this.db.supportsSkipLocked()) {
      return this.db.transaction(async (tx) => {
        const rows = await this.due(tx, now, limit, true);
        if (rows.length === 0) return [];
        // The rows this transaction locked, by primary key: nobody else can have changed them.
        await tx
          .withRepository(this.integrations)
          .createQueryBuilder()
          .update()
          .set({ checkDueAt: leaseEnd, checkLeaseUntil: leaseEnd })
          .whereInIds(rows.map((row) => ({ tenantId: row.tenantId, id: row.id })))
          .execute();
        return rows;
      });
    }
    const candidates = await this.db.run((manager) => this.due(manager, now, limit, false));
    const claimed: ClaimedIntegration[] = [];
    for (const row of candidates) {
      const result = await this.db.run((manager) =>
        manager
          .withRepository(this.integrations)
          .update(
            { tenantId: row.tenantId, id: row.id, checkDueAt: LessThanOrEqual(now) },
            { checkDueAt: leaseEnd, checkLeaseUntil: leaseEnd },
          ),
      );
      if (result.affected === 1) claimed.push(row);
    }
    return claimed;
  }

  /**
   * Gives a claimed integration back with its next due time (null: checks
   * off for it). Only while still claimed: a write meanwhile made it due
   * (and released it), and that stands.
   */
  async release(tenantId: string, id: string, dueAt: Date | null): Promise<void> {
    await this.db.run((manager) =>
      manager
        .withRepository(this.integrations)
        .update({ tenantId, id, checkLeaseUntil: Not(IsNull()) }, { checkDueAt: dueAt, checkLeaseUntil: null }),
    );
  }

  /**
   * Makes every live integration without a due time due now: those written
   * while checks were off everywhere (set unscheduled by a claim), or before
   * the migration. Run when an instance starts with VERIFY_INTERVAL on; one
   * lookup of the NULL end of the index.
   */
  async scheduleUnscheduled(now: Date): Promise<number> {
    const result = await this.db.run((manager) =>
      manager.withRepository(this.integrations).update({ checkDueAt: IsNull(), deletedAt: IsNull() }, { checkDueAt: now }),
    );
    return result.affected ?? 0;
  }

  private async due(manager: EntityManager, now: Date, limit: number, lock: boolean): Promise<ClaimedIntegration[]> {
    const query = manager
      .withRepository(this.integrations)
      .createQueryBuilder('i')
      .select('i.tenant_id', 'tenantId')
      .addSelect('i.id', 'id')
      .addSelect('i.type', 'type')
      .addSelect('i.verified_at', 'verifiedAt')
      .where('i.check_due_at <= :now', { now })
      .orderBy('i.check_due_at', 'ASC')
      .limit(limit);
    if (lock) query.setLock('pessimistic_write').setOnLocked('skip_locked');
    const rows = await query.getRawMany<{ tenantId: string; id: string; type: string; verifiedAt: Date | string | null }>();
    return rows.map((row) => ({ ...row, verifiedAt: toDate(row.verifiedAt) }));
  }
}

/** SQLite answers datetimes as UTC text without a zone; mysql2 as Dates. */
function toDate(value: Date | string | null): Date | null {
  if (value === null || value instanceof Date) return value;
  return new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(value) ? value : `${value.replace(' ', 'T')}Z`);
}
