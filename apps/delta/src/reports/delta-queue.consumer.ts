import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
} from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@nso/config';
import { DELTA_QUEUE, DeltaJobData, redisKeys } from '@nso/contracts';
import { redisOptionsFromUrl, RedisOutageMonitor } from '@nso/events';
import { safeErrorMessage, withoutStatement } from '@nso/persistence';
import { Job, Worker } from 'bullmq';
import { DeltaReportService } from './delta-report.service';

/**
 * The BullMQ consumer of DELTA_QUEUE: hands each `diff-result` job to DeltaReportService and lets failures
 * propagate, so BullMQ retries. A job whose process died is picked up again once its lock expires
 * (WORKER_LOCK_MS); the report is stored once either way.
 */
@Injectable()
export class DeltaQueueConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(DeltaQueueConsumer.name);
  private worker?: Worker<DeltaJobData>;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly reports: DeltaReportService,
    private readonly monitor: RedisOutageMonitor,
  ) {}

  onApplicationBootstrap(): void {
    this.worker = new Worker<DeltaJobData>(
      DELTA_QUEUE,
      async (job: Job<DeltaJobData>) => {
        const outcome = await this.reports.generate(job.data).catch((error: unknown) => {
          throw withoutStatement(error);
        });
        if (outcome.kind === 'skipped') this.logger.log(`job ${job.id}: ${outcome.why}`);
        return outcome;
      },
      {
        connection: redisOptionsFromUrl(this.config.redisUrl),
        prefix: redisKeys(this.config.redisPrefix).bullPrefix,
        // Diffs are CPU work on one event loop: one at a time per process; scale with processes.
        concurrency: 1,
        lockDuration: this.config.workerLockMs,
        stalledInterval: this.config.workerLockMs,
        maxStalledCount: 3,
        name: this.config.workerId,
      },
    );
    this.monitor.watchEmitter('delta worker', this.worker);
    this.worker.on('failed', (job, error) =>
      this.logger.warn(
        `delta job ${job?.id} attempt ${job?.attemptsMade} failed: ${safeErrorMessage(error)}`,
      ),
    );
  }

  /** SIGTERM: finish the diff in hand, take no new one. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.worker?.close();
  }
}
