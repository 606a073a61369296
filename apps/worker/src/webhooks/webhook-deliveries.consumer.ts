import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
} from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@nso/config';
import { redisKeys, WEBHOOK_QUEUE, type WebhookDeliveryJobData } from '@nso/contracts';
import { redisOptionsFromUrl, RedisOutageMonitor } from '@nso/events';
import { safeErrorMessage, withoutStatement } from '@nso/persistence';
import { Job, UnrecoverableError, Worker } from 'bullmq';
import { WebhookDeliveryService } from './webhook-delivery.service';

/**
 * The BullMQ consumer of webhook deliveries: each try is handed to WebhookDeliveryService. A failed try throws, so
 * BullMQ retries it with the job's exponential back-off; a try that must not be repeated (rule disabled,
 * destination refused) throws UnrecoverableError. The job id is the delivery's id (X-NetScan-Delivery).
 */
@Injectable()
export class WebhookDeliveriesConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(WebhookDeliveriesConsumer.name);
  private worker?: Worker<WebhookDeliveryJobData>;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly deliveries: WebhookDeliveryService,
    private readonly monitor: RedisOutageMonitor,
  ) {}

  onApplicationBootstrap(): void {
    this.worker = new Worker<WebhookDeliveryJobData>(WEBHOOK_QUEUE, (job) => this.deliver(job), {
      connection: redisOptionsFromUrl(this.config.redisUrl),
      prefix: redisKeys(this.config.redisPrefix).bullPrefix,
      concurrency: 4,
      name: `${this.config.workerId}-webhooks`,
    });
    this.monitor.watchEmitter('webhook worker', this.worker);
    // A failed try the service counted is in the delivery log; anything else (a database error) is only here.
    this.worker.on('failed', (job, error) => {
      if (!(error instanceof DeliveryFailedError))
        this.logger.warn(
          `webhook delivery ${job?.id} try ${job?.attemptsMade} failed: ${safeErrorMessage(error)}`,
        );
    });
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.worker?.close();
  }

  private async deliver(job: Job<WebhookDeliveryJobData>) {
    const outcome = await this.deliveries
      .deliver({
        ruleId: job.data.ruleId,
        reportId: job.data.reportId,
        deliveryId: job.id ?? `wh${job.data.ruleId}-d${job.data.reportId}`,
        attempt: job.attemptsMade + 1,
      })
      .catch((error: unknown) => {
        throw withoutStatement(error);
      });
    if (outcome.kind !== 'failed') return outcome;
    if (!outcome.retry) throw new UnrecoverableError(outcome.reason);
    throw new DeliveryFailedError(outcome.reason);
  }
}

/** A try that reached its receiver (or was refused) and is in the delivery log already. */
class DeliveryFailedError extends Error {
  override readonly name = 'DeliveryFailedError';
}
