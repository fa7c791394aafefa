import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { CONFIGURATION, type Configuration } from '../config/configuration';
import { WebhookDeliveryService } from './webhook-delivery.service';

const INTERVAL_NAME = 'webhook-delivery';

/**
 * The delivery worker (issue 15). Every WEBHOOK_TICK_MS it claims due
 * deliveries up to WEBHOOK_CONCURRENCY in flight, each under a lease of
 * WEBHOOK_LEASE_MS in the database, so on several instances each delivery is
 * attempted by one at a time, and one that crashed mid-attempt leaves a lease
 * that runs out and is taken over. A tick never overlaps the previous one's
 * claim. On shutdown the interval stops, sends in flight are cut (their
 * leases run out: at least once), and the last queries finish before the
 * database closes. WEBHOOK_DELIVERY=off leaves it idle.
 */
@Injectable()
export class WebhookWorker implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('Webhooks');
  private readonly inFlight = new Set<Promise<void>>();
  private readonly stopping = new AbortController();
  private claiming: Promise<void> | undefined;

  constructor(
    private readonly deliveries: WebhookDeliveryService,
    private readonly scheduler: SchedulerRegistry,
    @Inject(CONFIGURATION) private readonly config: Configuration,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.config.webhooks.delivery) return;
    this.scheduler.addInterval(
      INTERVAL_NAME,
      setInterval(() => this.tick(), this.config.webhooks.tickMs),
    );
  }

  /** One tick: claims what fits beside the deliveries in flight and starts them. Skipped while the previous claim runs. */
  tick(): void {
    if (this.claiming !== undefined || this.stopping.signal.aborted) return;
    const room = this.config.webhooks.concurrency - this.inFlight.size;
    if (room <= 0) return;
    this.claiming = this.claim(room)
      .catch((error: unknown) => this.logger.warn(`claiming webhook deliveries failed: ${(error as Error).message}`))
      .finally(() => (this.claiming = undefined));
  }

  async onModuleDestroy(): Promise<void> {
    if (this.scheduler.doesExist('interval', INTERVAL_NAME)) this.scheduler.deleteInterval(INTERVAL_NAME);
    this.stopping.abort();
    await this.claiming;
    await Promise.allSettled([...this.inFlight]);
  }

  private async claim(room: number): Promise<void> {
    const now = new Date();
    const lease = new Date(now.getTime() + this.config.webhooks.leaseMs);
    const claimed = await this.deliveries.claimDue(now, lease, room);
    for (const delivery of claimed) {
      if (this.stopping.signal.aborted) {
        await this.deliveries.release(delivery, lease);
        continue;
      }
      const run: Promise<void> = this.deliveries
        .attempt(delivery, lease, this.stopping.signal)
        .catch((error: unknown) =>
          this.logger.warn(`webhook delivery ${delivery.eventId} failed unexpectedly: ${(error as Error).message}`),
        )
        .finally(() => this.inFlight.delete(run));
      this.inFlight.add(run);
    }
  }
}
