import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Logger } from '@nestjs/common';
import type { DataSourceOptions, Logger as TypeOrmLogger } from 'typeorm';
import type { DatabaseConfig } from '../config/database.config';
import { MIGRATIONS } from './migrations';

/**
 * The longest one database operation may take. Every query of this service is
 * a lookup or a small write; one that gets no answer for this long means the
 * database is unreachable (a network partition sends no error at all, so
 * without a limit a request would hang until TCP gives up, many minutes
 * later). The client then gets a 503.
 */
export const QUERY_TIMEOUT_MS = 10_000;

/**
 * TypeORM's loggers print slow queries with their SQL and parameters to the
 * console whatever `logging` says; parameters are tenant data. Only the
 * duration is logged, through the service's logger.
 */
class QuietTypeOrmLogger implements TypeOrmLogger {
  private readonly logger = new Logger('Database');
  logQuery(): void {}
  logQueryError(): void {}
  logSchemaBuild(): void {}
  logMigration(): void {}
  log(): void {}
  logQuerySlow(time: number): void {
    this.logger.warn(`a query took ${time} ms`);
  }
}

/**
 * One DataSource description for the app, the CLI and the TypeORM CLI
 * (ormconfig.ts). Entities are registered by their modules
 * (TypeOrmModule.forFeature + autoLoadEntities); migrations need none. The
 * schema only ever comes from migrations: `synchronize` stays off.
 */
export function dataSourceOptions(config: DatabaseConfig): DataSourceOptions {
  const common = {
    migrations: MIGRATIONS,
    migrationsTableName: 'migrations',
    synchronize: false,
    migrationsRun: false,
    logging: false,
    logger: new QuietTypeOrmLogger(),
  } as const;
  if (config.kind === 'sqlite') {
    if (config.path !== ':memory:') mkdirSync(dirname(config.path), { recursive: true });
    return {
      ...common,
      type: 'better-sqlite3',
      database: config.path,
      enableWAL: config.path !== ':memory:',
      prepareDatabase: (db: { pragma(sql: string): unknown }) => {
        db.pragma('foreign_keys = ON');
        // Only another process (a backup, keys:rotate run by hand) can hold the write lock. better-sqlite3 waits
        // for it synchronously, freezing every request of this process meanwhile: wait 1 s, then answer 503.
        db.pragma('busy_timeout = 1000');
      },
    };
  }
  return {
    ...common,
    type: config.driver,
    url: config.url,
    charset: 'utf8mb4',
    timezone: 'Z',
    connectTimeout: config.connectTimeoutMs,
    // Only for the slow-query log line: the deadline itself is DatabaseService's, which also closes the connection.
    maxQueryExecutionTime: QUERY_TIMEOUT_MS,
    poolSize: config.poolSize,
    extra: {
      connectionLimit: config.poolSize,
      enableKeepAlive: true,
      // Fail fast when the database is gone instead of queueing requests forever.
      queueLimit: 1000,
    },
  };
}
