/** The newest event of a chain: what the next one links to. */
export interface ChainHead {
  seq: number;
  hash: string;
  occurredAt: Date;
}

/** Who holds a lane: a caller's transaction (its TypeORM QueryRunner), or one append of its own. */
export type LaneOwner = object;

interface Lane {
  /** The head as committed, as far as this instance knows; undefined = read it from the database. */
  committed: ChainHead | undefined;
  /** The head including the holder's appends that are not committed yet. */
  pending: ChainHead | undefined;
  holder: LaneOwner | undefined;
  waiters: { owner: LaneOwner; grant: (guarded: boolean) => void }[];
  /** Frees a lane whose transaction never said how it ended (its connection was cut). */
  lease: NodeJS.Timeout | undefined;
}

/** How an append may use its chain's lane. */
export interface LaneGrant {
  /** False when the wait timed out: the append goes ahead without the lane, reading the head from the database. */
  readonly guarded: boolean;
  /** The head to link to when it is known here: the holder's own pending one, else the committed one. */
  readonly head: ChainHead | undefined;
}

/**
 * Per chain, one append at a time on this instance, and the chain's head kept
 * in memory so an append costs one statement.
 *
 * An append inside a caller's transaction holds its chain's lane until that
 * transaction commits or rolls back (AuditService hears of both from
 * TypeORM), and the cached head moves only on a commit: a rolled-back append
 * never leaves the cache ahead of the table, so it can never cause a gap.
 * Other instances' appends are not seen here; the cache can only fall behind
 * then, and the primary key (tenant_id, seq) refuses the stale seq (the
 * append reads the head and tries again).
 *
 * A waiter gives up after `waitMs` and appends unguarded (reading the head
 * inside its transaction): two transactions appending to two chains in
 * opposite orders would otherwise wait on each other here forever, where
 * InnoDB can see no deadlock. Bounded: idle lanes beyond `maxLanes` are
 * dropped, oldest use first.
 */
export class ChainLanes {
  private readonly lanes = new Map<string, Lane>();
  /** The chains whose lanes each transaction holds. */
  private readonly held = new Map<LaneOwner, Set<string>>();

  constructor(private readonly options: { waitMs: number; leaseMs: number; maxLanes: number }) {}

  /** Chains with a lane in memory (for tests of the bound). */
  get size(): number {
    return this.lanes.size;
  }

  /** Waits for the chain's lane (at most waitMs); re-entrant for an owner that already holds it. */
  async acquire(chain: string, owner: LaneOwner): Promise<LaneGrant> {
    const lane = this.touch(chain);
    if (lane.holder === owner) return { guarded: true, head: lane.pending ?? lane.committed };
    if (lane.holder === undefined) {
      lane.holder = owner;
      return { guarded: true, head: lane.committed };
    }
    const guarded = await new Promise<boolean>((resolve) => {
      const waiter = {
        owner,
        grant: (granted: boolean) => {
          clearTimeout(timer);
          resolve(granted);
        },
      };
      const timer = setTimeout(() => {
        const index = lane.waiters.indexOf(waiter);
        if (index >= 0) lane.waiters.splice(index, 1);
        resolve(false);
      }, this.options.waitMs);
      lane.waiters.push(waiter);
    });
    return { guarded, head: guarded ? lane.committed : undefined };
  }

  /** The head read from the database by a guarded append (the cache had none, or it was stale). */
  learned(chain: string, owner: LaneOwner, head: ChainHead | undefined): void {
    const lane = this.lanes.get(chain);
    if (lane?.holder !== owner) return;
    if (lane.pending === undefined) lane.committed = head;
    else lane.pending = head;
  }

  /** A guarded append committed at once (no caller transaction): the head moves, the lane is free. */
  committedNow(chain: string, owner: LaneOwner, head: ChainHead): void {
    const lane = this.lanes.get(chain);
    if (lane?.holder !== owner) return;
    lane.committed = head;
    this.release(lane);
  }

  /** A guarded append in `owner`'s open transaction: the lane stays held until it ends. */
  pendingIn(chain: string, owner: LaneOwner, head: ChainHead): void {
    const lane = this.lanes.get(chain);
    if (lane?.holder !== owner) return;
    lane.pending = head;
    let chains = this.held.get(owner);
    if (chains === undefined) this.held.set(owner, (chains = new Set()));
    if (!chains.has(chain)) {
      chains.add(chain);
      lane.lease = setTimeout(() => this.expire(chain, owner), this.options.leaseMs);
      lane.lease.unref();
    }
  }

  /** A guarded append that did not append (it failed): the lane is free, and the cache forgets what it may have got wrong. */
  abandon(chain: string, owner: LaneOwner): void {
    const lane = this.lanes.get(chain);
    if (lane?.holder !== owner || this.held.get(owner)?.has(chain)) return;
    lane.committed = undefined;
    this.release(lane);
  }

  /** `owner`'s transaction ended: on commit its pending heads become the committed ones; on rollback they vanish. */
  transactionEnded(owner: LaneOwner, committed: boolean): void {
    const chains = this.held.get(owner);
    if (chains === undefined) return;
    this.held.delete(owner);
    for (const chain of chains) {
      const lane = this.lanes.get(chain);
      if (lane?.holder !== owner) continue;
      if (committed) lane.committed = lane.pending;
      this.release(lane);
    }
  }

  /** A savepoint inside `owner`'s transaction rolled back: which pending appends survive is unknown, so read the heads again. */
  partlyRolledBack(owner: LaneOwner): void {
    for (const chain of this.held.get(owner) ?? []) {
      const lane = this.lanes.get(chain);
      if (lane?.holder !== owner) continue;
      lane.pending = undefined;
      lane.committed = undefined;
    }
  }

  /** Some chains changed under the cache (a prune, a test's cleanup): read them again. */
  forget(chain?: string): void {
    for (const [name, lane] of this.lanes) {
      if (chain !== undefined && name !== chain) continue;
      lane.committed = undefined;
      lane.pending = undefined;
    }
  }

  private expire(chain: string, owner: LaneOwner): void {
    const lane = this.lanes.get(chain);
    this.held.get(owner)?.delete(chain);
    if (this.held.get(owner)?.size === 0) this.held.delete(owner);
    if (lane?.holder !== owner) return;
    // How that transaction ended is unknown: nothing cached about this chain can be trusted.
    lane.committed = undefined;
    this.release(lane);
  }

  private release(lane: Lane): void {
    clearTimeout(lane.lease);
    lane.lease = undefined;
    lane.pending = undefined;
    lane.holder = undefined;
    const next = lane.waiters.shift();
    if (next !== undefined) {
      lane.holder = next.owner;
      next.grant(true);
      return;
    }
    if (this.lanes.size > this.options.maxLanes) this.evict();
  }

  /** The chain's lane, made the most recently used. */
  private touch(chain: string): Lane {
    let lane = this.lanes.get(chain);
    if (lane === undefined) lane = { committed: undefined, pending: undefined, holder: undefined, waiters: [], lease: undefined };
    else this.lanes.delete(chain);
    this.lanes.set(chain, lane);
    return lane;
  }

  private evict(): void {
    const target = Math.floor(this.options.maxLanes * 0.9);
    for (const [chain, lane] of this.lanes) {
      if (this.lanes.size <= target) return;
      if (lane.holder === undefined && lane.waiters.length === 0) this.lanes.delete(chain);
    }
  }
}
