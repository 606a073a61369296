import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  BeforeApplicationShutdown,
} from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@nso/config';
import { BATCH_JOB, clientBatchQueueName, JobOf, redisKeys } from '@nso/contracts';
import { redisOptionsFromUrl, RedisOutageMonitor } from '@nso/events';
import { safeErrorMessage } from '@nso/persistence';
import { Job, Worker } from 'bullmq';
import { BatchRunService } from './batch-run.service';

type BatchJob = Job<JobOf<typeof BATCH_JOB>, void, typeof BATCH_JOB>;

/**
 * The BullMQ consumer of this worker's pool's batch queue (`scan-batches.<WORKER_CLIENT_ID>`): the pool scans
 * only what runs delegate to it. Built here rather than with @Processor so that concurrency and
 * lock timings come from the validated configuration. It only hands each job to BatchRunService and lets
 * failures propagate, so BullMQ applies the retry policy.
 */
@Injectable()
export class BatchQueueConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(BatchQueueConsumer.name);
  private worker?: Worker<JobOf<typeof BATCH_JOB>, void, typeof BATCH_JOB>;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly batches: BatchRunService,
    private readonly monitor: RedisOutageMonitor,
  ) {}

  onApplicationBootstrap(): void {
    this.worker = new Worker(
      clientBatchQueueName(this.config.workerClientId),
      (job: BatchJob) => this.run(job),
      {
        connection: redisOptionsFromUrl(this.config.redisUrl),
        prefix: redisKeys(this.config.redisPrefix).bullPrefix,
        concurrency: this.config.workerConcurrency,
        lockDuration: this.config.workerLockMs,
        stalledInterval: this.config.workerLockMs,
        // A batch whose worker died is handed on; one that kills every worker it lands on stops after three.
        maxStalledCount: 3,
        name: this.config.workerId,
      },
    );
    this.monitor.watchEmitter('batch worker', this.worker);
    this.worker.on('failed', (job, error) =>
      this.logger.warn(`batch ${job?.id} attempt ${job?.attemptsMade} failed: ${safeErrorMessage(error)}`),
    );
  }

  /** Pulls the payload and the attempt out of the job; a failure propagates, so BullMQ retries. */
  private run(job: BatchJob): Promise<void> {
    const attempt = job.attemptsMade + 1;
    return this.batches.run({ data: job.data, attempt, final: attempt >= (job.opts.attempts ?? 1) });
  }

  /** SIGTERM: take no new batch and let the running ones finish, before Redis and the database close. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.worker?.close();
  }
}
