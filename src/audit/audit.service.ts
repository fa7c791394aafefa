import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { EntityManager, EntitySubscriberInterface, QueryRunner, TransactionCommitEvent, TransactionRollbackEvent } from 'typeorm';
import { AUDIT_UNAVAILABLE_MESSAGES, AuditUnavailableError } from '../common/errors/domain-errors';
import type { RequestActor } from '../common/request-actor';
import { CONFIGURATION, type Configuration } from '../config/configuration';
import { QUERY_TIMEOUT_MS } from '../database/data-source-options';
import { isDatabaseUnavailable, isDuplicateKey, isRetryableConflict } from '../database/database-errors';
import { DatabaseService } from '../database/database.service';
import { type AuditAction, chainHash, FIELD_LIMITS, GENESIS_HASH, storable, storableOrNull } from './audit-chain';
import { AuditEventEntity } from './audit-event.entity';
import { AuditRepository, type EventFilter } from './audit.repository';
import { type ChainHead, ChainLanes, type LaneOwner } from './chain-lanes';

/** One thing that happened, as a caller reports it. */
export interface AuditEvent {
  /** The tenant whose chain records it, or PLATFORM_CHAIN for platform-wide actions. */
  tenantId: string;
  actor: RequestActor;
  action: AuditAction;
  /** What it acted on: an integration id, an API client id, `master-key:<id>`, … Never a secret. */
  target: string;
  /** The HTTP status answered (for work outside HTTP, the status the same change would answer). */
  outcome: number;
}

/** Responses that carried plaintext secrets: one event per thing shown. */
export interface SecretRead {
  tenantId: string;
  actor: RequestActor;
  /** What was shown in plaintext: one target per integration (or version) whose secrets the response carries. */
  targets: readonly string[];
  /** Default 200. */
  outcome?: number;
}

/**
 * Appends to a chain try this often: a duplicate seq means another instance
 * appended meanwhile (the lane keeps this one's own appends in line), so each
 * retry reads the head again. Beyond it the caller gets AUDIT_UNAVAILABLE
 * (503), never a 500.
 */
const MAX_APPEND_ATTEMPTS = 12;
/** How long an append waits for its chain's lane before going ahead unguarded (see ChainLanes). */
const LANE_WAIT_MS = 3000;
/** A lane held by a transaction that never says how it ended is freed after the longest a database operation may take. */
const LANE_LEASE_MS = QUERY_TIMEOUT_MS + 2000;
/** Chains whose head this instance keeps in memory. */
const MAX_LANES = 10_000;
/** Events per INSERT: 12 parameters each, and SQLite binds at most 32,766. */
const MAX_ROWS_PER_INSERT = 1000;

const GENESIS: ChainHead = { seq: 0, hash: GENESIS_HASH, occurredAt: new Date(0) };

/**
 * The audit trail: an append-only, hash-chained event per privileged action,
 * one chain per tenant (and one for the platform), kept after the tenant is
 * deleted.
 *
 * `record(event, tx)` appends inside the caller's transaction, so a change and
 * its event commit together (or neither does); without `tx` it appends on its
 * own. Call it last in the transaction: the chain's lane (ChainLanes) is held
 * from the append until the transaction ends.
 *
 * Round trips per append, counted by test/audit/audit-chain.e2e-spec.ts on
 * both engines: one INSERT when this instance knows the chain's head, which is
 * the steady state (0.8 ms an append on this machine's MariaDB, 0.3 ms on
 * SQLite, 200 in a row); two (a head SELECT first) for a chain it has not
 * seen, or after another instance or the command line appended to it (the
 * stale seq fails on the primary key and the head is read again). Inside a
 * caller's transaction that INSERT is the only statement added; outside, it
 * is autocommitted, with concurrent appends to one chain written together in
 * one INSERT. Why not the conditional INSERT … SELECT (max(seq) = cached): its
 * SELECT part takes shared next-key locks outside READ COMMITTED, the gap
 * locks that deadlocked neighbouring chains, and an append of its own would
 * need a transaction (four round trips with TypeORM's SET TRANSACTION, START,
 * COMMIT) to avoid them; with the head cached only on commit, the primary key
 * alone keeps a chain without duplicates or gaps.
 */
