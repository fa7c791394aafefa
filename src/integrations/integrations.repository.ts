import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { IsNull, type EntityManager, type QueryResult, type Repository } from 'typeorm';
import { isDuplicateKey, isForeignKeyViolation } from '../database/database-errors';
import { DatabaseService } from '../database/database.service';
import type { WriteFence } from '../tenants/tenants.repository';
import type { SqlExpression } from '../webhooks/webhook-events';
import { IntegrationEntity } from './integration.entity';

/** An integration as the reads need it (JSON columns still as text). */
export type StoredIntegration = Pick<IntegrationEntity, 'tenantId' | 'id' | 'type' | 'config' | 'secrets' | 'revision'>;
const STORED_PROPERTIES: readonly (keyof StoredIntegration)[] = ['tenantId', 'id', 'type', 'config', 'secrets', 'revision'];

/** IntegrationsRepository's hot statements (see `statements`). */
interface HotStatements {
  findOne: string;
  /** findCurrent's statement around the optional webhooks probe: `select`, probe, `from`, optional FOR UPDATE. */
  current: { select: string; from: string };
  page: string;
  count: string;
  /** The primary key's and the revision's column names, escaped: an UPDATE's condition. */
  key: { tenantIdColumn: string; idColumn: string; revisionColumn: string };
}

/**
 * The row a write starts from: the integration, or its tombstone (`deleted`)
 * when it was deleted; `subscribed`, when the read asked (see findCurrent),
 * whether the tenant had an enabled webhook.
 */
export type CurrentIntegration = StoredIntegration & { deleted: boolean; subscribed?: boolean };

/** How findCurrent reads: `locking`, inside the write's transaction; `subscribers`, a probe of the tenant's webhooks read with the row. */
export interface CurrentReadOptions {
  locking?: { tx: EntityManager; lock: true };
  subscribers?: SqlExpression;
}

/** The last credential check kept on the row. */
export type StoredVerification = Pick<IntegrationEntity, 'verifyStatus' | 'verifyMessage' | 'verifiedAt' | 'revision' | 'checkDueAt'>;

/**
 * The integrations table. Writes are single conditional statements, never a
 * locking read: an update lands only on the revision its caller read, an
 * insert only where no row is, and both only while the tenant's data key is
 * the one the secrets were encrypted with (the tenants module's WriteFence).
 * InnoDB then takes record locks on existing rows only, so writes to
 * different tenants never wait on each other, and a lost race is an answer
 * ("changed meanwhile") rather than a deadlock.
 *
 * A deleted integration stays as a tombstone (deleted_at set, no content) so
 * that its revisions, and so its version numbers, go on after a re-create.
 * Every read here but `findCurrent` sees live rows only. Write methods take
 * the caller's transaction (`tx`): the row and its version commit together.
 */
@Injectable()
export class IntegrationsRepository {
  constructor(
    @InjectRepository(IntegrationEntity) private readonly integrations: Repository<IntegrationEntity>,
    private readonly db: DatabaseService,
  ) {}

  /** The hot paths' SQL, once built (see `statements`). */
  private hot: HotStatements | undefined;

  /** The live integration, or null (none, or deleted). */
  findOne(tenantId: string, id: string): Promise<StoredIntegration | null> {
    return this.db.run(async (manager) => {
      const [row] = await manager.query<StoredIntegration[]>(this.statements().findOne, [tenantId, id]);
      return row ?? null;
    });
  }

