import type { QueryRunner, TableColumnOptions } from 'typeorm';

/**
 * A UTC timestamp with millisecond precision. The only type that differs by
 * engine: MySQL needs `datetime(3)` to keep milliseconds, SQLite stores text.
 */
export function timestampColumn(queryRunner: QueryRunner, name: string, nullable = false): TableColumnOptions {
  const mysql = queryRunner.connection.options.type === 'mysql' || queryRunner.connection.options.type === 'mariadb';
  return { name, type: 'datetime', ...(mysql ? { precision: 3 } : {}), isNullable: nullable };
}
