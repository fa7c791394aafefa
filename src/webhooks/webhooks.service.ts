import { Inject, Injectable } from '@nestjs/common';
import { AuditService } from '../audit/audit.service';
import {
  TenantNotFoundError,
  ValidationFailedError,
  WebhookDeliveryNotFoundError,
  WebhookNotFoundError,
} from '../common/errors/domain-errors';
import type { RequestActor } from '../common/request-actor';
import { CONFIGURATION, type Configuration } from '../config/configuration';
import { DatabaseService } from '../database/database.service';
import { TenantKeysService } from '../tenants/tenant-keys.service';
import { TenantsService } from '../tenants/tenants.service';
import type {
  CreateWebhookDto,
  UpdateWebhookDto,
  WebhookDeliveryResponse,
  WebhookResponse,
  WebhookTestResponse,
  WebhookWithSecretResponse,
} from './dto/webhook.dto';
import { eventMask, eventsOfMask } from './event-mask';
import type { WebhookDeliveryEntity } from './webhook-delivery.entity';
import { WebhookDeliveryService } from './webhook-delivery.service';
import type { WebhookEventType } from './webhook-events';
import { newEventId, newWebhookId, newWebhookSecret } from './webhook-secret';
import { WebhookSecrets } from './webhook-secrets';
import { urlProblem } from './webhook-url';
import type { WebhookEntity } from './webhook.entity';
import { WebhooksRepository } from './webhooks.repository';

const iso = (date: Date | null): string | null => (date === null ? null : date.toISOString());

export function toWebhookResponse(webhook: WebhookEntity, now = new Date()): WebhookResponse {
  const previous = webhook.previousSecretExpiresAt;
  return {
    id: webhook.id,
    url: webhook.url,
    events: eventsOfMask(webhook.eventsMask),
    description: webhook.description,
    enabled: webhook.enabled,
    'disabled-reason': webhook.enabled ? null : webhook.disabledReason,
    'failing-since': iso(webhook.failingSince),
    'previous-secret-expires-at': webhook.previousSecret !== null && previous !== null && previous > now ? previous.toISOString() : null,
    'created-at': webhook.createdAt.toISOString(),
    'updated-at': webhook.updatedAt.toISOString(),
  };
}

export function toDeliveryResponse(delivery: WebhookDeliveryEntity): WebhookDeliveryResponse {
  return {
    id: delivery.eventId,
    'event-type': delivery.eventType,
    status: delivery.status,
    attempts: delivery.attempts,
    'last-status-code': delivery.lastStatusCode,
    'last-error': delivery.lastError,
    'last-attempt-at': iso(delivery.lastAttemptAt),
    'next-attempt-at': delivery.status === 'pending' ? delivery.nextAttemptAt.toISOString() : null,
    'delivered-at': iso(delivery.deliveredAt),
    'created-at': delivery.createdAt.toISOString(),
  };
}

/**
 * A tenant's webhooks (issue 15). The signing secret is generated here,
 * returned by the create and by each rotation only, and stored as an envelope
 * under the tenant's data key. Creating, changing, deleting a webhook,
 * rotating its secret and redelivering commit with their audit event
 * (webhook.create, …: the webhook's id, never its URL or secret).
 */
@Injectable()
export class WebhooksService {
  constructor(
    private readonly repository: WebhooksRepository,
    private readonly secrets: WebhookSecrets,
    private readonly deliveries: WebhookDeliveryService,
    private readonly tenants: TenantsService,
    private readonly tenantKeys: TenantKeysService,
    private readonly db: DatabaseService,
    private readonly audit: AuditService,
    @Inject(CONFIGURATION) private readonly config: Configuration,
  ) {}

