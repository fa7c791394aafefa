import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { VerifiedTokenCache } from '../auth/service-tokens';
import { CONFIGURATION, type Configuration } from '../config/configuration';
import { RevocationsService } from './revocations.service';
import { SIGNING_KEY_REFRESH_MS, SigningKeysService } from './signing-keys.service';

const PRUNE_EVERY_MS = 10 * 60_000;

/**
 * What each instance must learn from the database without a query per
 * request: revocations every REVOCATION_POLL_MS, the signing keys every
 * SIGNING_KEY_REFRESH_MS. One poll at a time (the next is scheduled when the
 * last one is done), so a slow database is never asked twice at once. When
 * the database is down the last known state stays in force, and requests
 * that need the database answer 503 meanwhile anyway.
 */
@Injectable()
export class AuthStatePoller implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('AuthState');
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private failing = false;
  private lastKeys = 0;
  private lastPrune = 0;

  constructor(
    private readonly revocations: RevocationsService,
    private readonly signingKeys: SigningKeysService,
    private readonly verified: VerifiedTokenCache,
    @Inject(CONFIGURATION) private readonly config: Configuration,
  ) {
    // A key dropped from the set takes the tokens it verified out of the cache with it.
    this.signingKeys.onChange(() => this.verified.clear());
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.revocations.poll();
    await this.signingKeys.ensureSigningKey();
    this.lastKeys = this.lastPrune = Date.now();
    this.schedule();
  }

  onModuleDestroy(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick().finally(() => this.schedule()), this.config.clients.revocationPollMs);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    try {
      await this.revocations.poll();
      const now = Date.now();
      if (now - this.lastKeys >= SIGNING_KEY_REFRESH_MS) {
        this.lastKeys = now;
        await this.signingKeys.refresh();
      }
      if (now - this.lastPrune >= PRUNE_EVERY_MS) {
        this.lastPrune = now;
        await this.revocations.prune();
      }
      if (this.failing) this.logger.log('revocations and signing keys are read from the database again');
      this.failing = false;
    } catch (error) {
      if (this.stopped) return;
      // Once per outage, and only the error's name and code: driver messages can quote SQL.
      if (!this.failing) {
        const code = (error as { code?: unknown } | null)?.code;
        this.logger.warn(`could not read revocations and signing keys (${error instanceof Error ? error.name : typeof error}${typeof code === 'string' ? ` ${code}` : ''}); keeping the last ones`);
      }
      this.failing = true;
    }
  }
}
