import { Inject, Injectable, Logger } from '@nestjs/common';
import { DataSource, type EntityManager, type QueryRunner } from 'typeorm';
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

/** A unit of database work, given an EntityManager bound to the query runner it runs on. */
export type DatabaseWork<T> = (manager: EntityManager) => Promise<T>;
type ConnectionWork<T> = (manager: EntityManager, connection: object) => Promise<T>;

/**
 * Every database operation of the repositories runs through here, on
 * TypeORM's public API, so the engines' rules are kept in one place:
 *
 * - An operation gets a QueryRunner of its own (one pooled connection on
 *   MySQL) and an EntityManager bound to it. If the database has not answered
 *   within QUERY_TIMEOUT_MS, the request gets a 503 and the connection is
 *   closed (the driver connection `QueryRunner.connect()` returns, and its
 *   `destroy()`): in a network partition the statement may still sit in a
 *   buffer, and it must never land after its request was told it failed.
 *   (mysql2's own query timeout cannot do that: it starts only when a query is
 *   sent, and leaves the connection waiting for the lost reply.)
 * - SQLite has one connection, shared by every TypeORM query runner: a
 *   statement issued while another request's transaction is open would run
 *   inside it, and a second transaction would nest as a savepoint. So on
 *   SQLite every operation is queued behind the previous one; one still
 *   queued at its deadline is dropped, not run late.
 * - Transactions on MySQL run at READ COMMITTED, where InnoDB takes no gap
 *   locks (the session's level, set once per pooled connection: see
 *   `transaction`), and are run again when InnoDB picks them as a deadlock
 *   victim.
 */
@Injectable()
export class DatabaseService {
  readonly engine: 'mysql' | 'sqlite';
  private readonly logger = new Logger('Database');
  private queue: Promise<unknown> = Promise.resolve();
  private skipLocked: Promise<boolean> | undefined;
  /** Pooled connections whose session already runs transactions at READ COMMITTED (see `transaction`). */
  private readonly readCommittedSessions = new WeakSet<object>();

  constructor(
    readonly dataSource: DataSource,
    @Inject(CONFIGURATION) config: Configuration,
  ) {
    this.engine = config.database.kind;
  }

  /**
   * Whether the server has SELECT … FOR UPDATE SKIP LOCKED (MySQL 8.0.1+,
   * MariaDB 10.6+), which the background claims (scheduled checks, webhook
   * deliveries) use when they can; asked once per instance. False on SQLite.
   */
  supportsSkipLocked(): Promise<boolean> {
    if (this.engine !== 'mysql') return Promise.resolve(false);
    this.skipLocked ??= this.query<{ version: string }>('SELECT VERSION() AS version').then(([row]) => {
      const supported = skipLockedSupported(row?.version ?? '');
      if (!supported) this.logger.log(`database ${row?.version} has no SKIP LOCKED: background claims use conditional updates`);
      return supported;
    });
    return this.skipLocked;
  }

  /** One database operation: a statement, or several that need no transaction. */
  run<T>(work: DatabaseWork<T>): Promise<T> {
    if (this.engine === 'sqlite') return this.queued(() => this.onSharedConnection(work));
    return this.onOwnConnection(work);
  }

  /** `work` in one transaction; it may run more than once on MySQL, so it must be safe to repeat. */
  transaction<T>(work: DatabaseWork<T>): Promise<T> {
    if (this.engine === 'sqlite') return this.queued(() => this.onSharedConnection((manager) => manager.transaction(work)));
    return this.onOwnConnection(async (manager, connection) => {
      // READ COMMITTED as the session's level, set once per pooled connection: TypeORM sends a level asked of
      // transaction() as a SET TRANSACTION statement of its own before every START TRANSACTION, one more round
      // trip on every write (8 statements per integration write instead of 7). Every transaction here runs at
      // READ COMMITTED, so the session's level only ever holds that value.
      if (!this.readCommittedSessions.has(connection)) {
        await manager.query('SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED');
        this.readCommittedSessions.add(connection);
      }
      for (let attempt = 1; ; attempt++) {
        try {
          return await manager.transaction(work);
        } catch (error) {
          if (attempt >= MAX_TRANSACTION_ATTEMPTS || !isRetryableConflict(error)) throw error;
        }
      }
    });
  }