@Injectable()
export class AuditService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('Audit');
  private readonly lanes = new ChainLanes({ waitMs: LANE_WAIT_MS, leaseMs: LANE_LEASE_MS, maxLanes: MAX_LANES });
  private readonly subscriber: EntitySubscriberInterface;
  /** Appends of their own waiting for their chain's writer (appendOwn). */
  private readonly ownQueues = new Map<
    string,
    { events: readonly AuditEvent[]; failure: string; resolve: (rows: AuditEventEntity[]) => void; reject: (error: unknown) => void }[]
  >();

  constructor(
    private readonly repository: AuditRepository,
    private readonly db: DatabaseService,
    @Inject(CONFIGURATION) private readonly config: Configuration,
  ) {
    // How a caller's transaction ended: its appends' heads become the cached ones only on a commit.
    this.subscriber = {
      listenTo: () => AuditEventEntity,
      afterTransactionCommit: (event: TransactionCommitEvent) => this.ended(event.queryRunner, true),
      afterTransactionRollback: (event: TransactionRollbackEvent) => this.ended(event.queryRunner, false),
    };
  }

  onModuleInit(): void {
    this.db.dataSource.subscribers.push(this.subscriber);
  }

  /**
   * Not at onModuleDestroy: Nest calls that before the HTTP server stops, while
   * requests are still in flight, and their transactions' commits must still
   * free their chains' lanes (otherwise every later append to those chains waits
   * for the lane's lease, and a graceful shutdown runs out of time).
   */
  onApplicationShutdown(): void {
    const index = this.db.dataSource.subscribers.indexOf(this.subscriber);
    if (index >= 0) this.db.dataSource.subscribers.splice(index, 1);
  }

  /** Whether plaintext reads must be recorded (AUDIT_SECRET_READS=required). */
  get secretReadsRequired(): boolean {
    return this.config.audit.secretReads === 'required';
  }

  /**
   * Appends one event: in `tx` when given (it commits or rolls back with the
   * caller's change), else on its own. Throws AuditUnavailableError (503, with
   * `failure` as its message) when it cannot be written; a deadlock inside
   * `tx` is rethrown as it is, so that DatabaseService.transaction runs the
   * caller's work again, and an unreachable database answers 503 as usual.
   */
  async record(event: AuditEvent, tx?: EntityManager, failure: string = AUDIT_UNAVAILABLE_MESSAGES.change): Promise<AuditEventEntity> {
    const [row] = await this.appendAll([event], tx, failure);
    return row;
  }

  /** Appends several events (one chain after another, in id order), like `record`. */
  recordAll(events: readonly AuditEvent[], tx?: EntityManager): Promise<AuditEventEntity[]> {
    return this.appendAll(events, tx, AUDIT_UNAVAILABLE_MESSAGES.change);
  }

  /** `failure` is the message of the AuditUnavailableError when the events cannot be written. */
  private async appendAll(events: readonly AuditEvent[], tx: EntityManager | undefined, failure: string): Promise<AuditEventEntity[]> {
    const byChain = new Map<string, AuditEvent[]>();
    for (const event of events) byChain.set(event.tenantId, [...(byChain.get(event.tenantId) ?? []), event]);
    const rows: AuditEventEntity[] = [];
    // Always in the same order, so two transactions appending to the same chains never wait on each other's lanes.
    for (const chain of [...byChain.keys()].sort()) {
      const chainEvents = byChain.get(chain)!;
      // One statement per MAX_ROWS_PER_INSERT events: SQLite binds at most 32,766 parameters.
      for (let i = 0; i < chainEvents.length; i += MAX_ROWS_PER_INSERT) {
        rows.push(...(await this.append(chain, chainEvents.slice(i, i + MAX_ROWS_PER_INSERT), tx, failure)));
      }
    }
    return rows;
  }

  /**
   * Vault's rule for a response that carries plaintext secrets: its events
   * are written before it is sent, and when they cannot be, the caller gets
   * AuditUnavailableError (503, Retry-After) instead of the secret. Nothing
   * with AUDIT_SECRET_READS=off.
   */
  async recordSecretRead(read: SecretRead): Promise<void> {
    if (!this.secretReadsRequired || read.targets.length === 0) return;
    const events = read.targets.map((target) => ({
      tenantId: read.tenantId,
      actor: read.actor,
      action: 'integration.secret-read' as const,
      target,
      outcome: read.outcome ?? 200,
    }));
    try {
      await this.appendAll(events, undefined, AUDIT_UNAVAILABLE_MESSAGES.secretRead);
    } catch (error) {
      if (error instanceof AuditUnavailableError) throw error;
      // The database itself is unreachable: the same answer, the secret stays unsent.
      this.logFailure(error);
      throw new AuditUnavailableError(AUDIT_UNAVAILABLE_MESSAGES.secretRead);
    }
  }

  // --- reads ---

  /** Whether a chain was ever written (events, or the anchor a prune left). */
  chainExists(chain: string): Promise<boolean> {
    return this.repository.chainExists(chain);
  }

  /** Events of a chain in seq order, filtered, at most `limit`. */
  find(chain: string, filter: EventFilter, limit: number): Promise<AuditEventEntity[]> {
    return this.repository.find(chain, filter, limit);
  }

  // --- retention ---

  /**
   * Removes the events older than AUDIT_RETENTION_DAYS: a prefix of each
   * chain (a chain's times never go back), at most `batchSize` events per
   * transaction, each with its chain's anchor moved in the same transaction
   * so `audit:verify` still finds the first kept event linked. Safe to run on
   * several instances at once.
   */
  async pruneExpired(now = new Date(), batchSize = 1000): Promise<{ chains: number; events: number }> {
    const summary = { chains: 0, events: 0 };
    const days = this.config.audit.retentionDays;
    if (days === 0) return summary;
    const cutoff = new Date(now.getTime() - days * 86_400_000);
    for (let after = ''; ;) {
      const starts = await this.repository.starts(after, 200);
      if (starts.length === 0) return summary;
      for (const start of starts) {
        if (start.occurredAt >= cutoff) continue;
        let from = start.seq;
        let pruned = 0;
        for (;;) {
          const batch = await this.db.transaction(async (tx) => {
            const last = await this.repository.lastBefore(start.tenantId, from, cutoff, batchSize, tx);
            return last === null ? undefined : { last: last.seq, removed: await this.repository.pruneThrough(last, now, tx) };
          });
          if (batch === undefined) break;
          pruned += batch.removed;
          from = batch.last + 1;
        }
        summary.events += pruned;
        if (pruned > 0) summary.chains++;
      }
      after = starts[starts.length - 1].tenantId;
    }
  }

  // --- appending ---

  private async append(
    chain: string,
    events: readonly AuditEvent[],
    tx: EntityManager | undefined,
    failure: string,
  ): Promise<AuditEventEntity[]> {
    const runner = tx?.queryRunner;
    if (runner !== undefined && runner.isTransactionActive) return this.appendWith(chain, events, tx, runner, true, failure);
    if (tx !== undefined) return this.appendWith(chain, events, tx, {}, false, failure);
    return this.appendOwn(chain, events, failure);
  }

  /**
   * An append of its own (no caller transaction): queued per chain, and the
   * queue's appends written together, one INSERT for all of them. Only the
   * writer at the head of a chain's queue holds a pooled connection, and it
   * takes the connection before the chain's lane: a transaction holding a
   * lane only ever waits for its own commit, never for a connection that an
   * own append waiting for the lane would hold (20 requests renaming one
   * tenant while 100 reads of its secrets were recorded exhausted the pool that way).
   */
  private appendOwn(chain: string, events: readonly AuditEvent[], failure: string): Promise<AuditEventEntity[]> {
    return new Promise((resolve, reject) => {
      const entry = { events, failure, resolve, reject };
      const queue = this.ownQueues.get(chain);
      if (queue !== undefined) {
        queue.push(entry);
        return;
      }
      this.ownQueues.set(chain, [entry]);
      void this.flushOwn(chain);
    });
  }

  private async flushOwn(chain: string): Promise<void> {
    const queue = this.ownQueues.get(chain)!;
    for (;;) {
      let count = 0;
      let taken = 0;
      while (taken < queue.length && (taken === 0 || count + queue[taken].events.length <= MAX_ROWS_PER_INSERT))
        count += queue[taken++].events.length;
      const batch = queue.splice(0, taken);
      if (batch.length === 0) {
        this.ownQueues.delete(chain);
        return;
      }
      try {
        const all = batch.flatMap((entry) => entry.events);
        const rows = await this.db.run((manager) => this.appendWith(chain, all, manager, {}, false, batch[0].failure));
        let from = 0;
        for (const entry of batch) {
          entry.resolve(rows.slice(from, from + entry.events.length));
          from += entry.events.length;
        }
      } catch (error) {
        // Each caller hears of the failure in its own words (a secret read's 503 says the secret was not sent).
        for (const entry of batch) entry.reject(error instanceof AuditUnavailableError ? new AuditUnavailableError(entry.failure) : error);
      }
    }
  }

  private async appendWith(
    chain: string,
    events: readonly AuditEvent[],
    manager: EntityManager | undefined,
    owner: LaneOwner,
    inTransaction: boolean,
    failure: string,
  ): Promise<AuditEventEntity[]> {
    const grant = await this.lanes.acquire(chain, owner);
    let appended = false;
    try {
      let head = grant.head;
      for (let attempt = 1; ; attempt++) {
        try {
          if (head === undefined) {
            head = (await this.repository.head(chain, manager)) ?? GENESIS;
            if (grant.guarded) this.lanes.learned(chain, owner, head);
          }
          const rows = this.link(chain, head, events);
          await this.repository.insert(rows, manager);
          const last = rows[rows.length - 1];
          const newHead = { seq: last.seq, hash: last.hash, occurredAt: last.occurredAt };
          if (grant.guarded) {
            if (inTransaction) this.lanes.pendingIn(chain, owner, newHead);
            else this.lanes.committedNow(chain, owner, newHead);
          }
          appended = true;
          return rows;
        } catch (error) {
          const raced = isDuplicateKey(error) || (!inTransaction && isRetryableConflict(error));
          if (raced && attempt < MAX_APPEND_ATTEMPTS) {
            // Another instance took this seq (or InnoDB picked this statement as a deadlock victim): read the head again.
            head = undefined;
            await pause(attempt);
            continue;
          }
          // Inside the caller's transaction a deadlock has rolled it back: the caller must run it again.
          if (!raced && (isRetryableConflict(error) || isDatabaseUnavailable(error))) throw error;
          this.logFailure(error);
          throw new AuditUnavailableError(failure);
        }
      }
    } finally {
      if (!appended && grant.guarded) this.lanes.abandon(chain, owner);
    }
  }

  /** The rows that append `events` to the chain after `head`: consecutive seqs, each hash over the previous one. */
  private link(chain: string, head: ChainHead, events: readonly AuditEvent[]): AuditEventEntity[] {
    // Never earlier than the head, so a chain is in time order too (clocks of instances differ).
    const now = Math.max(Date.now(), head.occurredAt.getTime());
    let previous = head;
    return events.map((event) => {
      const row: AuditEventEntity = {
        tenantId: chain,
        seq: previous.seq + 1,
        occurredAt: new Date(now),
        actorSub: storable(event.actor.sub, FIELD_LIMITS.actorSub),
        action: event.action,
        target: storable(event.target, FIELD_LIMITS.target),
        outcome: event.outcome,
        requestId: storableOrNull(event.actor.requestId, FIELD_LIMITS.requestId),
        clientAddress: storableOrNull(event.actor.address, FIELD_LIMITS.clientAddress),
        userAgent: storableOrNull(event.actor.userAgent, FIELD_LIMITS.userAgent),
        prevHash: previous.hash,
        hash: '',
      };
      row.hash = chainHash(previous.hash, row);
      previous = { seq: row.seq, hash: row.hash, occurredAt: row.occurredAt };
      return row;
    });
  }

  private ended(runner: QueryRunner | undefined, committed: boolean): void {
    if (runner === undefined) return;
    if (runner.isTransactionActive) {
      // A savepoint ended, not the transaction.
      if (!committed) this.lanes.partlyRolledBack(runner);
      return;
    }
    this.lanes.transactionEnded(runner, committed);
  }

  /** Name and code only: driver messages can quote SQL and its parameters. */
  private logFailure(error: unknown): void {
    const name = error instanceof Error ? error.name : typeof error;
    const code =
      (error as { code?: unknown; driverError?: { code?: unknown } } | null)?.driverError?.code ??
      (error as { code?: unknown } | null)?.code;
    this.logger.error(
      `the audit trail could not be written (${name}${typeof code === 'string' ? ` ${code}` : ''}); the request was refused with 503`,
    );
  }
}

/** A short random wait that grows with the attempt, so racing instances spread out. */
function pause(attempt: number): Promise<void> {
  const ms = Math.random() * Math.min(2 ** attempt, 50);
  return new Promise((resolve) => setTimeout(resolve, ms));
}
