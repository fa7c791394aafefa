import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { EntityManager, Repository } from 'typeorm';
import { DatabaseService } from '../../../database/database.service';
import type { VerificationResult } from '../verification-result';
import { VerificationResultEntity, type VerificationTrigger } from './verification-result.entity';

/** How many results each integration keeps (issue 15: "the last 10 results"). */
export const KEPT_RESULTS = 10;

/** A result as the history shows it. */
export interface HistoryEntry extends VerificationResult {
  revision: number;
  trigger: VerificationTrigger;
}

/**
 * The verification_results table. Every statement names its tenant and
 * integration, and runs in the caller's transaction when it passes one: a
 * result enters the history with the result kept on the integration row and
 * its audit event, or not at all.
 */
@Injectable()
export class VerificationHistoryRepository {
  constructor(
    @InjectRepository(VerificationResultEntity) private readonly results: Repository<VerificationResultEntity>,
    private readonly db: DatabaseService,
  ) {}

  /** The integration's newest `limit` results, newest first. */
  async newest(tenantId: string, integrationId: string, limit: number, tx?: EntityManager): Promise<HistoryEntry[]> {
    const rows = await this.db.within(tx, (manager) =>
      manager.withRepository(this.results).find({ where: { tenantId, integrationId }, order: { id: 'DESC' }, take: limit }),
    );
    return rows.map((row) => ({
      status: row.status === 'ok' ? 'ok' : 'failed',
      message: row.message,
      checkedAt: row.checkedAt,
      revision: row.revision,
      trigger: row.trigger,
    }));
  }

  /** Adds a result, then drops what is beyond the newest KEPT_RESULTS (one bounded range of the index). */
  async append(tenantId: string, integrationId: string, entry: HistoryEntry, tx: EntityManager): Promise<void> {
    const repository = tx.withRepository(this.results);
    await repository.insert({
      tenantId,
      integrationId,
      revision: entry.revision,
      status: entry.status,
      message: entry.message,
      checkedAt: entry.checkedAt,
      trigger: entry.trigger,
    });
    // The newest id that falls out; MySQL refuses a DELETE whose subquery reads its own table, so it is read first.
    const cut = await repository
      .createQueryBuilder('r')
      .select('r.id', 'id')
      .where('r.tenant_id = :tenantId AND r.integration_id = :integrationId', { tenantId, integrationId })
      .orderBy('r.id', 'DESC')
      .offset(KEPT_RESULTS)
      .limit(1)
      .getRawOne<{ id: string | number }>();
    if (cut === undefined) return;
    await repository
      .createQueryBuilder()
      .delete()
      .where('tenant_id = :tenantId AND integration_id = :integrationId AND id <= :id', { tenantId, integrationId, id: cut.id })
      .execute();
  }
}
