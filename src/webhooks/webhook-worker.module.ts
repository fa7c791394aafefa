import { Module } from '@nestjs/common';
import { WebhookWorker } from './webhook-worker';
import { WebhooksModule } from './webhooks.module';

/** The delivery worker (needs ScheduleModule.forRoot() in the application; idle when WEBHOOK_DELIVERY=off). */
@Module({
  imports: [WebhooksModule],
  providers: [WebhookWorker],
})
export class WebhookWorkerModule {}
