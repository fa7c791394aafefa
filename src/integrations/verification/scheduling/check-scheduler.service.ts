import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { CONFIGURATION, type Configuration } from '../../../config/configuration';
import type { CheckScheduleConfig } from '../../../config/verification.config';
import { TenantsService } from '../../../tenants/tenants.service';
import { findVendor } from '../../vendors/registry';
import { CredentialCheckService } from '../credential-check.service';
import { VerificationService } from '../verification.service';
import { CheckClaimsRepository, type ClaimedIntegration } from './check-claims.repository';
import { CheckPolicy } from './check-policy.service';
import { isFresh, nextCheckAt } from './check-schedule';
import { HostLimiter } from './host-limiter';
import { Pace } from './pace';

/** The tick's name in @nestjs/schedule's registry. */
export const CHECK_TICK = 'credential-checks';
/** With VERIFY_INTERVAL=0, how often to ask again whether a tenant turned checks on for itself. */
const TENANT_SETTINGS_REFRESH_MS = 5000;
/** How often a summary of the checks made is logged. */
const SUMMARY_EVERY_MS = 60_000;

interface Counts {
  ok: number;
  failed: number;
  deferred: number;
  rescheduled: number;
  errors: number;
}

/**
 * Scheduled re-verification (issue 15). Every VERIFY_TICK_MS, and again
 * whenever a check ends (so a backlog drains at the pace of the checks, not
 * VERIFY_CONCURRENCY per tick: 10,000 due at once would otherwise take 2,500
 * ticks), an instance claims as many due integrations as it has free slots (VERIFY_CONCURRENCY),
 * starting at most VERIFY_MAX_RATE a second,
 * with a lease in the database (see CheckClaimsRepository), so each due
 * integration is checked by one instance; for each it decides:
 *
 * - checks off for its tenant → unscheduled;
 * - last check still younger than the interval (the tenant's interval
 *   changed, or a write with VERIFY_ON_SAVE made it due) → a new due time, no call;
 * - its vendor host at VERIFY_HOST_CONCURRENCY, or paused after trouble → back
 *   in the queue (due when the pause ends);
 * - else the existing verifier runs, and the result is recorded like a manual
 *   check, as `system:scheduler`. A vendor 429/5xx/timeout is not a result:
 *   the host pauses (exponential, or its Retry-After) and the integration is
 *   due again after the pause.
 *
 * Ticks never overlap (one still claiming makes the next a no-op); checks run
 * beside the ticks. Shutdown stops the tick and waits for checks in flight
 * (each bounded by VERIFY_TIMEOUT_MS), so nothing touches the database after
 * the app closes. Only AppModule imports this: command-line contexts never tick.
 */
