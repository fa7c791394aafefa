import { Inject, Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { CONFIGURATION, type Configuration } from '../config/configuration';
import { eventBit } from './event-mask';
import { type SqlExpression, type WebhookEvent, WebhookEventSink } from './webhook-events';
import { newEventId } from './webhook-secret';
import { WebhooksRepository } from './webhooks.repository';

/**
 * The transactional outbox (issue 15): an event is written in the
 * transaction of the change that caused it, one row per subscribed enabled
 * endpoint, in a single INSERT … SELECT, so it exists exactly when the change
 * committed. The delivery worker sends it later, at least once.
 */
@Injectable()
export class WebhookOutbox extends WebhookEventSink {
  constructor(
    private readonly repository: WebhooksRepository,
    @Inject(CONFIGURATION) private readonly config: Configuration,
  ) {
    super();
  }

  async emit(event: WebhookEvent, tx: EntityManager, subscribed?: boolean): Promise<void> {
    if (subscribed === false) return;
    await this.repository.emit(
      {
        tenantId: event.tenantId,
        eventId: newEventId(),
        eventType: event.type,
        // The body as it will be signed and sent on every attempt (Standard Webhooks: type, timestamp, data).
        payload: JSON.stringify({ type: event.type, timestamp: event.at.toISOString(), data: event.data }),
        bit: eventBit(event.type),
        createdAt: event.at,
        retryUntil: new Date(event.at.getTime() + this.config.webhooks.retryForSeconds * 1000),
      },
      tx,
    );
  }

  subscriberProbe(tenantColumn: string): SqlExpression {
    return this.repository.enabledWebhookProbe(tenantColumn);
  }
}
