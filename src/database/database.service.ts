import { Inject, Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { CONFIGURATION, type Configuration } from '../config/configuration';
import { QUERY_TIMEOUT_MS } from './data-source-options';
import { isRetryableConflict } from './database-errors';

const MAX_TRANSACTION_ATTEMPTS = 3;

/** What a database operation fails with when it got no answer in time (a 503, like any unreachable database). */
export class DatabaseTimeoutError extends Error {
  readonly code = 'PROTOCOL_SEQUENCE_TIMEOUT';
  constructor() {
    super(`the database did not answer within ${QUERY_TIMEOUT_MS} ms`);
    this.name = 'DatabaseTimeoutError';
  }
}

/**
 * The few things about the engines that the repositories must not each solve
 * again, on TypeORM's public API:
 *
 * - SQLite has one connection, shared by every TypeORM query runner: a
 *   statement issued while another request's transaction is open would run
 *   inside it (and be rolled back with it), and a second transaction would
 *   nest as a savepoint. So on SQLite every operation is queued behind the
 *   previous one. On MySQL they run side by side on the pool.
 * - Every operation is bounded by QUERY_TIMEOUT_MS. mysql2 has a per-query
 *   timeout (enabled in data-source-options.ts), but it starts a query's timer
 *   only when the query is sent: queries queued on a connection whose answer
 *   was lost in a network partition would wait forever. The deadline here
 *   answers the request (503) whatever the driver does.
 * - Transactions on MySQL run at READ COMMITTED, where InnoDB takes no gap
 *   locks, and are run again when InnoDB picks them as a deadlock victim.
 */
@Injectable()
export class DatabaseService {
  readonly engine: 'mysql' | 'sqlite';
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly dataSource: DataSource,
    @Inject(CONFIGURATION) config: Configuration,
  ) {
    this.engine = config.database.kind;
  }

  /** One database operation (a statement, or several that need no transaction). */
  run<T>(work: () => Promise<T>): Promise<T> {
    if (this.engine === 'mysql') return this.withDeadline(work());
    // An operation still queued when its caller was answered 503 is dropped: a write must not land after its
    // request was told it failed (and SQLite's busy waits block the process, so skipping them also keeps it responsive).
    // (Checked against the clock: while SQLite waits on a lock it blocks the event loop, so the timer may not have fired yet.)
    const queuedAt = Date.now();
    const queued = this.serialized(() => (Date.now() - queuedAt >= QUERY_TIMEOUT_MS ? Promise.reject(new DatabaseTimeoutError()) : work()));
    return this.withDeadline(queued);
  }

  /** `work` in one TypeORM transaction; it may run more than once on MySQL, so it must be safe to repeat. */
  transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    if (this.engine === 'sqlite') return this.run(() => this.dataSource.transaction(work));
    return this.run(async () => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await this.dataSource.transaction('READ COMMITTED', work);
        } catch (error) {
          if (attempt >= MAX_TRANSACTION_ATTEMPTS || !isRetryableConflict(error)) throw error;
        }
      }
    });
  }

  /** A raw query with `?` placeholders (both engines use them): for reports, migrations checks and tests. */
  query<T>(sql: string, parameters: unknown[] = []): Promise<T[]> {
    return this.run(() => this.dataSource.query<T[]>(sql, parameters));
  }

  private withDeadline<T>(operation: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new DatabaseTimeoutError()), QUERY_TIMEOUT_MS);
    });
    return Promise.race([operation, deadline]).finally(() => clearTimeout(timer));
  }

  private serialized<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }
}
