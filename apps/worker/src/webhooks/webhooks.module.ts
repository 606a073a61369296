import { Module } from '@nestjs/common';
import { WebhookDeliveriesConsumer } from './webhook-deliveries.consumer';
import { WebhookDeliveryService } from './webhook-delivery.service';

/** Webhook deliveries (docs/notifications.md "Webhooks"). */
@Module({ providers: [WebhookDeliveryService, WebhookDeliveriesConsumer] })
export class WebhooksModule {}
