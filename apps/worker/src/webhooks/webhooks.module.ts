import { Module } from '@nestjs/common';
import { WebhookDeliveriesConsumer } from './webhook-deliveries.consumer';
import { WebhookDeliveryService } from './webhook-delivery.service';
import { WebhookPost } from './webhook-post';

/** Webhook deliveries (docs/notifications.md "Webhooks"). */
@Module({ providers: [WebhookDeliveryService, WebhookDeliveriesConsumer, WebhookPost] })
export class WebhooksModule {}