  /**
   * The row a write starts from: live, a tombstone, or null when there never
   * was one (or it was pruned). `locking`: read inside the write's transaction
   * with a locking read (FOR UPDATE), held until it ends. `subscribers`: an
   * expression of `i.tenant_id` (the webhooks' probe) read in the same
   * statement, answered as `subscribed`.
   */
  async findCurrent(tenantId: string, id: string, options: CurrentReadOptions = {}): Promise<CurrentIntegration | null> {
    const { locking, subscribers } = options;
    const { driver } = this.db.dataSource;
    const { select, from } = this.statements().current;
    // The probe's SQL comes before the key in the statement, so its parameters do too (named ones, made positional by the driver).
    const probe = subscribers === undefined ? '' : `, ${subscribers.sql} AS ${driver.escape('subscribed')}`;
    const [sql, parameters] = driver.escapeQueryWithParameters(
      `${select}${probe}${from}${locking === undefined ? '' : ' FOR UPDATE'}`,
      { ...subscribers?.parameters, currentTenantId: tenantId, currentId: id },
      {},
    );
    const [row] = await this.db.within(locking?.tx, (manager) =>
      manager.query<(StoredIntegration & { deleted: number | string; subscribed?: number | string })[]>(sql, parameters),
    );
    if (row === undefined) return null;
    const { subscribed, ...stored } = row;
    const current: CurrentIntegration = { ...stored, revision: Number(row.revision), deleted: Number(row.deleted) === 1 };
    if (subscribers !== undefined) current.subscribed = Number(subscribed) === 1;
    return current;
  }

  /** A page sorted by id, and the tenant's total. */
  page(tenantId: string, limit: number, offset: number): Promise<[StoredIntegration[], number]> {
    // Two statements side by side (on MySQL they take two pooled connections), and COUNT(*) rather than
    // getCount()'s COUNT(DISTINCT …) over the composite key.
    const { page, count } = this.statements();
    return Promise.all([
      this.db.run((manager) => manager.query<StoredIntegration[]>(page, [tenantId, limit, offset])),
      this.db.run(async (manager) => {
        const [row] = await manager.query<{ total: number | string }[]>(count, [tenantId]);
        return Number(row?.total ?? 0);
      }),
    ]);
  }

  /** Every integration of a tenant (key rotation walks them). */
  allOf(tenantId: string): Promise<StoredIntegration[]> {
    return this.db.run((manager) =>
      this.selectStored(manager)
        .where('i.tenant_id = :tenantId AND i.deleted_at IS NULL', { tenantId })
        .orderBy('i.id', 'ASC')
        .getRawMany<StoredIntegration>(),
    );
  }

  findVerification(tenantId: string, id: string): Promise<StoredVerification | null> {
    return this.db.run((manager) =>
      manager.withRepository(this.integrations).findOne({
        select: { verifyStatus: true, verifyMessage: true, verifiedAt: true, revision: true, checkDueAt: true },
        where: { tenantId, id, deletedAt: IsNull() },
      }),
    );
  }

  /**
   * Inserts a new row if none has its id and the fence holds: 'exists' when
   * the id is taken (created meanwhile), 'fenced' when the tenant is gone or
   * its data key changed. (Where the fence is read without a lock, at READ
   * COMMITTED, a tenant deleted meanwhile shows as its foreign key instead.)
   */
  async insert(row: IntegrationEntity, fence: WriteFence, tx?: EntityManager): Promise<'inserted' | 'exists' | 'fenced'> {
    try {
      const result = await this.execute(this.fencedInsert(row, fence), tx);
      return result.affected === 1 ? 'inserted' : 'fenced';
    } catch (error) {
      if (isDuplicateKey(error)) return 'exists';
      if (isForeignKeyViolation(error)) return 'fenced';
      throw error;
    }
  }

  /**
   * INSERT … SELECT guarded by the fence: the one statement QueryBuilder
   * cannot say, so it is written here, with names and values from the
   * entity's metadata and the driver's own parameter handling.
   */
  private fencedInsert(row: IntegrationEntity, fence: WriteFence): [string, unknown[]] {
    const { driver } = this.db.dataSource;
    const columns = this.integrations.metadata.columns;
    const values: Record<string, unknown> = {};
    for (const column of columns) values[`v_${column.propertyName}`] = driver.preparePersistentValue(column.getEntityValue(row), column);
    return driver.escapeQueryWithParameters(
      `INSERT INTO ${driver.escape(this.integrations.metadata.tableName)} (${columns.map((c) => driver.escape(c.databaseName)).join(', ')})
       SELECT ${columns.map((c) => `:v_${c.propertyName}`).join(', ')} FROM (SELECT 1 AS one) fence_row WHERE ${fence.condition}`,
      { ...values, ...fence.parameters },
      {},
    );
  }

