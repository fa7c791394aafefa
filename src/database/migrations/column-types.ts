import type { QueryRunner, TableColumnOptions } from 'typeorm';

/**
 * A UTC timestamp with millisecond precision. The only type that differs by
 * engine: MySQL needs `datetime(3)` to keep milliseconds, SQLite stores text.
 */
function isMysql(queryRunner: QueryRunner): boolean {
  return queryRunner.connection.options.type === 'mysql' || queryRunner.connection.options.type === 'mariadb';
}

/**
 * A tenant or integration id. On MySQL the default collations compare case-
 * insensitively, which would let a token for tenant 'ACME' reach 'acme': ids
 * compare byte for byte (utf8mb4_bin), as SQLite does by default.
 */
export function idColumn(queryRunner: QueryRunner, name: string, primary = true): TableColumnOptions {
  return {
    name,
    type: 'varchar',
    length: '64',
    isPrimary: primary,
    ...(isMysql(queryRunner) ? { charset: 'utf8mb4', collation: 'utf8mb4_bin' } : {}),
  };
}

export function timestampColumn(queryRunner: QueryRunner, name: string, nullable = false): TableColumnOptions {
  return { name, type: 'datetime', ...(isMysql(queryRunner) ? { precision: 3 } : {}), isNullable: nullable };
}

/**
 * Text that must read back exactly as it was written (an audit event's fields
 * are hashed): utf8mb4 on MySQL whatever the database's default character
 * set, and binary collation, as SQLite stores text.
 */
export function exactTextColumn(queryRunner: QueryRunner, name: string, length: number, nullable = false): TableColumnOptions {
  return {
    name,
    type: 'varchar',
    length: String(length),
    isNullable: nullable,
    ...(isMysql(queryRunner) ? { charset: 'utf8mb4', collation: 'utf8mb4_bin' } : {}),
  };
}
