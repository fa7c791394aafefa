import { Inject, Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { DateUtils } from 'typeorm/util/DateUtils';
import { CONFIGURATION, type Configuration } from '../config/configuration';
import { QUERY_TIMEOUT_MS } from './data-source-options';
import { isRetryableConflict } from './database-errors';

const MAX_ATTEMPTS = 3;

/** What a statement binds: better-sqlite3 gets dates as TypeORM writes them there. */
export type SqlValue = string | number | Date | null;

/** The statements of one transaction opened by `DatabaseService.sqlTransaction`. */
export interface SqlTransaction {
  /** A statement that returns rows. */
  select<T>(sql: string, parameters: SqlValue[]): Promise<T[]>;
  /** A statement that changes rows. */
  run(sql: string, parameters: SqlValue[]): Promise<void>;
}

/** The slices of the two drivers used below. */
interface SqliteStatement {
  all(...parameters: unknown[]): unknown[];
  run(...parameters: unknown[]): unknown;
}
interface SqliteConnection {
  prepare(sql: string): SqliteStatement;
  readonly inTransaction: boolean;
}
interface MysqlConnection {
  execute(sql: string, values: unknown[], callback: (error: Error | null, rows: unknown) => void): void;
  query(sql: string, callback: (error: Error | null, rows: unknown) => void): void;
  release(): void;
  destroy(): void;
}
interface MysqlPool {
  getConnection(callback: (error: Error | null, connection: MysqlConnection) => void): void;
}

/**
 * One pooled mysql2 connection, borrowed for a statement or a transaction.
 * Every statement runs under our own timer rather than mysql2's `timeout`,
 * which does not cover the PREPARE that a statement new to this connection
 * sends first. As for TypeORM's queries (data-source-options.ts), a connection
 * whose reply is lost is destroyed, never pooled again.
 */
class BorrowedMysqlConnection {
  private destroyed = false;

  private constructor(private readonly connection: MysqlConnection) {}

  static borrow(pool: MysqlPool): Promise<BorrowedMysqlConnection> {
    return new Promise((resolve, reject) => {
      pool.getConnection((error, connection) => (error ? reject(error) : resolve(new BorrowedMysqlConnection(connection))));
    });
  }

  /** A prepared statement (parsed once per connection, then cached by mysql2). */
  execute<T>(sql: string, parameters: SqlValue[]): Promise<T[]> {
    return this.send((done) => this.connection.execute(sql, parameters, done));
  }

  /** A statement outside the prepared-statement protocol (transaction control). */
  control(sql: string): Promise<void> {
    return this.send((done) => this.connection.query(sql, done)).then(() => undefined);
  }

  /** Back to the pool, or closed when its state cannot be trusted. */
  release(healthy = true): void {
    if (this.destroyed) return;
    if (healthy) this.connection.release();
    else this.destroy();
  }

  private destroy(): void {
    this.destroyed = true;
    this.connection.destroy();
  }

  private send<T>(start: (done: (error: Error | null, rows: unknown) => void) => void): Promise<T[]> {
    if (this.destroyed) return Promise.reject(Object.assign(new Error('connection was closed after a timeout'), { code: 'PROTOCOL_CONNECTION_LOST' }));
    return new Promise((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        settled = true;
        this.destroy();
        reject(Object.assign(new Error(`query timed out after ${QUERY_TIMEOUT_MS} ms`), { code: 'PROTOCOL_SEQUENCE_TIMEOUT' }));
      }, QUERY_TIMEOUT_MS);
      start((error, rows) => {
        if (settled) return;
        clearTimeout(timer);
        if (error) reject(error);
        else resolve(rows as T[]);
      });
    });
  }
}

/**
 * The few things about the engines that the services must know, in one place:
 * row locks (`FOR UPDATE` exists on MySQL only) and transactions. SQLite has
 * one connection, on which TypeORM cannot run two transactions at once, so
 * transactions there are queued; on MySQL a deadlock victim is retried.
 */
@Injectable()
export class DatabaseService {
  readonly engine: 'mysql' | 'sqlite';
  private queue: Promise<unknown> = Promise.resolve();
  private readonly sqliteStatements = new Map<string, SqliteStatement>();

  constructor(
    readonly dataSource: DataSource,
    @Inject(CONFIGURATION) config: Configuration,
  ) {
    this.engine = config.database.kind;
  }

  /** Appended to a SELECT that must lock the rows it reads until the transaction ends. */
  get forUpdate(): string {
    return this.engine === 'mysql' ? ' FOR UPDATE' : '';
  }