  /** A statement through TypeORM's query runner, with its structured result (affected rows, raw answer, rows). */
  private execute([sql, parameters]: [string, unknown[]], tx?: EntityManager): Promise<QueryResult> {
    return this.db.within(tx, (manager) => manager.queryRunner!.query(sql, parameters, true));
  }

  /**
   * Replaces the row's content if it still has `revision` and the fence holds.
   * `recreate`: the row is a tombstone coming back (a create over a deleted
   * integration): it gets the new creation time too.
   */
  async update(row: IntegrationEntity, revision: number, fence: WriteFence, tx?: EntityManager, recreate = false): Promise<boolean> {
    const { tenantId, id, createdAt, ...rest } = row;
    const change: Partial<IntegrationEntity> = recreate ? { ...rest, createdAt } : rest;
    const { driver } = this.db.dataSource;
    // Like QueryBuilder's set(): a property left undefined is not written.
    const columns = this.integrations.metadata.columns.filter((column) => column.getEntityValue(change) !== undefined && !column.isPrimary);
    const values: Record<string, unknown> = { keyTenantId: tenantId, keyId: id, keyRevision: revision, ...fence.parameters };
    for (const column of columns) values[`v_${column.propertyName}`] = driver.preparePersistentValue(column.getEntityValue(change), column);
    const set = columns.map((column) => `${driver.escape(column.databaseName)} = :v_${column.propertyName}`).join(', ');
    const { tenantIdColumn, idColumn, revisionColumn } = this.statements().key;
    const statement = driver.escapeQueryWithParameters(
      `UPDATE ${driver.escape(this.integrations.metadata.tableName)} SET ${set} ` +
        `WHERE ${tenantIdColumn} = :keyTenantId AND ${idColumn} = :keyId AND ${revisionColumn} = :keyRevision AND ${fence.condition}`,
      values,
      {},
    );
    return (await this.execute(statement, tx)).affected === 1;
  }

  /**
   * Re-encryption (key rotation): the same secrets under another data key, if
   * the row still has `revision` and the fence holds. The revision stays: the
   * integration did not change, only how its secrets are stored.
   */
  async replaceSecrets(tenantId: string, id: string, revision: number, secrets: string, fence: WriteFence): Promise<boolean> {
    const result = await this.db.run((manager) =>
      manager
        .withRepository(this.integrations)
        .createQueryBuilder()
        .update()
        .set({ secrets })
        .where({ tenantId, id, revision })
        .andWhere(fence.condition, fence.parameters)
        .execute(),
    );
    return result.affected === 1;
  }

  /** Changes columns that hold no secret and make no new revision (a verification result) if the row still has `revision`. */
  async updatePlain(
    tenantId: string,
    id: string,
    revision: number,
    change: Partial<Pick<IntegrationEntity, 'verifyStatus' | 'verifyMessage' | 'verifiedAt' | 'checkDueAt' | 'checkLeaseUntil'>>,
    tx?: EntityManager,
  ): Promise<boolean> {
    const result = await this.db.within(tx, (manager) =>
      manager.withRepository(this.integrations).update({ tenantId, id, revision }, change),
    );
    return result.affected === 1;
  }

  /**
   * Deletes the integration at `revision`, leaving its tombstone at
   * `revision + 1`: no content, no verification, `deleted_at` set. No fence:
   * nothing is encrypted, and a row whose tenant is gone is gone too.
   */
  async tombstone(tenantId: string, id: string, revision: number, deletedAt: Date, tx?: EntityManager): Promise<boolean> {
    const result = await this.db.within(tx, (manager) =>
      manager.withRepository(this.integrations).update(
        { tenantId, id, revision, deletedAt: IsNull() },
        {
          config: '{}',
          secrets: '{}',
          revision: revision + 1,
          updatedAt: deletedAt,
          deletedAt,
          verifyStatus: null,
          verifyMessage: null,
          verifiedAt: null,
          // A tombstone has no credentials to check.
          checkDueAt: null,
          checkLeaseUntil: null,
        },
      ),
    );
    return result.affected === 1;
  }

