import { Inject, Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { DateUtils } from 'typeorm/util/DateUtils';
import { CONFIGURATION, type Configuration } from '../config/configuration';
import { QUERY_TIMEOUT_MS } from './data-source-options';
import { isRetryableConflict } from './database-errors';

const MAX_ATTEMPTS = 3;

/** The slices of the two drivers that `select` uses. */
interface SqliteStatement {
  all(...parameters: unknown[]): unknown[];
}
interface SqliteConnection {
  prepare(sql: string): SqliteStatement;
}
interface MysqlConnection {
  execute(sql: string, values: unknown[], callback: (error: Error | null, rows: unknown) => void): void;
  release(): void;
  destroy(): void;
}
interface MysqlPool {
  getConnection(callback: (error: Error | null, connection: MysqlConnection) => void): void;
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
  select<T>(sql: string, parameters: (string | number)[]): Promise<T[]> {
    if (this.engine === 'sqlite') {
      let statement = this.sqliteStatements.get(sql);
      if (statement === undefined) {
        statement = (this.dataSource.driver as unknown as { databaseConnection: SqliteConnection }).databaseConnection.prepare(sql);
        this.sqliteStatements.set(sql, statement);
      }
      try {
        return Promise.resolve(statement.all(...parameters) as T[]);
      } catch (error) {
        return Promise.reject(error instanceof Error ? error : new Error(String(error)));
      }
    }
    const pool = (this.dataSource.driver as unknown as { pool: MysqlPool }).pool;
    return new Promise((resolve, reject) => {
      pool.getConnection((connectError, connection) => {
        if (connectError) return reject(connectError);
        // Our own timer rather than mysql2's `timeout`, which does not cover the PREPARE that a
        // statement new to this connection sends first. As for TypeORM's queries
        // (data-source-options.ts), a connection whose reply is lost is destroyed, never pooled.
        let settled = false;
        const timer = setTimeout(() => {
          settled = true;
          connection.destroy();
          reject(Object.assign(new Error(`query timed out after ${QUERY_TIMEOUT_MS} ms`), { code: 'PROTOCOL_SEQUENCE_TIMEOUT' }));
        }, QUERY_TIMEOUT_MS);
        connection.execute(sql, parameters, (queryError, rows) => {
          if (settled) return;
          clearTimeout(timer);
          connection.release();
          if (queryError) reject(queryError);
          else resolve(rows as T[]);
        });
      });
    });
  }

  /** A raw query with `?` placeholders (both engines use them). */
  query<T>(sql: string, parameters: unknown[] = []): Promise<T[]> {
    // better-sqlite3 cannot bind a Date; store-compatible text is what TypeORM writes there.
    const bound = this.engine === 'sqlite' ? parameters.map((p): unknown => (p instanceof Date ? DateUtils.mixedDateToUtcDatetimeString(p) : p)) : parameters;
    return this.dataSource.query<T[]>(sql, bound);
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

  private serialized<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }
}
