import type { DataSource, Migration } from 'typeorm';

const LOCK_NAME = 'integrations_api_migrations';
const LOCK_WAIT_SECONDS = 300;
/** Each GET_LOCK waits this long: well inside the query timeout (data-source-options.ts). */
const LOCK_POLL_SECONDS = 5;

/**
 * Runs pending migrations. On MySQL several instances may start together, so
 * they queue on a named lock (GET_LOCK is per connection: the lock lives as
 * long as this query runner) and the later ones find nothing left to do.
 */
export async function runMigrations(dataSource: DataSource): Promise<Migration[]> {
  const type = dataSource.options.type;
  if (type !== 'mysql' && type !== 'mariadb') return dataSource.runMigrations({ transaction: 'all' });
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    let acquired = false;
    for (let waited = 0; !acquired && waited < LOCK_WAIT_SECONDS; waited += LOCK_POLL_SECONDS) {
      const [row] = (await runner.query('SELECT GET_LOCK(?, ?) AS acquired', [LOCK_NAME, LOCK_POLL_SECONDS])) as { acquired: number | string }[];
      acquired = Number(row?.acquired) === 1;
    }
    if (!acquired) {
      throw new Error(`another instance held the migration lock for ${LOCK_WAIT_SECONDS} s; check for a stuck migration and start again`);
    }
    try {
      return await dataSource.runMigrations({ transaction: 'each' });
    } finally {
      await runner.query('SELECT RELEASE_LOCK(?)', [LOCK_NAME]);
    }
  } finally {
    await runner.release();
  }
}
