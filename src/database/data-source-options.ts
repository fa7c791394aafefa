import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { DataSourceOptions } from 'typeorm';
import type { DatabaseConfig } from '../config/database.config';
import { KeyRotationEntity } from '../crypto/key-rotation.entity';
import { IntegrationEntity } from '../integrations/integration.entity';
import { TenantEntity } from '../tenants/tenant.entity';
import { MIGRATIONS } from './migrations';

export const ENTITIES = [TenantEntity, IntegrationEntity, KeyRotationEntity];

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
    poolSize: config.poolSize,
    extra: {
      connectionLimit: config.poolSize,
      enableKeepAlive: true,
      // Fail fast when the database is gone instead of queueing requests forever.
      queueLimit: 1000,
    },
  };
}
