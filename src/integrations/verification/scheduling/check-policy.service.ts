import { Inject, Injectable } from '@nestjs/common';
import { CONFIGURATION, type Configuration } from '../../../config/configuration';
import type { CheckScheduleConfig } from '../../../config/verification.config';
import { TenantsService } from '../../../tenants/tenants.service';
import { effectiveInterval, nextCheckAt } from './check-schedule';

/**
 * Which re-verification interval applies to a tenant, and so when an
 * integration's next check is due: the one place that combines the tenant's
 * setting with VERIFY_INTERVAL and VERIFY_JITTER, for manual checks, the
 * scheduler and what GET …/verification shows.
 */
@Injectable()
export class CheckPolicy {
  readonly schedule: CheckScheduleConfig;

  constructor(
    private readonly tenants: TenantsService,
    @Inject(CONFIGURATION) config: Configuration,
  ) {
    this.schedule = config.verification.schedule;
  }

  /** The tenant's interval in seconds (0 = checks off); 404 when the tenant is gone. */
  async intervalOf(tenantId: string): Promise<number> {
    return this.intervalFor((await this.tenants.get(tenantId)).verifyInterval);
  }

  /** The interval for a tenant whose own setting is `tenantSeconds` (null: the service's). */
  intervalFor(tenantSeconds: number | null): number {
    return effectiveInterval(tenantSeconds, this.schedule.intervalSeconds);
  }

  /** When the check after one made at `checkedAt` is due; null when checks are off. */
  nextDue(intervalSeconds: number, checkedAt: Date): Date | null {
    return intervalSeconds > 0 ? nextCheckAt(checkedAt, intervalSeconds, this.schedule.jitter) : null;
  }
}