  /**
   * `work` inside the caller's transaction when it passes one (`tx`, the
   * manager `transaction()` handed it), else as an operation of its own: how a
   * repository method joins a unit of work that spans several repositories
   * (an integration write, its version row and its audit event commit
   * together) without knowing who opened it.
   */
  within<T>(tx: EntityManager | undefined, work: DatabaseWork<T>): Promise<T> {
    return tx === undefined ? this.run(work) : work(tx);
  }

  /** A raw query with `?` placeholders (both engines use them): for reports and tests. */
  query<T>(sql: string, parameters: unknown[] = []): Promise<T[]> {
    return this.run((manager) => manager.query<T[]>(sql, parameters));
  }

  private async onOwnConnection<T>(work: ConnectionWork<T>): Promise<T> {
    const runner: QueryRunner = this.dataSource.createQueryRunner();
    let connection: unknown;
    const operation = (async () => {
      connection = await runner.connect();
      return work(runner.manager, connection as object);
    })();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        cut(connection);
        reject(new DatabaseTimeoutError());
      }, QUERY_TIMEOUT_MS);
    });
    try {
      return await Promise.race([operation, deadline]);
    } finally {
      clearTimeout(timer);
      // After a deadline the operation settles later, when the closed connection fails it.
      void operation
        .then(
          () => runner.release(),
          () => runner.release(),
        )
        .catch((error: unknown) => this.logger.warn(`releasing a query runner failed: ${(error as Error).name}`));
    }
  }

  /** SQLite's one query runner (TypeORM hands out the same one every time); the queue makes it this operation's alone. */
  private async onSharedConnection<T>(work: DatabaseWork<T>): Promise<T> {
    const runner = this.dataSource.createQueryRunner();
    try {
      return await work(runner.manager);
    } finally {
      await runner.release();
    }
  }

  private queued<T>(work: () => Promise<T>): Promise<T> {
    // Checked against the clock: while SQLite waits on a lock it blocks the event loop, so a timer may not have fired yet.
    const queuedAt = Date.now();
    const run = this.queue.then(() => (Date.now() - queuedAt >= QUERY_TIMEOUT_MS ? Promise.reject(new DatabaseTimeoutError()) : work()));
    this.queue = run.catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new DatabaseTimeoutError()), QUERY_TIMEOUT_MS);
    });
    return Promise.race([run, deadline]).finally(() => clearTimeout(timer));
  }
}

/** Closes a pooled mysql2 connection (its public `destroy()`); the pool opens a new one when needed. */
function cut(connection: unknown): void {
  const destroy = (connection as { destroy?: unknown } | undefined)?.destroy;
  if (typeof destroy === 'function') destroy.call(connection);
}

/**
 * Whether a server's VERSION() has SELECT … SKIP LOCKED. TiDB and Vitess's
 * vtgate report a MySQL 8 version, but neither has reliably accepted the
 * clause, so they take the conditional-update path, which is correct
 * everywhere (SKIP LOCKED only saves claimers from waiting on each other).
 */
export function skipLockedSupported(version: string): boolean {
  if (/tidb|vitess/i.test(version)) return false;
  const match = /^(\d+)\.(\d+)\.(\d+)/.exec(version);
  if (match === null) return false;
  const [major, minor, patch] = match.slice(1).map(Number);
  if (/mariadb/i.test(version)) return major > 10 || (major === 10 && minor >= 6);
  return major > 8 || (major === 8 && (minor > 0 || patch >= 1));
}