  async create(tenantId: string, dto: CreateWebhookDto, actor: RequestActor): Promise<WebhookWithSecretResponse> {
    this.checkUrl(dto.url);
    const events = unique(dto.events);
    await this.tenants.requireLive(tenantId);
    const id = newWebhookId();
    const secret = newWebhookSecret();
    const sealed = await this.secrets.seal(tenantId, id, 'secret', secret);
    const now = new Date();
    const webhook: WebhookEntity = {
      tenantId,
      id,
      url: dto.url,
      eventsMask: eventMask(events),
      events: JSON.stringify(events),
      description: dto.description ?? '',
      secret: sealed.envelope,
      previousSecret: null,
      previousSecretExpiresAt: null,
      enabled: true,
      disabledReason: null,
      failingSince: null,
      createdAt: now,
      updatedAt: now,
    };
    // The tenant may be deleted between the check and the insert: the foreign key refuses the row then.
    await this.db.transaction(async (tx) => {
      if (!(await this.repository.insert(webhook, tx))) throw new TenantNotFoundError(tenantId);
      await this.audit.record({ tenantId, actor, action: 'webhook.create', target: id, outcome: 201 }, tx);
    });
    return { ...toWebhookResponse(webhook, now), secret };
  }

  async list(tenantId: string, limit: number, offset: number): Promise<{ items: WebhookResponse[]; total: number }> {
    await this.tenants.requireLive(tenantId);
    const [webhooks, total] = await this.repository.page(tenantId, limit, offset);
    const now = new Date();
    return { items: webhooks.map((webhook) => toWebhookResponse(webhook, now)), total };
  }

  async get(tenantId: string, id: string): Promise<WebhookResponse> {
    return toWebhookResponse(await this.find(tenantId, id));
  }

  async update(tenantId: string, id: string, dto: UpdateWebhookDto, actor: RequestActor): Promise<WebhookResponse> {
    if (dto.url !== undefined) this.checkUrl(dto.url);
    const current = await this.find(tenantId, id);
    const now = new Date();
    const changes: Partial<WebhookEntity> = { updatedAt: now };
    if (dto.url !== undefined) changes.url = dto.url;
    if (dto.description !== undefined) changes.description = dto.description;
    if (dto.events !== undefined) {
      const events = unique(dto.events);
      changes.eventsMask = eventMask(events);
      changes.events = JSON.stringify(events);
    }
    if (dto.enabled === true && !current.enabled) Object.assign(changes, { enabled: true, disabledReason: null, failingSince: null });
    if (dto.enabled === false && current.enabled) {
      Object.assign(changes, {
        enabled: false,
        disabledReason: 'Disabled with PATCH {"enabled": false}; re-enable with PATCH {"enabled": true}',
      });
    }
    await this.db.transaction(async (tx) => {
      if (!(await this.repository.update(tenantId, id, changes, tx))) throw new WebhookNotFoundError(tenantId, id);
      await this.audit.record({ tenantId, actor, action: 'webhook.update', target: id, outcome: 200 }, tx);
    });
    return this.get(tenantId, id);
  }

  async delete(tenantId: string, id: string, actor: RequestActor): Promise<void> {
    const deleted = await this.db.transaction(async (tx) => {
      if (!(await this.repository.delete(tenantId, id, tx))) return false;
      await this.audit.record({ tenantId, actor, action: 'webhook.delete', target: id, outcome: 204 }, tx);
      return true;
    });
    if (!deleted) await this.notFound(tenantId, id);
  }