  /**
   * Integrations and tombstones after `after` in key order, with their
   * revision: the pruner's walk, one bounded range of the primary key per call.
   */
  async revisionsAfter(
    after: { tenantId: string; id: string } | undefined,
    limit: number,
  ): Promise<{ tenantId: string; id: string; revision: number }[]> {
    const rows = await this.db.run((manager) => {
      const query = manager
        .withRepository(this.integrations)
        .createQueryBuilder('i')
        .select('i.tenant_id', 'tenantId')
        .addSelect('i.id', 'id')
        .addSelect('i.revision', 'revision');
      if (after !== undefined) {
        query.where('(i.tenant_id > :afterTenant OR (i.tenant_id = :afterTenant AND i.id > :afterId))', {
          afterTenant: after.tenantId,
          afterId: after.id,
        });
      }
      return query
        .orderBy('i.tenant_id', 'ASC')
        .addOrderBy('i.id', 'ASC')
        .limit(limit)
        .getRawMany<{ tenantId: string; id: string; revision: number | string }>();
    });
    return rows.map((row) => ({ tenantId: row.tenantId, id: row.id, revision: Number(row.revision) }));
  }

  /**
   * Deletes the live integration whatever its revision (a DELETE without
   * If-Match), leaving its tombstone one revision up; then reads, inside the
   * same transaction, the revision and type that deletion made, for its
   * version. Null when there was no live integration.
   */
  async tombstoneCurrent(
    tenantId: string,
    id: string,
    deletedAt: Date,
    tx?: EntityManager,
  ): Promise<{ revision: number; type: string } | null> {
    return this.db.within(tx, async (manager) => {
      const result = await manager
        .withRepository(this.integrations)
        .createQueryBuilder()
        .update()
        .set({
          config: '{}',
          secrets: '{}',
          revision: () => 'revision + 1',
          updatedAt: deletedAt,
          deletedAt,
          verifyStatus: null,
          verifyMessage: null,
          verifiedAt: null,
          checkDueAt: null,
          checkLeaseUntil: null,
        })
        .where({ tenantId, id, deletedAt: IsNull() })
        .execute();
      if (result.affected !== 1) return null;
      // This transaction's own change: visible to it at any isolation level, and locked against every other writer.
      const row = await manager
        .withRepository(this.integrations)
        .createQueryBuilder('i')
        .select('i.revision', 'revision')
        .addSelect('i.type', 'type')
        .where('i.tenant_id = :tenantId AND i.id = :id', { tenantId, id })
        .getRawOne<{ revision: number | string; type: string }>();
      if (row === undefined) throw new Error('the integration this transaction just deleted is not there');
      return { revision: Number(row.revision), type: row.type };
    });
  }

  /** Tombstones deleted before `cutoff`, oldest first (the pruner removes them with their versions). */
  async expiredTombstones(cutoff: Date, limit: number): Promise<{ tenantId: string; id: string; revision: number }[]> {
    const rows = await this.db.run((manager) =>
      manager
        .withRepository(this.integrations)
        .createQueryBuilder('i')
        .select('i.tenant_id', 'tenantId')
        .addSelect('i.id', 'id')
        .addSelect('i.revision', 'revision')
        .where('i.deleted_at IS NOT NULL AND i.deleted_at < :cutoff', { cutoff })
        .orderBy('i.deleted_at', 'ASC')
        .limit(limit)
        .getRawMany<{ tenantId: string; id: string; revision: number | string }>(),
    );
    return rows.map((row) => ({ tenantId: row.tenantId, id: row.id, revision: Number(row.revision) }));
  }

