import { Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@nso/config';
import { WEBHOOK_DELIVERY_JOB, WEBHOOK_QUEUE, webhookDeliveryJobId } from '@nso/contracts';
import { JobOfName, JobWorkers } from '@nso/events';
import { UnrecoverableError } from 'bullmq';
import { WebhookDeliveryService } from './webhook-delivery.service';

/**
 * The consumer of webhook deliveries: each try is handed to WebhookDeliveryService. A failed try throws, so BullMQ
 * retries it with the job's exponential back-off; a try that must not be repeated (rule disabled, destination
 * refused) throws UnrecoverableError. The job id is the delivery's id (X-NetScan-Delivery).
 */
@Injectable()
export class WebhookDeliveriesConsumer implements OnApplicationBootstrap {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly deliveries: WebhookDeliveryService,
    private readonly jobs: JobWorkers,
  ) {}

  onApplicationBootstrap(): void {
    this.jobs.work(
      WEBHOOK_QUEUE,
      {
        name: `${this.config.workerId}-webhooks`,
        concurrency: 4,
        monitorAs: 'webhook worker',
        // A try that failed at its receiver is in the delivery log too; one that failed here (a database error)
        // is only in this log.
        logFailuresAs: 'webhook delivery',
      },
      { [WEBHOOK_DELIVERY_JOB]: (job) => this.deliver(job) },
    );
  }

  private async deliver(job: JobOfName<typeof WEBHOOK_DELIVERY_JOB>) {
    const { ruleId, reportId } = job.data;
    const outcome = await this.deliveries.deliver({
      ruleId,
      reportId,
      deliveryId: job.id ?? webhookDeliveryJobId(ruleId, reportId),
      attempt: job.attemptsMade + 1,
    });
    if (outcome.kind !== 'failed') return outcome;
    if (!outcome.retry) throw new UnrecoverableError(outcome.reason);
    throw new Error(outcome.reason);
  }
}