  /**
   * A new secret; the one it replaces keeps signing beside it (a second
   * `v1,` signature in the header) for WEBHOOK_SECRET_OVERLAP, so a receiver
   * can switch without losing events. Rotating again within the overlap ends
   * the older secret at once: only the one just replaced stays.
   */
  async rotateSecret(tenantId: string, id: string, actor: RequestActor): Promise<WebhookWithSecretResponse> {
    const secret = newWebhookSecret();
    for (let attempt = 1; ; attempt++) {
      const current = await this.find(tenantId, id);
      const plainPrevious = await this.secrets.open(tenantId, id, 'secret', current.secret);
      const sealed = await this.secrets.seal(tenantId, id, 'secret', secret);
      const previous = await this.secrets.seal(tenantId, id, 'previous-secret', plainPrevious);
      const now = new Date();
      const changes = {
        secret: sealed.envelope,
        previousSecret: previous.envelope,
        previousSecretExpiresAt: new Date(now.getTime() + this.config.webhooks.secretOverlapSeconds * 1000),
        updatedAt: now,
      };
      const landed = await this.db.transaction(async (tx) => {
        const fence = this.tenantKeys.writeFence(tenantId, sealed.keyVersion);
        if (!(await this.repository.replaceSecrets(tenantId, id, current.secret, changes, fence, tx))) return false;
        await this.audit.record({ tenantId, actor, action: 'webhook.rotate-secret', target: id, outcome: 200 }, tx);
        return true;
      });
      if (landed) return { ...toWebhookResponse({ ...current, ...changes }, now), secret };
      // Rotated or re-encrypted meanwhile, or the data key changed: read it again.
      this.tenantKeys.forget(tenantId);
      if (attempt >= 5) throw new Error(`the secret of webhook '${id}' kept changing during its rotation`);
    }
  }

  /** Sends a synthetic `webhook.test` event to the endpoint now, through the delivery code, and says how it went. Nothing is stored. */
  async test(tenantId: string, id: string): Promise<WebhookTestResponse> {
    const webhook = await this.find(tenantId, id);
    const eventId = newEventId();
    const body = JSON.stringify({ type: 'webhook.test', timestamp: new Date().toISOString(), data: { tenant: tenantId, webhook: id } });
    const result = await this.deliveries.sendNow(webhook, eventId, body);
    return {
      ok: result.ok,
      'status-code': result.statusCode,
      error: result.error,
      'webhook-id': eventId,
      'duration-ms': result.durationMs,
    };
  }

  async listDeliveries(
    tenantId: string,
    id: string,
    limit: number,
    offset: number,
  ): Promise<{ items: WebhookDeliveryResponse[]; total: number }> {
    await this.find(tenantId, id);
    const [rows, total] = await this.repository.deliveriesPage(tenantId, id, limit, offset);
    return { items: rows.map(toDeliveryResponse), total };
  }

  /**
   * Queues a delivery again, whatever its status: due now, retried for
   * WEBHOOK_RETRY_FOR from now. The receiver gets the same `webhook-id`
   * (it may already have the event: deliveries are at least once).
   */
  async redeliver(tenantId: string, id: string, deliveryId: string, actor: RequestActor): Promise<WebhookDeliveryResponse> {
    await this.find(tenantId, id);
    const now = new Date();
    const retryUntil = new Date(now.getTime() + this.config.webhooks.retryForSeconds * 1000);
    const key = { tenantId, webhookId: id, eventId: deliveryId };
    await this.db.transaction(async (tx) => {
      if (!(await this.repository.requeue(key, now, retryUntil, tx))) throw new WebhookDeliveryNotFoundError(id, deliveryId);
      await this.audit.record({ tenantId, actor, action: 'webhook.redeliver', target: id, outcome: 202 }, tx);
    });
    const delivery = await this.repository.findDelivery(tenantId, id, deliveryId);
    if (delivery === null) throw new WebhookDeliveryNotFoundError(id, deliveryId);
    return toDeliveryResponse(delivery);
  }

  private checkUrl(url: string): void {
    const problem = urlProblem(url, this.config.webhooks.allowPrivate);
    if (problem !== undefined) throw new ValidationFailedError(`Validation failed (url: ${problem})`, [{ field: 'url', message: problem }]);
  }

  private async find(tenantId: string, id: string): Promise<WebhookEntity> {
    const webhook = await this.repository.find(tenantId, id);
    if (webhook === null) return this.notFound(tenantId, id);
    return webhook;
  }

  /** 404 for the tenant when it is gone, else for the webhook. */
  private async notFound(tenantId: string, id: string): Promise<never> {
    await this.tenants.requireLive(tenantId);
    throw new WebhookNotFoundError(tenantId, id);
  }
}

function unique(events: readonly WebhookEventType[]): WebhookEventType[] {
  return [...new Set(events)];
}
