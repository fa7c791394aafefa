import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { WebhookDeliveryEntity } from './webhook-delivery.entity';
import { WebhookEventSink } from './webhook-events';
import { WebhookOutbox } from './webhook-outbox';
import { WebhookEntity } from './webhook.entity';
import { WebhooksRepository } from './webhooks.repository';

/**
 * The outbox alone (WebhookEventSink): what every module whose changes are
 * webhook events imports, the tenants module among them. It needs only the
 * database, so it sits below the tenants module, which WebhooksModule (the
 * API, secrets and sending) itself depends on.
 */
@Module({
  imports: [TypeOrmModule.forFeature([WebhookEntity, WebhookDeliveryEntity])],
  providers: [WebhooksRepository, WebhookOutbox, { provide: WebhookEventSink, useExisting: WebhookOutbox }],
  exports: [WebhookEventSink, WebhooksRepository],
})
export class WebhookOutboxModule {}
