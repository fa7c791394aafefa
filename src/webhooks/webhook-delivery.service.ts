import { Inject, Injectable, Logger } from '@nestjs/common';
import { AuditService } from '../audit/audit.service';
import { systemActor } from '../common/request-actor';
import { DatabaseService } from '../database/database.service';
import { CONFIGURATION, type Configuration } from '../config/configuration';
import { retryDelayMs } from './backoff';
import type { WebhookDeliveryEntity } from './webhook-delivery.entity';
import { type SendResult, WebhookSender } from './webhook-sender';
import { WebhookSecrets } from './webhook-secrets';
import { hostOf } from './webhook-url';
import type { WebhookEntity } from './webhook.entity';
import { WebhooksRepository } from './webhooks.repository';

/** Who turns a failing endpoint off, in the audit trail. */
export const WEBHOOK_WORKER_ACTOR = systemActor('system:webhooks');

/** The `disabled-reason` of an endpoint the worker turned off. */
export function disabledReason(failingSince: Date, lastError: string): string {
  return (
    `Disabled at ${new Date().toISOString()}: every delivery failed since ${failingSince.toISOString()} (last: ${lastError}). ` +
    'Deliveries wait meanwhile; re-enable with PATCH {"enabled": true} once the endpoint answers 2xx'
  ).slice(0, 500);
}

/**
 * One attempt of one delivery, the same code for the worker's deliveries and
 * POST …/test: sign with the endpoint's current secrets, send, and (for an
 * outbox row) record the outcome — delivered on a 2xx, otherwise the next
 * attempt after a jittered exponential backoff, or failed once the retry
 * window has passed. The endpoint's `failing_since` follows: set by its first
 * failure, cleared by any success; a failure after WEBHOOK_DISABLE_AFTER of
 * failing disables it, with the reason. Logs name the endpoint's host and the
 * event id only, never the secret, the signature or the payload.
 */
@Injectable()
export class WebhookDeliveryService {
  private readonly logger = new Logger('Webhooks');

  constructor(
    private readonly repository: WebhooksRepository,
    private readonly secrets: WebhookSecrets,
    private readonly sender: WebhookSender,
    private readonly db: DatabaseService,
    private readonly audit: AuditService,
    @Inject(CONFIGURATION) private readonly config: Configuration,
  ) {}

  /** Claims due deliveries of enabled endpoints for this instance until `lease` (see WebhooksRepository.claimDue). */
  claimDue(now: Date, lease: Date, limit: number): Promise<WebhookDeliveryEntity[]> {
    return this.repository.claimDue(now, lease, limit);
  }

  /** Gives a claimed delivery back untouched. */
  release(delivery: WebhookDeliveryEntity, lease: Date): Promise<void> {
    return this.repository.release(delivery, lease);
  }

  /** Sends a message to an endpoint now, recording nothing (POST …/test). */
  async sendNow(webhook: WebhookEntity, eventId: string, body: string, signal?: AbortSignal): Promise<SendResult> {
    return this.sender.send({ url: webhook.url, eventId, body, secrets: await this.secrets.signingSecrets(webhook) }, signal);
  }

  /** Attempts a delivery this instance claimed until `lease`. */
  async attempt(delivery: WebhookDeliveryEntity, lease: Date, signal: AbortSignal): Promise<void> {
    const key = { tenantId: delivery.tenantId, webhookId: delivery.webhookId, eventId: delivery.eventId };
    const webhook = await this.repository.find(delivery.tenantId, delivery.webhookId);
    if (webhook === null || !webhook.enabled) {
      await this.repository.release(key, lease);
      return;
    }
    let result: SendResult;
    try {
      result = await this.sendNow(webhook, delivery.eventId, delivery.payload, signal);
    } catch (error) {
      // A secret that does not decrypt (or a key gone): counted as a failed attempt, without the cause's details.
      this.logger.warn(
        `webhook ${webhook.id} (${hostOf(webhook.url)}): could not sign event ${delivery.eventId}: ${(error as Error).name}`,
      );
      result = { ok: false, statusCode: null, error: 'the signing secret could not be read; rotate it', excerpt: null, durationMs: 0 };
    }
    // Stopping: nothing is recorded; the lease runs out and an instance that is up sends it again.
    if (signal.aborted) return;
    const at = new Date();
    const attempts = delivery.attempts + 1;
    const outcome = result.ok
      ? ({ status: 'delivered' } as const)
      : at >= delivery.retryUntil
        ? ({ status: 'failed' } as const)
        : ({
            status: 'pending',
            nextAttemptAt: new Date(at.getTime() + retryDelayMs(attempts, this.config.webhooks.retryBaseMs)),
          } as const);
    const recorded = await this.repository.recordAttempt(
      key,
      lease,
      { at, statusCode: result.statusCode, error: result.error, excerpt: result.excerpt },
      outcome,
    );
    const host = hostOf(webhook.url);
    if (!recorded) this.logger.warn(`webhook ${webhook.id} (${host}): event ${delivery.eventId} was sent after its lease ended`);
    if (result.ok) {
      if (webhook.failingSince !== null) await this.repository.markAnswering(webhook.tenantId, webhook.id);
      this.logger.debug(`webhook ${webhook.id} (${host}): event ${delivery.eventId} delivered (${result.statusCode})`);
      return;
    }
    this.logger.log(
      `webhook ${webhook.id} (${host}): event ${delivery.eventId} attempt ${attempts} failed: ${result.error}; ${outcome.status}`,
    );
    await this.noteFailure(webhook, at, result.error ?? 'failed');
  }

  private async noteFailure(webhook: WebhookEntity, at: Date, error: string): Promise<void> {
    const after = await this.repository.markFailing(webhook.tenantId, webhook.id, at);
    if (after === null || !after.enabled || after.failingSince === null) return;
    if (at.getTime() - after.failingSince.getTime() < this.config.webhooks.disableAfterSeconds * 1000) return;
    const reason = disabledReason(after.failingSince, error);
    // Turning an endpoint off is a privileged action too: it commits with its audit event, by the worker's actor.
    const disabled = await this.db.transaction(async (tx) => {
      if (!(await this.repository.disable(after.tenantId, after.id, after.failingSince!, reason, at, tx))) return false;
      await this.audit.record(
        { tenantId: after.tenantId, actor: WEBHOOK_WORKER_ACTOR, action: 'webhook.disable', target: after.id, outcome: 200 },
        tx,
      );
      return true;
    });
    if (disabled) {
      this.logger.warn(
        `webhook ${after.id} (${hostOf(after.url)}) of tenant ${after.tenantId} disabled: failing since ${after.failingSince.toISOString()}`,
      );
    }
  }
}