  /**
   * Removes a tombstone, still at `revision` (not restored or re-created
   * meanwhile), and by the foreign key's cascade its versions. The caller
   * has trimmed those to the kept number first, so the statement stays small.
   */
  async removeTombstone(tenantId: string, id: string, revision: number): Promise<boolean> {
    const result = await this.db.run((manager) =>
      manager
        .withRepository(this.integrations)
        .createQueryBuilder()
        .delete()
        .where('tenant_id = :tenantId AND id = :id AND revision = :revision AND deleted_at IS NOT NULL', { tenantId, id, revision })
        .execute(),
    );
    return result.affected === 1;
  }

  /**
   * The columns reads need, under their property names, as raw rows: the
   * answer is built from them directly, so TypeORM's entity mapping (about a
   * third of a findOne's CPU time in the benchmark's profile) is not needed.
   */
  private selectStored(manager: EntityManager) {
    return manager
      .withRepository(this.integrations)
      .createQueryBuilder('i')
      .select('i.tenant_id', 'tenantId')
      .addSelect('i.id', 'id')
      .addSelect('i.type', 'type')
      .addSelect('i.config', 'config')
      .addSelect('i.secrets', 'secrets')
      .addSelect('i.revision', 'revision');
  }

  /**
   * The SQL of the hot reads (GET one, the list, a write's read), built once
   * from the entity's metadata with the driver's own escaping and sent
   * through the same query runner (EntityManager.query), with `?`
   * placeholders (both engines) or the driver's named-parameter conversion;
   * `update` assembles its statement from the same metadata per call (its
   * columns depend on what changes). A SelectQueryBuilder built anew for
   * every request cost about a third of a masked GET's CPU time
   * (bench:before against the commit before: 405 → 276 µs per request,
   * +35 % req/s). The rest of the repository, which runs rarely, keeps
   * QueryBuilder.
   */
  private statements(): HotStatements {
    this.hot ??= (() => {
      const { driver } = this.db.dataSource;
      const metadata = this.integrations.metadata;
      const column = (property: keyof IntegrationEntity): string => {
        const found = metadata.findColumnWithPropertyName(property);
        if (found === undefined) throw new Error(`integrations has no column for ${property}`);
        return driver.escape(found.databaseName);
      };
      const stored = STORED_PROPERTIES.map((property) => `i.${column(property)} AS ${driver.escape(property)}`).join(', ');
      const table = `${driver.escape(metadata.tableName)} i`;
      const live = `i.${column('deletedAt')} IS NULL`;
      return {
        findOne: `SELECT ${stored} FROM ${table} WHERE i.${column('tenantId')} = ? AND i.${column('id')} = ? AND ${live}`,
        current: {
          select: `SELECT ${stored}, CASE WHEN ${live} THEN 0 ELSE 1 END AS ${driver.escape('deleted')}`,
          from: ` FROM ${table} WHERE i.${column('tenantId')} = :currentTenantId AND i.${column('id')} = :currentId`,
        },
        page: `SELECT ${stored} FROM ${table} WHERE i.${column('tenantId')} = ? AND ${live} ORDER BY i.${column('id')} ASC LIMIT ? OFFSET ?`,
        count: `SELECT COUNT(*) AS ${driver.escape('total')} FROM ${table} WHERE i.${column('tenantId')} = ? AND ${live}`,
        key: { tenantIdColumn: column('tenantId'), idColumn: column('id'), revisionColumn: column('revision') },
      };
    })();
    return this.hot;
  }

  /** Integrations per tenant and type, for keys:status. */
  async countsByTenantAndType(): Promise<{ tenantId: string; type: string; count: number }[]> {
    const rows = await this.db.run((manager) =>
      manager
        .withRepository(this.integrations)
        .createQueryBuilder('i')
        .select('i.tenant_id', 'tenantId')
        .addSelect('i.type', 'type')
        .addSelect('COUNT(*)', 'count')
        .where('i.deleted_at IS NULL')
        .groupBy('i.tenant_id')
        .addGroupBy('i.type')
        .getRawMany<{ tenantId: string; type: string; count: number | string }>(),
    );
    return rows.map((row) => ({ ...row, count: Number(row.count) }));
  }
}
