import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { CONFIGURATION, type Configuration } from '../../config/configuration';
import { IntegrationsRepository } from '../integrations.repository';
import { VersionsRepository } from './versions.repository';
import { VersionsService } from './versions.service';

/** Tombstones looked at per query. */
const BATCH = 100;
/** Integrations per page of a full pass's walk. */
const WALK_PAGE = 1000;
/** Versions deleted per statement. */
const CHUNK = 500;
/** Every this many passes (the first included), trimming walks every integration, not only those this instance wrote. */
const FULL_PASS_EVERY = 24;
const DAY_MS = 86_400_000;

export interface PruneSummary {
  /** Versions deleted (beyond HISTORY_MAX_VERSIONS, or of deleted integrations past HISTORY_RETENTION_DAYS). */
  versions: number;
  /** Deleted integrations whose tombstone (and so their history) went. */
  integrations: number;
}

/**
 * Prunes integration versions in the background, every
 * HISTORY_PRUNE_INTERVAL_MS on every instance (the statements are
 * conditional and idempotent, so instances may overlap):
 *
 * - each integration keeps its newest HISTORY_MAX_VERSIONS. Revisions are
 *   consecutive, so that is a range delete on the primary key, in chunks.
 *   Which integrations to look at: those this instance wrote past the limit
 *   since the last pass, and on the first pass and every FULL_PASS_EVERY-th
 *   all of them (what other instances, or a crashed one, wrote), walked by
 *   key a page at a time, so that no statement scans the whole table;
 * - a deleted integration's tombstone, with its versions, goes
 *   HISTORY_RETENTION_DAYS after the delete (found by the deleted_at index).
 *
 * A plain unref'd timer: @nestjs/schedule is not a dependency, and one timer
 * needs none. One pass at a time; the next is scheduled when the last ends,
 * and shutting down waits for a pass in progress.
 */
@Injectable()
export class HistoryPruner implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('IntegrationHistory');
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private stopped = false;
  private passes = 0;
  private failing = false;

  constructor(
    private readonly versions: VersionsService,
    private readonly versionRows: VersionsRepository,
    private readonly integrations: IntegrationsRepository,
    @Inject(CONFIGURATION) private readonly config: Configuration,
  ) {}

  onModuleInit(): void {
    this.schedule();
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /**
   * One pass. `now` moves the retention cutoff (tests); `full` walks every
   * integration for trimming instead of those written since the last pass.
   */
  async prune(options: { now?: Date; full?: boolean } = {}): Promise<PruneSummary> {
    const { maxVersions: keep, retentionDays } = this.config.history;
    const summary: PruneSummary = { versions: 0, integrations: 0 };
    const written = this.versions.takeWritten();
    const full = options.full ?? (written === undefined || this.passes % FULL_PASS_EVERY === 0);
    this.passes++;

    if (full) {
      // Every integration, a page of keys at a time (each statement reads a bounded range); only those past `keep` can have more.
      let after: { tenantId: string; id: string } | undefined;
      for (;;) {
        const page = await this.integrations.revisionsAfter(after, WALK_PAGE);
        for (const integration of page) {
          if (integration.revision > keep)
            summary.versions += await this.trim(integration.tenantId, integration.id, integration.revision - keep);
        }
        if (page.length < WALK_PAGE) break;
        after = page[page.length - 1];
      }
    } else {
      for (const { tenantId, id } of written ?? []) {
        const current = await this.integrations.findCurrent(tenantId, id);
        if (current !== null && current.revision > keep) summary.versions += await this.trim(tenantId, id, current.revision - keep);
      }
    }

    const cutoff = new Date((options.now ?? new Date()).getTime() - retentionDays * DAY_MS);
    for (;;) {
      const batch = await this.integrations.expiredTombstones(cutoff, BATCH);
      for (const tombstone of batch) {
        // Its versions first, in chunks, all but the delete's own; then the tombstone takes that one with it (the foreign key cascades).
        const trimmed = await this.trim(tombstone.tenantId, tombstone.id, tombstone.revision - 1);
        if (await this.integrations.removeTombstone(tombstone.tenantId, tombstone.id, tombstone.revision)) {
          summary.integrations++;
          summary.versions += trimmed + 1;
        } else {
          summary.versions += trimmed;
        }
      }
      if (batch.length < BATCH) break;
    }
    return summary;
  }

  /** Deletes the integration's versions up to `upTo`, a chunk per statement. */
  private async trim(tenantId: string, id: string, upTo: number): Promise<number> {
    let deleted = 0;
    for (;;) {
      const chunk = await this.versionRows.deleteOldest(tenantId, id, upTo, CHUNK);
      deleted += chunk;
      if (chunk < CHUNK) return deleted;
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.pass().finally(() => {
        this.running = undefined;
        this.schedule();
      });
    }, this.config.history.pruneIntervalMs);
    this.timer.unref();
  }

  private async pass(): Promise<void> {
    try {
      const summary = await this.prune();
      if (summary.versions > 0 || summary.integrations > 0) {
        this.logger.log(`pruned ${summary.versions} versions and ${summary.integrations} deleted integrations past their retention`);
      }
      this.failing = false;
    } catch (error) {
      if (this.stopped) return;
      // Once per outage, and only the error's name and code: driver messages can quote SQL.
      if (!this.failing) {
        const code = (error as { code?: unknown } | null)?.code;
        this.logger.warn(
          `pruning versions failed (${error instanceof Error ? error.name : typeof error}${typeof code === 'string' ? ` ${code}` : ''}); trying again later`,
        );
      }
      this.failing = true;
    }
  }
}
