import type { EntityManager, EntityMetadata, ObjectLiteral, Repository } from 'typeorm';
import type { DatabaseService } from './database.service';

/**
 * A plain multi-row INSERT of an entity, for tables written on every request
 * (versions, audit events): the column list is built once from the entity's
 * metadata, names escaped and values converted by the driver's own public
 * methods (`escape`, `preparePersistentValue`: dates, booleans), and the rows
 * go as `?` placeholders (both engines). TypeORM's InsertQueryBuilder does
 * the same work again on every call, which measured as most of an append's
 * CPU on the service side.
 */
export class EntityInsert<T extends ObjectLiteral> {
  private statement: { head: string; row: string; columns: EntityMetadata['columns'] } | undefined;

  constructor(
    private readonly repository: Repository<T>,
    private readonly db: DatabaseService,
  ) {}

  /** Inserts `rows` in one statement, inside the caller's transaction when `tx` is given. */
  async run(rows: readonly T[], tx?: EntityManager): Promise<void> {
    if (rows.length === 0) return;
    const { driver } = this.db.dataSource;
    this.statement ??= (() => {
      const { columns, tableName } = this.repository.metadata;
      const names = columns.map((column) => driver.escape(column.databaseName)).join(', ');
      return { head: `INSERT INTO ${driver.escape(tableName)} (${names}) VALUES `, row: `(${columns.map(() => '?').join(', ')})`, columns };
    })();
    const { head, row, columns } = this.statement;
    const values: unknown[] = [];
    for (const entity of rows) {
      for (const column of columns) values.push(driver.preparePersistentValue(column.getEntityValue(entity), column) ?? null);
    }
    const sql = head + Array<string>(rows.length).fill(row).join(', ');
    await this.db.within(tx, (manager) => manager.query(sql, values));
  }
}
