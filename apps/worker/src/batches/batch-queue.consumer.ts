import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  BeforeApplicationShutdown,
} from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@nso/config';
import { BATCH_QUEUE, BatchJobData, redisKeys } from '@nso/contracts';
import { redisOptionsFromUrl, RedisOutageMonitor } from '@nso/events';
import { Job, Worker } from 'bullmq';
import { BatchRunService } from './batch-run.service';

/**
 * The BullMQ consumer of the shared batch queue. Built here rather than with @Processor so that concurrency and
 * lock timings come from the validated configuration. It only hands each job to BatchRunService and lets
 * failures propagate, so BullMQ applies the retry policy.
 */
@Injectable()
export class BatchQueueConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(BatchQueueConsumer.name);
  private worker?: Worker<BatchJobData>;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly batches: BatchRunService,
    private readonly monitor: RedisOutageMonitor,
  ) {}

  onApplicationBootstrap(): void {
    this.worker = new Worker<BatchJobData>(BATCH_QUEUE, (job: Job<BatchJobData>) => this.batches.run(job), {
      connection: redisOptionsFromUrl(this.config.redisUrl),
      prefix: redisKeys(this.config.redisPrefix).bullPrefix,
      concurrency: this.config.workerConcurrency,
      lockDuration: this.config.workerLockMs,
      stalledInterval: this.config.workerLockMs,
      // A batch whose worker died is handed on; one that kills every worker it lands on stops after three.
      maxStalledCount: 3,
      name: this.config.workerId,
    });
    this.monitor.watchEmitter('batch worker', this.worker);
    this.worker.on('failed', (job, error) =>
      this.logger.warn(`batch ${job?.id} attempt ${job?.attemptsMade} failed: ${error.message}`),
    );
  }

  /** SIGTERM: take no new batch and let the running ones finish, before Redis and the database close. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.worker?.close();
  }
}
