import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { EntityManager, Repository } from 'typeorm';
import { DatabaseService } from '../../database/database.service';
import { EntityInsert } from '../../database/entity-insert';
import type { WriteFence } from '../../tenants/tenants.repository';
import { IntegrationVersionEntity } from './integration-version.entity';

/** Where a walk over a tenant's versions stopped (key order). */
export interface VersionCursor {
  integrationId: string;
  revision: number;
}

/** A version's place and secrets, for key rotation. */
export type VersionSecrets = Pick<IntegrationVersionEntity, 'tenantId' | 'integrationId' | 'revision' | 'secrets'>;

/**
 * The integration_versions table. Versions are inserted inside the
 * transaction of the integration write that made them (the `tx` argument),
 * read by the history routes, re-encrypted by key rotation and deleted by the
 * pruner, each statement bounded by key.
 */
@Injectable()
export class VersionsRepository {
  private readonly inserts: EntityInsert<IntegrationVersionEntity>;

  constructor(
    @InjectRepository(IntegrationVersionEntity) private readonly versions: Repository<IntegrationVersionEntity>,
    private readonly db: DatabaseService,
  ) {
    this.inserts = new EntityInsert(versions, db);
  }

  /** Adds a version; inside the write's transaction when `tx` is given (on every write's path: see EntityInsert). */
  insert(version: IntegrationVersionEntity, tx?: EntityManager): Promise<void> {
    return this.inserts.run([version], tx);
  }

  /** A page of one integration's versions, newest first, and how many there are. */
  page(tenantId: string, integrationId: string, limit: number, offset: number): Promise<[IntegrationVersionEntity[], number]> {
    return this.db.run((manager) =>
      manager
        .withRepository(this.versions)
        .findAndCount({ where: { tenantId, integrationId }, order: { revision: 'DESC' }, take: limit, skip: offset }),
    );
  }

  findOne(tenantId: string, integrationId: string, revision: number): Promise<IntegrationVersionEntity | null> {
    return this.db.run((manager) => manager.withRepository(this.versions).findOneBy({ tenantId, integrationId, revision }));
  }

  // --- key rotation ---

  /** The next versions of a tenant that hold secrets, in key order after `after`. */
  withSecrets(tenantId: string, after: VersionCursor | undefined, limit: number): Promise<VersionSecrets[]> {
    return this.db.run((manager) => {
      const query = manager
        .withRepository(this.versions)
        .createQueryBuilder('v')
        .select(['v.tenantId', 'v.integrationId', 'v.revision', 'v.secrets'])
        .where('v.tenant_id = :tenantId AND v.deleted = :deleted', { tenantId, deleted: false });
      if (after !== undefined) {
        query.andWhere('(v.integration_id > :afterId OR (v.integration_id = :afterId AND v.revision > :afterRevision))', {
          afterId: after.integrationId,
          afterRevision: after.revision,
        });
      }
      return query.orderBy('v.integration_id', 'ASC').addOrderBy('v.revision', 'ASC').limit(limit).getMany();
    });
  }

  /**
   * The same secrets under another data key, if the fence holds (the tenant
   * still has the key version they were encrypted with). Versions never
   * change otherwise, so no other condition is needed: two rotations racing
   * both write the same plaintext under the same key.
   */
  async replaceSecrets(version: VersionSecrets, fence: WriteFence): Promise<boolean> {
    const { tenantId, integrationId, revision, secrets } = version;
    const result = await this.db.run((manager) =>
      manager
        .withRepository(this.versions)
        .createQueryBuilder()
        .update()
        .set({ secrets })
        .where({ tenantId, integrationId, revision })
        .andWhere(fence.condition, fence.parameters)
        .execute(),
    );
    return result.affected === 1;
  }

  /** Versions with content per tenant and type, for keys:status. */
  async countsByTenantAndType(): Promise<{ tenantId: string; type: string; count: number }[]> {
    const rows = await this.db.run((manager) =>
      manager
        .withRepository(this.versions)
        .createQueryBuilder('v')
        .select('v.tenant_id', 'tenantId')
        .addSelect('v.type', 'type')
        .addSelect('COUNT(*)', 'count')
        .where('v.deleted = :deleted', { deleted: false })
        .groupBy('v.tenant_id')
        .addGroupBy('v.type')
        .getRawMany<{ tenantId: string; type: string; count: number | string }>(),
    );
    return rows.map((row) => ({ ...row, count: Number(row.count) }));
  }

  // --- pruning ---

  /**
   * Deletes at most `limit` of the integration's versions at or below
   * `upTo`, oldest first (a bounded range of the primary key). Returns how
   * many it deleted; fewer than `limit` means none is left below `upTo`.
   */
  async deleteOldest(tenantId: string, integrationId: string, upTo: number, limit: number): Promise<number> {
    return this.db.run(async (manager) => {
      const oldest = await manager
        .withRepository(this.versions)
        .createQueryBuilder('v')
        .select('MIN(v.revision)', 'oldest')
        .where('v.tenant_id = :tenantId AND v.integration_id = :integrationId', { tenantId, integrationId })
        .getRawOne<{ oldest: number | string | null }>();
      if (oldest?.oldest === null || oldest?.oldest === undefined || Number(oldest.oldest) > upTo) return 0;
      const from = Number(oldest.oldest);
      const result = await manager
        .withRepository(this.versions)
        .createQueryBuilder()
        .delete()
        .where('tenant_id = :tenantId AND integration_id = :integrationId AND revision >= :from AND revision <= :to', {
          tenantId,
          integrationId,
          from,
          to: Math.min(upTo, from + limit - 1),
        })
        .execute();
      return result.affected ?? 0;
    });
  }
}
