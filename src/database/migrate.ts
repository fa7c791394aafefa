import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Logger } from '@nestjs/common';
import type { DataSource, Migration } from 'typeorm';
import { isRetryableConflict } from './database-errors';

const LOCK_NAME = 'migrations';
/** How long a starting instance waits for another one's migrations before it gives up. */
const LOCK_WAIT_MS = 300_000;
const POLL_MS = 500;
/** A holder renews its lock every LOCK_TTL_S / 4; a lock not renewed for LOCK_TTL_S is stale (its holder died) and may be taken. */
export const LOCK_TTL_S = 60;

/**
 * Runs pending migrations. On MySQL/MariaDB several instances may start
 * together, so they queue on a lock and the later ones find nothing left to do.
 *
 * The lock is a row in `migration_lock`, not GET_LOCK: named locks are local
 * to one node of a Galera cluster, so two instances on two nodes would both
 * migrate (issue 16). A row is replicated like any write, and two nodes taking
 * it at once conflict at certification; one of them gets a deadlock error and
 * tries again. The row carries its holder and an expiry in the database's own
 * clock, renewed while the migrations run, so a holder that died leaves a lock
 * that expires instead of one that blocks every start.
 */
export async function runMigrations(dataSource: DataSource): Promise<Migration[]> {
  const type = dataSource.options.type;
  if (type !== 'mysql' && type !== 'mariadb') return dataSource.runMigrations({ transaction: 'all' });
  const lock = new MigrationLock(dataSource);
  await lock.acquire();
  try {
    return await dataSource.runMigrations({ transaction: 'each' });
  } finally {
    await lock.release();
  }
}

class MigrationLock {
  private readonly logger = new Logger('Database');
  /** Who holds it: readable in the table when a start seems stuck, and unique per start. */
  private readonly holder = `${hostname().slice(0, 40)}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private renewal: NodeJS.Timeout | undefined;

  constructor(private readonly dataSource: DataSource) {}

  async acquire(): Promise<void> {
    // DDL is replicated in total order on Galera; IF NOT EXISTS makes concurrent starts harmless.
    await this.dataSource.query(
      'CREATE TABLE IF NOT EXISTS migration_lock (name VARCHAR(64) NOT NULL PRIMARY KEY, holder VARCHAR(100) NOT NULL, expires_at DATETIME(3) NOT NULL) ENGINE=InnoDB',
    );
    const deadline = Date.now() + LOCK_WAIT_MS;
    let waiting = false;
    while (!(await this.tryTake())) {
      if (Date.now() >= deadline) {
        throw new Error(
          `another instance held the migration lock for ${LOCK_WAIT_MS / 1000} s; check for a stuck migration (table migration_lock) and start again`,
        );
      }
      if (!waiting) this.logger.log('Waiting for another instance to finish the migrations');
      waiting = true;
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    this.renewal = setInterval(() => void this.renew(), (LOCK_TTL_S * 1000) / 4);
  }

  async release(): Promise<void> {
    clearInterval(this.renewal);
    await this.dataSource.query('DELETE FROM migration_lock WHERE name = ? AND holder = ?', [LOCK_NAME, this.holder]);
  }

  /**
   * One statement: insert the row, or take it over when it has expired. In
   * ON DUPLICATE KEY UPDATE the assignments run left to right, so the second
   * sees the holder the first left: the expiry moves only for its holder.
   */
  private async tryTake(): Promise<boolean> {
    try {
      await this.dataSource.query(
        `INSERT INTO migration_lock (name, holder, expires_at) VALUES (?, ?, NOW(3) + INTERVAL ${LOCK_TTL_S} SECOND)
         ON DUPLICATE KEY UPDATE holder = IF(expires_at < NOW(3), VALUES(holder), holder),
                                 expires_at = IF(holder = VALUES(holder), VALUES(expires_at), expires_at)`,
        [LOCK_NAME, this.holder],
      );
    } catch (error) {
      // Another node took it in the same instant (a certification failure), or another start holds the row lock.
      if (isRetryableConflict(error)) return false;
      throw error;
    }
    const rows = await this.dataSource.query<{ holder: string }[]>('SELECT holder FROM migration_lock WHERE name = ?', [LOCK_NAME]);
    return rows[0]?.holder === this.holder;
  }

  private async renew(): Promise<void> {
    try {
      await this.dataSource.query(
        `UPDATE migration_lock SET expires_at = NOW(3) + INTERVAL ${LOCK_TTL_S} SECOND WHERE name = ? AND holder = ?`,
        [LOCK_NAME, this.holder],
      );
    } catch (error) {
      this.logger.warn(`renewing the migration lock failed (${(error as Error).name}); it is kept until it expires`);
    }
  }
}
