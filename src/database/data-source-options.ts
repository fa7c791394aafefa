import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Logger } from '@nestjs/common';
import {
  type AfterQueryEvent,
  type DataSourceOptions,
  type EntitySubscriberInterface,
  EventSubscriber,
  type Logger as TypeOrmLogger,
} from 'typeorm';
import type { DatabaseConfig } from '../config/database.config';
import { KeyRotationEntity } from '../crypto/key-rotation.entity';
import { IntegrationEntity } from '../integrations/integration.entity';
import { TenantEntity } from '../tenants/tenant.entity';
import { MIGRATIONS } from './migrations';

export const ENTITIES = [TenantEntity, IntegrationEntity, KeyRotationEntity];

/**
 * The longest one MySQL query may take. Every query of this service is a
 * lookup or a one-row write; one that gets no answer for this long means the
 * database is unreachable (a network partition sends no error at all, so
 * without a limit the request would hang until TCP gives up, many minutes
 * later). The driver then drops the connection and the client gets a 503.
 */
export const QUERY_TIMEOUT_MS = 10_000;

/**
 * mysql2 answers a timed-out query with an error but leaves the connection
 * waiting for that query's reply, and puts it back in the pool: every later
 * query on it would wait forever behind the lost one. Such a connection is
 * destroyed instead, so the pool opens a new one (or fails fast while the
 * database is still unreachable).
 */
@EventSubscriber()
class DropTimedOutConnections implements EntitySubscriberInterface {
  afterQuery(event: AfterQueryEvent<unknown>): void {
    if (event.success || (event.error as { code?: unknown } | undefined)?.code !== 'PROTOCOL_SEQUENCE_TIMEOUT') return;
    (event.queryRunner as unknown as { databaseConnection?: { destroy?: () => void } }).databaseConnection?.destroy?.();
  }
}

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
 * One DataSource description for the app, the CLI commands and the TypeORM CLI.
 * The schema only ever comes from migrations: `synchronize` stays off.
 */
export function dataSourceOptions(config: DatabaseConfig): DataSourceOptions {
  const common = {
    entities: ENTITIES,
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
        db.pragma('busy_timeout = 5000');
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
    maxQueryExecutionTime: QUERY_TIMEOUT_MS,
    enableQueryTimeout: true,
    subscribers: [DropTimedOutConnections],
    poolSize: config.poolSize,
    extra: {
      connectionLimit: config.poolSize,
      enableKeepAlive: true,
      // Fail fast when the database is gone instead of queueing requests forever.
      queueLimit: 1000,
    },
  };
}