  /**
   * A read-only statement on the hot path, outside any transaction, as a
   * prepared statement straight on the driver: mysql2's `execute` (parsed once
   * per connection) or a cached better-sqlite3 statement. It skips the
   * QueryRunner TypeORM builds around every `query()`, which costs more than
   * the indexed lookup itself.
   */
  async select<T>(sql: string, parameters: SqlValue[]): Promise<T[]> {
    if (this.engine === 'sqlite') return this.sqliteStatement(sql).all(...this.sqliteValues(parameters)) as T[];
    const connection = await BorrowedMysqlConnection.borrow(this.mysqlPool);
    try {
      return await connection.execute<T>(sql, parameters);
    } finally {
      connection.release();
    }
  }

  /**
   * A transaction of tailored statements, for the write paths that run on
   * every request: no QueryRunner, no entity metadata, prepared statements on
   * MySQL. Like `transaction`, it is queued on SQLite and retried on a MySQL
   * deadlock, so `work` must be safe to run again.
   */
  async sqlTransaction<T>(work: (tx: SqlTransaction) => Promise<T>): Promise<T> {
    if (this.engine === 'sqlite') return this.serialized(() => this.sqliteTransaction(work));
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.mysqlTransaction(work);
      } catch (error) {
        if (attempt >= MAX_ATTEMPTS || !isRetryableConflict(error)) throw error;
      }
    }
  }

  /** A raw query with `?` placeholders (both engines use them). */
  query<T>(sql: string, parameters: unknown[] = []): Promise<T[]> {
    return this.dataSource.query<T[]>(sql, this.engine === 'sqlite' ? this.sqliteValues(parameters) : parameters);
  }

  async transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    if (this.engine === 'sqlite') return this.serialized(() => this.dataSource.transaction(work));
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.dataSource.transaction(work);
      } catch (error) {
        if (attempt >= MAX_ATTEMPTS || !isRetryableConflict(error)) throw error;
      }
    }
  }

  private async mysqlTransaction<T>(work: (tx: SqlTransaction) => Promise<T>): Promise<T> {
    const connection = await BorrowedMysqlConnection.borrow(this.mysqlPool);
    let healthy = true;
    try {
      await connection.control('START TRANSACTION');
      const result = await work({
        select: (sql, parameters) => connection.execute(sql, parameters),
        run: (sql, parameters) => connection.execute(sql, parameters).then(() => undefined),
      });
      await connection.control('COMMIT');
      return result;
    } catch (error) {
      // A connection that cannot roll back is not given to the next request.
      healthy = await connection.control('ROLLBACK').then(
        () => true,
        () => false,
      );
      throw error;
    } finally {
      connection.release(healthy);
    }
  }

  private async sqliteTransaction<T>(work: (tx: SqlTransaction) => Promise<T>): Promise<T> {
    const connection = this.sqliteConnection;
    this.sqliteStatement('BEGIN IMMEDIATE').run();
    try {
      const result = await work({
        select: (sql, parameters) => Promise.resolve(this.sqliteStatement(sql).all(...this.sqliteValues(parameters)) as never[]),
        run: (sql, parameters) => {
          this.sqliteStatement(sql).run(...this.sqliteValues(parameters));
          return Promise.resolve();
        },
      });
      this.sqliteStatement('COMMIT').run();
      return result;
    } catch (error) {
      if (connection.inTransaction) this.sqliteStatement('ROLLBACK').run();
      throw error;
    }
  }

  private get mysqlPool(): MysqlPool {
    return (this.dataSource.driver as unknown as { pool: MysqlPool }).pool;
  }

  private get sqliteConnection(): SqliteConnection {
    return (this.dataSource.driver as unknown as { databaseConnection: SqliteConnection }).databaseConnection;
  }

  /** better-sqlite3 statements are prepared once per SQL text and kept. */
  private sqliteStatement(sql: string): SqliteStatement {
    let statement = this.sqliteStatements.get(sql);
    if (statement === undefined) {
      statement = this.sqliteConnection.prepare(sql);
      this.sqliteStatements.set(sql, statement);
    }
    return statement;
  }

  /** better-sqlite3 cannot bind a Date; store-compatible text is what TypeORM writes there. */
  private sqliteValues(parameters: readonly unknown[]): unknown[] {
    return parameters.map((p): unknown => (p instanceof Date ? DateUtils.mixedDateToUtcDatetimeString(p) : p));
  }

  private serialized<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }
}