@Injectable()
export class CheckScheduler implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('CredentialChecks');
  private readonly config: CheckScheduleConfig;
  private readonly hosts: HostLimiter;
  private readonly inFlight = new Set<Promise<void>>();
  private ticking: Promise<void> | undefined;
  /** A check ended while a tick was claiming: claim again when that tick ends. */
  private refillWanted = false;
  private refillTimer: NodeJS.Timeout | undefined;
  private readonly pace: Pace;
  private stopped = false;
  private tenantChecks: { on: boolean; at: number } | undefined;
  private sweepDone = false;
  private counts: Counts = { ok: 0, failed: 0, deferred: 0, rescheduled: 0, errors: 0 };
  private lastSummary = Date.now();
  private failing = false;

  constructor(
    private readonly claims: CheckClaimsRepository,
    private readonly verification: VerificationService,
    private readonly checker: CredentialCheckService,
    private readonly policy: CheckPolicy,
    private readonly tenants: TenantsService,
    private readonly registry: SchedulerRegistry,
    @Inject(CONFIGURATION) config: Configuration,
  ) {
    this.config = config.verification.schedule;
    this.hosts = new HostLimiter(this.config.hostConcurrency);
    this.pace = new Pace(this.config.maxRate, this.config.concurrency);
  }

  onApplicationBootstrap(): void {
    const timer = setInterval(() => void this.tick(), this.config.tickMs);
    // A pending tick must not keep a process alive that is otherwise done.
    timer.unref();
    this.registry.addInterval(CHECK_TICK, timer);
    const every =
      this.config.intervalSeconds > 0 ? `every ${this.config.intervalSeconds} s` : 'only for tenants with their own verify-interval';
    this.logger.log(
      `scheduled credential checks ${every}, ${this.config.concurrency} at a time (${this.config.hostConcurrency} per vendor host)`,
    );
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.refillTimer);
    if (this.registry.doesExist('interval', CHECK_TICK)) this.registry.deleteInterval(CHECK_TICK);
    await this.ticking;
    await Promise.allSettled([...this.inFlight]);
  }

  /** One tick: a no-op while the last one still claims, or after shutdown began. Public for tests that drive it. */
  tick(): Promise<void> {
    if (this.stopped || this.ticking !== undefined) return this.ticking ?? Promise.resolve();
    this.ticking = this.claimAndStart()
      .then(
        () => {
          this.failing = false;
        },
        (error: unknown) => this.warnOnce(error),
      )
      .finally(() => {
        this.ticking = undefined;
        this.summarize();
        if (this.refillWanted) {
          this.refillWanted = false;
          this.refill();
        }
      });
    return this.ticking;
  }

  /** A slot came free: claim for it now rather than at the next tick. */
  private refill(): void {
    if (this.stopped) return;
    if (this.ticking !== undefined) this.refillWanted = true;
    else void this.tick();
  }

  private refillLater(ms: number): void {
    if (this.refillTimer !== undefined || this.stopped) return;
    this.refillTimer = setTimeout(() => {
      this.refillTimer = undefined;
      this.refill();
    }, ms);
    this.refillTimer.unref();
  }

  private async claimAndStart(): Promise<void> {
    if (!(await this.enabled())) return;
    if (!this.sweepDone && this.config.intervalSeconds > 0) {
      // Integrations left unscheduled while checks were off everywhere come due now, once per start.
      const picked = await this.claims.scheduleUnscheduled(new Date());
      this.sweepDone = true;
      if (picked > 0) this.logger.log(`${picked} integrations never scheduled are due now`);
    }
    if (this.stopped || this.inFlight.size >= this.config.concurrency) return;
    const free = this.pace.take(this.config.concurrency - this.inFlight.size);
    if (free === 0) {
      // At VERIFY_MAX_RATE: come back when the next start is allowed, not a whole tick later.
      this.refillLater(this.pace.msUntilNext());
      return;
    }
    const now = new Date();
    const claimed = await this.claims.claim(now, new Date(now.getTime() + this.config.leaseMs), free);
    this.pace.giveBack(free - claimed.length);
    if (claimed.length === 0) return;
    const intervals = await this.tenants.verifyIntervals([...new Set(claimed.map((c) => c.tenantId))]);
    for (const integration of claimed) {
      // A tenant deleted meanwhile took its integrations with it.
      if (!intervals.has(integration.tenantId)) continue;
      await this.decide(integration, this.policy.intervalFor(intervals.get(integration.tenantId)!), now);
    }
  }

  private async decide(integration: ClaimedIntegration, interval: number, now: Date): Promise<void> {
    const { tenantId, id } = integration;
    if (interval === 0) return this.claims.release(tenantId, id, null);
    const { jitter } = this.config;
    if (isFresh(integration.verifiedAt, interval, jitter, now)) {
      this.counts.rescheduled++;
      return this.claims.release(tenantId, id, nextCheckAt(integration.verifiedAt!, interval, jitter));
    }
    const vendor = findVendor(integration.type);
    if (vendor === undefined) return this.claims.release(tenantId, id, null);
    const host = this.checker.hostOf(vendor);
    if (!this.hosts.tryAcquire(host)) {
      // Busy or paused: back in the queue, due when the pause ends (or at once, for the next free slot).
      return this.claims.release(tenantId, id, new Date(this.hosts.pausedUntil(host) ?? now.getTime()));
    }
    const running: Promise<void> = this.check(integration, interval, host).finally(() => {
      this.inFlight.delete(running);
      this.refill();
    });
    this.inFlight.add(running);
  }

  private async check(integration: ClaimedIntegration, interval: number, host: string): Promise<void> {
    const { tenantId, id } = integration;
    let trouble = false;
    try {
      const outcome = await this.verification.verifyScheduled(tenantId, id, interval);
      if (outcome.kind === 'vendor-trouble') {
        trouble = true;
        const until = this.hosts.release(host, { trouble: true, retryAfterMs: outcome.trouble.retryAfterMs });
        this.counts.deferred++;
        this.logger.warn(`${host} answered ${outcome.trouble.reason}: checks on it paused until ${new Date(until).toISOString()}`);
        await this.claims.release(tenantId, id, new Date(until));
        return;
      }
      this.counts[outcome.status]++;
    } catch (error) {
      // Deleted meanwhile, a secret that will not decrypt, the database away: the lease runs out and it is tried again.
      this.counts.errors++;
      if (!this.stopped)
        this.logger.warn(`scheduled check of ${tenantId}/${id} failed: ${describe(error)}; tried again when its claim expires`);
    } finally {
      if (!trouble) this.hosts.release(host, { trouble: false });
    }
  }

  /** On when VERIFY_INTERVAL is, or when a tenant set its own (asked again every few seconds). */
  private async enabled(): Promise<boolean> {
    if (this.config.intervalSeconds > 0) return true;
    const now = Date.now();
    if (this.tenantChecks === undefined || now - this.tenantChecks.at >= TENANT_SETTINGS_REFRESH_MS) {
      this.tenantChecks = { on: await this.tenants.anyWithChecks(), at: now };
    }
    return this.tenantChecks.on;
  }

  private summarize(): void {
    const now = Date.now();
    if (now - this.lastSummary < SUMMARY_EVERY_MS) return;
    const { ok, failed, deferred, rescheduled, errors } = this.counts;
    if (ok + failed + deferred + rescheduled + errors > 0) {
      this.logger.log(
        `credential checks in the last ${Math.round((now - this.lastSummary) / 1000)} s: ${ok} ok, ${failed} failed, ` +
          `${deferred} deferred (vendor trouble), ${rescheduled} rescheduled without a call, ${errors} errors; ${this.inFlight.size} running`,
      );
    }
    this.counts = { ok: 0, failed: 0, deferred: 0, rescheduled: 0, errors: 0 };
    this.lastSummary = now;
  }

  private warnOnce(error: unknown): void {
    if (this.stopped || this.failing) return;
    this.failing = true;
    this.logger.warn(`claiming due integrations failed (${describe(error)}); trying again every tick`);
  }
}

/** An error's name and code only: driver messages can quote SQL, vendor ones accounts. */
function describe(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return `${error instanceof Error ? error.name : typeof error}${typeof code === 'string' ? ` ${code}` : ''}`;
}
