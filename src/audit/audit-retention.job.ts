import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { AuditService } from './audit.service';

/** How often each instance prunes; the first run comes a minute after the start. */
const PRUNE_EVERY_MS = 60 * 60_000;
const FIRST_PRUNE_AFTER_MS = 60_000;

/**
 * AUDIT_RETENTION_DAYS in the background: AuditService.pruneExpired every
 * hour, one run at a time per instance (runs on several instances are safe).
 * Its timers never keep the process alive.
 */
@Injectable()
export class AuditRetentionJob implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('Audit');
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly audit: AuditService) {}

  onApplicationBootstrap(): void {
    this.schedule(FIRST_PRUNE_AFTER_MS);
  }

  onModuleDestroy(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** One prune now (also what the timer runs); concurrent callers share it. */
  run(): Promise<void> {
    this.running ??= this.prune().finally(() => (this.running = undefined));
    return this.running;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.run().finally(() => this.schedule(PRUNE_EVERY_MS)), ms);
    this.timer.unref();
  }

  private async prune(): Promise<void> {
    try {
      const { chains, events } = await this.audit.pruneExpired();
      if (events > 0) this.logger.log(`pruned ${events} audit events past AUDIT_RETENTION_DAYS from ${chains} chains`);
    } catch (error) {
      if (this.stopped) return;
      const code = (error as { code?: unknown } | null)?.code;
      this.logger.warn(
        `the audit retention prune failed (${error instanceof Error ? error.name : typeof error}${typeof code === 'string' ? ` ${code}` : ''}); it runs again in an hour`,
      );
    }
  }
}
