import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { type EntityManager, In, IsNull, LessThan, MoreThan, Not, type FindOptionsWhere, type Repository } from 'typeorm';
import { isDuplicateKey } from '../database/database-errors';
import { DatabaseService } from '../database/database.service';
import { DeletedTenantEntity } from './deleted-tenant.entity';
import { TenantEntity } from './tenant.entity';

/** The key columns of a tenant. */
export type TenantKeyState = Pick<
  TenantEntity,
  'id' | 'dataKeyWrapped' | 'previousDataKeyWrapped' | 'dataKeyVersion' | 'masterKeyId' | 'dataKeyCreatedAt'
>;

/** The condition that keeps another module's write from landing after the tenant is gone or its data key replaced. */
export interface WriteFence {
  /** `EXISTS (…)` with TypeORM named parameters. */
  readonly condition: string;
  readonly parameters: Readonly<Record<string, unknown>>;
}

/** Which tenants a key rotation still has to visit. */
export type RotationFilter = { mode: 'rewrap'; masterKeyId: string } | { mode: 'reencrypt'; startedAt: Date };

/**
 * Tenants and their tombstones. Ids are compared byte for byte (the columns
 * are utf8mb4_bin on MySQL), and every method is one operation on
 * DatabaseService, so SQLite's single connection is shared safely, or runs in
 * the transaction its caller passes (`tx`), with the change's audit event.
 */
@Injectable()
export class TenantsRepository {
  constructor(
    @InjectRepository(TenantEntity) private readonly tenants: Repository<TenantEntity>,
    @InjectRepository(DeletedTenantEntity) private readonly tombstones: Repository<DeletedTenantEntity>,
    private readonly db: DatabaseService,
  ) {}

  findById(id: string): Promise<TenantEntity | null> {
    return this.db.run((manager) => manager.withRepository(this.tenants).findOneBy({ id }));
  }

  /** A page of live tenants sorted by id, limited to `ids` when given, and the total. */
  page(ids: string[] | undefined, limit: number, offset: number): Promise<[TenantEntity[], number]> {
    return this.db.run((manager) =>
      manager
        .withRepository(this.tenants)
        .findAndCount({ where: ids === undefined ? {} : { id: In(ids) }, order: { id: 'ASC' }, take: limit, skip: offset }),
    );
  }

  /**
   * Inserts a new tenant in the caller's transaction: 'exists' when a live
   * tenant has the id, 'deleted' when a deleted one had it (ids are never
   * reused). Anything but 'created' leaves a row the caller must roll back.
   */
  insert(tenant: TenantEntity, tx: EntityManager): Promise<'created' | 'exists' | 'deleted'> {
    return this.db.within(tx, async (manager) => {
      try {
        await manager.insert(TenantEntity, tenant);
      } catch (error) {
        if (isDuplicateKey(error)) return 'exists';
        throw error;
      }
      // After the insert, so a delete of the same id committing meanwhile is seen (READ COMMITTED).
      return (await manager.existsBy(DeletedTenantEntity, { id: tenant.id })) ? 'deleted' : 'created';
    });
  }

  async isTombstoned(id: string): Promise<boolean> {
    return this.db.run((manager) => manager.withRepository(this.tombstones).existsBy({ id }));
  }

  /** Changes a live tenant's name and/or verify-interval; false when there is none. */
  async update(id: string, change: { name?: string; verifyInterval?: number | null }, updatedAt: Date, tx?: EntityManager): Promise<boolean> {
    const result = await this.db.within(tx, (manager) => manager.withRepository(this.tenants).update({ id }, { ...change, updatedAt }));
    return result.affected === 1;
  }

  /** The tenant's settings as its transaction sees them (a locking read on MySQL, so two PATCHes of one tenant queue). */
  settingsOf(id: string, tx: EntityManager): Promise<Pick<TenantEntity, 'verifyInterval'> | null> {
    return this.db.within(tx, (manager) => {
      const query = manager.withRepository(this.tenants).createQueryBuilder('t').select(['t.id', 't.verifyInterval']).where('t.id = :id', { id });
      // SQLite has one writer: its transactions queue already.
      if (this.db.engine === 'mysql') query.setLock('pessimistic_write');
      return query.getOne();
    });
  }

  /**
   * Makes every live integration of the tenant due at `at`, after its
   * verify-interval changed: the scheduler then applies the new interval to
   * each. Here rather than in the integrations module because it must
   * commit with the setting, and the integrations module depends on this
   * one, not the reverse; one statement on the primary key's tenant prefix.
   */
  async rescheduleChecks(id: string, at: Date, tx: EntityManager): Promise<void> {
    const { driver } = this.db.dataSource;
    // Named parameters through the driver, so the date is written the way each engine stores them.
    const [sql, parameters] = driver.escapeQueryWithParameters(
      `UPDATE ${driver.escape('integrations')} SET check_due_at = :at, check_lease_until = NULL WHERE tenant_id = :id AND deleted_at IS NULL`,
      { at, id },
      {},
    );
    await this.db.within(tx, (manager) => manager.query(sql, parameters));
  }

