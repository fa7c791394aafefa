import { Injectable } from '@nestjs/common';
import { chainHash, GENESIS_HASH } from './audit-chain';
import { AuditRepository } from './audit.repository';

/** What a broken link is: `missing` events (removed), a `broken-link` (removed or reordered), a `changed` event. */
export type ChainProblemKind = 'missing' | 'broken-link' | 'changed';

export interface ChainProblem {
  tenant: string;
  /** The first seq where the chain does not hold. */
  seq: number;
  problem: ChainProblemKind;
  message: string;
}

export interface ChainCheck {
  ok: boolean;
  /** Chains walked and events checked. */
  chains: number;
  events: number;
  /** The first broken link of each broken chain. */
  problems: ChainProblem[];
}

export interface VerifyProgress {
  done: number;
  total: number;
  failed: number;
}

/**
 * Walks chains in seq order, in batches, from their anchor (what a prune
 * left) or from the genesis hash, and names the first broken link of each:
 * a seq that does not follow the previous one (events removed), a prev_hash
 * that is not the previous event's hash (an event removed or the order
 * changed), a hash that does not match the event's own fields (changed).
 *
 * What it cannot see: the newest events of a chain removed, with nothing
 * after them to link to them; or an attacker who rewrites the chain from the
 * change onwards, hashes and all. Both are found against a copy kept
 * elsewhere: every event's hash is in the NDJSON export a SIEM receives.
 */
@Injectable()
export class AuditVerifier {
  constructor(private readonly repository: AuditRepository) {}

  /** Every chain, or the one of `tenant` (null when that chain has never been written). */
  async verify(
    options: { tenant?: string; batchSize?: number },
    onProgress: (progress: VerifyProgress) => void = () => undefined,
  ): Promise<ChainCheck | null> {
    const batchSize = Math.max(1, Math.floor(options.batchSize ?? 1000));
    const check: ChainCheck = { ok: true, chains: 0, events: 0, problems: [] };
    if (options.tenant !== undefined) {
      const anchor = await this.repository.anchor(options.tenant);
      const first = await this.repository.after(options.tenant, 0, 1);
      if (anchor === null && first.length === 0) return null;
      await this.walk(options.tenant, batchSize, check);
      onProgress({ done: 1, total: 1, failed: check.problems.length });
      return check;
    }
    const progress = { done: 0, total: await this.repository.countChains(), failed: 0 };
    onProgress(progress);
    for (let after = ''; ;) {
      const chains = await this.repository.chains(after, 500);
      if (chains.length === 0) break;
      for (const chain of chains) {
        await this.walk(chain, batchSize, check);
        progress.done++;
        progress.failed = check.problems.length;
        onProgress(progress);
      }
      after = chains[chains.length - 1];
    }
    return check;
  }

  private async walk(chain: string, batchSize: number, check: ChainCheck): Promise<void> {
    check.chains++;
    const anchor = await this.repository.anchor(chain);
    let previous = anchor === null ? { seq: 0, hash: GENESIS_HASH } : { seq: anchor.seq, hash: anchor.hash };
    const start = previous.seq;
    const from = anchor === null ? 'the start of the chain' : `the anchor left by the retention prune (seq ${anchor.seq})`;
    for (;;) {
      const rows = await this.repository.after(chain, previous.seq, batchSize);
      if (rows.length === 0) return;
      for (const row of rows) {
        check.events++;
        const problem = (kind: ChainProblemKind, seq: number, message: string): void => {
          check.ok = false;
          check.problems.push({ tenant: chain, seq, problem: kind, message });
        };
        const before = previous.seq === start ? from : `seq ${previous.seq}`;
        if (row.seq !== previous.seq + 1) {
          const missing =
            row.seq - 1 === previous.seq + 1 ? `seq ${previous.seq + 1} is missing` : `seqs ${previous.seq + 1}-${row.seq - 1} are missing`;
          return problem('missing', previous.seq + 1, `${missing} after ${before}: events were removed`);
        }
        if (row.prevHash !== previous.hash) {
          return problem(
            'broken-link',
            row.seq,
            `seq ${row.seq} does not link to ${before} (prev_hash differs): an event was removed, replaced or reordered`,
          );
        }
        if (chainHash(row.prevHash, row) !== row.hash) {
          return problem('changed', row.seq, `seq ${row.seq} was changed: its hash does not match its fields`);
        }
        previous = { seq: row.seq, hash: row.hash };
      }
    }
  }
}
