import { Inject, Injectable } from '@nestjs/common';
import { RevokedClients } from '../auth/service-tokens';
import { CONFIGURATION, type Configuration } from '../config/configuration';
import { ClientsRepository } from './clients.repository';

/** Rows read per query; a burst of deletions is read in several queries of one poll. */
const BATCH = 1000;
/**
 * How far behind the highest `seq` seen each poll reads again. On MySQL an
 * auto-increment value is taken when a row is inserted, not when it commits,
 * so a revocation can become visible after one with a higher `seq`. Reading a
 * few dozen back costs nothing (revocations are rare) and closes that gap.
 */
const SEQ_OVERLAP = 64;

/**
 * Keeps RevokedClients in step with the database: deleting a client writes a
 * revocation row (in the same transaction as the delete); every instance
 * reads the rows it has not seen, incrementally by `seq`, every
 * REVOCATION_POLL_MS, so a deleted client's live token is refused everywhere
 * within about that time, with no query on the request path.
 */
@Injectable()
export class RevocationsService {
  private highestSeq = 0;

  constructor(
    private readonly repository: ClientsRepository,
    private readonly revoked: RevokedClients,
    @Inject(CONFIGURATION) private readonly config: Configuration,
  ) {}

  /** When a token of a client deleted at `at` has surely expired: TOKEN_TTL plus the clock tolerance plus a minute. */
  revocationEnds(at: Date): Date {
    return new Date(at.getTime() + (this.config.clients.tokenTtlSeconds + this.config.auth.clockToleranceSec + 60) * 1000);
  }

  /** On the instance that deleted the client: at once, before the next poll. */
  revokeHere(clientId: string, until: Date): void {
    this.revoked.add(clientId, until.getTime());
  }

  /** Reads the revocations this instance has not seen (all live ones on the first call). */
  async poll(): Promise<void> {
    const now = new Date();
    for (;;) {
      const rows = await this.repository.revocationsAfter(Math.max(0, this.highestSeq - SEQ_OVERLAP), now, BATCH);
      for (const row of rows) {
        this.revoked.add(row.clientId, row.expiresAt.getTime());
        if (row.seq > this.highestSeq) this.highestSeq = row.seq;
      }
      if (rows.length < BATCH) break;
    }
    this.revoked.prune(now.getTime());
  }

  /** Deletes rows that no live token needs (any instance may do it; it is idempotent). */
  prune(): Promise<void> {
    return this.repository.pruneRevocations(new Date(Date.now() - 3600_000));
  }
}