  /** The verify-interval of each of these live tenants (absent: deleted). */
  async verifyIntervals(ids: string[]): Promise<Map<string, number | null>> {
    if (ids.length === 0) return new Map();
    const rows = await this.db.run((manager) =>
      manager.withRepository(this.tenants).find({ select: { id: true, verifyInterval: true }, where: { id: In(ids) } }),
    );
    return new Map(rows.map((row) => [row.id, row.verifyInterval]));
  }

  /** Whether a live tenant has scheduled checks on by its own setting (a lookup on idx_tenants_verify_interval). */
  async anyWithVerifyInterval(): Promise<boolean> {
    return this.db.run((manager) => manager.withRepository(this.tenants).exists({ where: { verifyInterval: MoreThan(0) } }));
  }

  /**
   * Deletes a tenant's row, which takes its data key and (by the foreign keys'
   * cascade) everything it owns, and leaves a tombstone, in the caller's
   * transaction. False when there was no live tenant.
   */
  delete(id: string, deletedAt: Date, tx: EntityManager): Promise<boolean> {
    return this.db.within(tx, async (manager) => {
      const { affected } = await manager.delete(TenantEntity, { id });
      if (affected !== 1) return false;
      await manager.insert(DeletedTenantEntity, { id, deletedAt });
      return true;
    });
  }

  // --- data keys ---

  /** `tx`: the caller's transaction, when it asks from inside one. */
  keyState(id: string, tx?: EntityManager): Promise<TenantKeyState | null> {
    return this.db.within(tx, (manager) =>
      manager.withRepository(this.tenants).findOne({
        where: { id },
        select: {
          id: true,
          dataKeyWrapped: true,
          previousDataKeyWrapped: true,
          dataKeyVersion: true,
          masterKeyId: true,
          dataKeyCreatedAt: true,
        },
      }),
    );
  }

  /** Changes a tenant's key columns if they are still what `expected` says (another rotation may have run). */
  async updateKeys(
    expected: Pick<TenantKeyState, 'id' | 'dataKeyVersion' | 'masterKeyId'>,
    change: Partial<TenantKeyState>,
    tx?: EntityManager,
  ): Promise<boolean> {
    const where: FindOptionsWhere<TenantEntity> = {
      id: expected.id,
      dataKeyVersion: expected.dataKeyVersion,
      masterKeyId: expected.masterKeyId ?? IsNull(),
    };
    const result = await this.db.within(tx, (manager) => manager.withRepository(this.tenants).update(where, change));
    return result.affected === 1;
  }

  /**
   * See WriteFence: the tenant row still exists with this data key version. In
   * a statement of its own, InnoDB reads it with a shared lock, so the write
   * waits for a key replacement or a delete in progress and then sees its result.
   */
  writeFence(tenantId: string, keyVersion: number): WriteFence {
    const table = this.db.dataSource.driver.escape(this.tenants.metadata.tableName);
    return {
      condition: `EXISTS (SELECT 1 FROM ${table} WHERE id = :fenceTenantId AND data_key_version = :fenceKeyVersion)`,
      parameters: { fenceTenantId: tenantId, fenceKeyVersion: keyVersion },
    };
  }

  async countByMasterKey(): Promise<{ masterKeyId: string; tenants: number }[]> {
    const rows = await this.db.run((manager) =>
      manager
        .withRepository(this.tenants)
        .createQueryBuilder('t')
        .select('t.master_key_id', 'masterKeyId')
        .addSelect('COUNT(*)', 'tenants')
        .where('t.data_key_wrapped IS NOT NULL')
        .groupBy('t.master_key_id')
        .getRawMany<{ masterKeyId: string; tenants: number | string }>(),
    );
    return rows.map((row) => ({ masterKeyId: row.masterKeyId, tenants: Number(row.tenants) }));
  }

  /** Master key id of every live tenant, for reports that count by master key. */
  async masterKeyOfEach(): Promise<Map<string, string>> {
    const rows = await this.db.run((manager) => manager.withRepository(this.tenants).find({ select: { id: true, masterKeyId: true } }));
    return new Map(rows.filter((row) => row.masterKeyId !== null).map((row) => [row.id, row.masterKeyId!]));
  }

  countForRotation(filter: RotationFilter): Promise<number> {
    return this.db.run((manager) => manager.withRepository(this.tenants).countBy(rotationWhere(filter)));
  }

  /** The next ids a rotation must visit, in id order after `after`. */
  async idsForRotation(filter: RotationFilter, after: string, limit: number): Promise<string[]> {
    const where = rotationWhere(filter).map((condition) => ({ ...condition, id: MoreThan(after) }));
    const rows = await this.db.run((manager) =>
      manager.withRepository(this.tenants).find({ select: { id: true }, where, order: { id: 'ASC' }, take: limit }),
    );
    return rows.map((row) => row.id);
  }
}

function rotationWhere(filter: RotationFilter): FindOptionsWhere<TenantEntity>[] {
  if (filter.mode === 'rewrap') return [{ dataKeyWrapped: Not(IsNull()), masterKeyId: Not(filter.masterKeyId) }];
  // A key made before the run started, or a replacement that a stopped run left half done.
  return [
    { dataKeyWrapped: Not(IsNull()), dataKeyCreatedAt: IsNull() },
    { dataKeyWrapped: Not(IsNull()), dataKeyCreatedAt: LessThan(filter.startedAt) },
    { dataKeyWrapped: Not(IsNull()), previousDataKeyWrapped: Not(IsNull()) },
  ];
}
