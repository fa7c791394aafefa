import { join } from 'node:path';
import { type Env, ConfigError, readBool, readInt, readVar } from './config-error';

export type DatabaseConfig =
  | { kind: 'mysql'; driver: 'mysql' | 'mariadb'; url: string; poolSize: number; connectTimeoutMs: number; migrationsRun: boolean }
  | { kind: 'sqlite'; path: string; migrationsRun: boolean };

/**
 * `mysql://…` and `mariadb://…` pick the matching TypeORM driver (with `mysql`
 * against MariaDB, TypeORM's schema diff fights MariaDB's LONGTEXT JSON);
 * `sqlite:PATH` / `sqlite::memory:` the embedded one; unset = SQLite under DATA_DIR.
 */
export function loadDatabaseConfig(env: Env, dataDir: string): DatabaseConfig {
  const url = readVar(env, 'DATABASE_URL');
  const migrationsRun = readBool(env, 'MIGRATIONS_RUN', true);
  if (url === undefined) return { kind: 'sqlite', path: join(dataDir, 'integrations.sqlite'), migrationsRun };
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length);
    if (path === '') throw new ConfigError(`DATABASE_URL must be sqlite:PATH or sqlite::memory: (got 'sqlite:')`);
    return { kind: 'sqlite', path, migrationsRun };
  }
  const scheme = /^(mysql|mariadb):\/\//.exec(url)?.[1];
  if (scheme !== 'mysql' && scheme !== 'mariadb') {
    throw new ConfigError("DATABASE_URL must start with mysql://, mariadb:// or sqlite: (got a value with another scheme)");
  }
  // A host list (db1,db2 or db1:3306,db2:3306, as some drivers take for failover) would be read as one host name
  // that never resolves, or not parse: say what to do instead.
  const authority = url.slice(`${scheme}://`.length).split('/')[0];
  if (authority.slice(authority.lastIndexOf('@') + 1).includes(',')) {
    throw new ConfigError(
      'DATABASE_URL names one host; for several nodes (Galera, replicas) put HAProxy or MaxScale in front and name it (docs/scaling.md)',
    );
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(`DATABASE_URL must be a URL like ${scheme}://user:pass@host:3306/db (it does not parse)`);
  }
  if (parsed.pathname.length <= 1) {
    throw new ConfigError(`DATABASE_URL must name a database, like ${scheme}://user:pass@host:3306/db`);
  }
  return {
    kind: 'mysql',
    driver: scheme,
    url,
    poolSize: readInt(env, 'DATABASE_POOL_SIZE', 20, 1, 500),
    connectTimeoutMs: readInt(env, 'DATABASE_CONNECT_TIMEOUT_MS', 3000, 100, 60_000),
    migrationsRun,
  };
}

/** The URL with its password replaced, for log lines. */
export function describeDatabase(config: DatabaseConfig): string {
  if (config.kind === 'sqlite') return `sqlite:${config.path}`;
  const parsed = new URL(config.url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}
