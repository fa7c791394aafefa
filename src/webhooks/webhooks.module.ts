import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuditModule } from '../audit/audit.module';
import { TenantsModule } from '../tenants/tenants.module';
import { WebhookDeliveryEntity } from './webhook-delivery.entity';
import { WebhookDeliveryService } from './webhook-delivery.service';
import { WebhookOutboxModule } from './webhook-outbox.module';
import { WebhookSecrets } from './webhook-secrets';
import { WebhookSender } from './webhook-sender';
import { WebhookEntity } from './webhook.entity';
import { WebhooksController } from './webhooks.controller';
import { WebhooksService } from './webhooks.service';

/**
 * Webhooks (issue 15): the tenant's endpoints and their API, the outbox that
 * changes emit their events into (WebhookEventSink, inside the change's
 * transaction), the signing and sending of one attempt, and the webhooks'
 * part of a key rotation (WebhookSecrets). No timers: the delivery worker is
 * WebhookWorkerModule, which only the service imports, so command-line
 * contexts can use this module without sending anything.
 */
@Module({
  imports: [TypeOrmModule.forFeature([WebhookEntity, WebhookDeliveryEntity]), WebhookOutboxModule, TenantsModule, AuditModule],
  controllers: [WebhooksController],
  providers: [WebhooksService, WebhookSecrets, WebhookSender, WebhookDeliveryService],
  exports: [WebhookOutboxModule, WebhookSecrets, WebhookDeliveryService],
})
export class WebhooksModule {}
