import { Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@nso/config';
import { BATCH_JOB, BATCH_QUEUE, clientBatchQueueName } from '@nso/contracts';
import { JobOfName, JobWorkers } from '@nso/events';
import { BatchRunService } from './batch-run.service';

/**
 * The consumer of this worker's pool's batch queue (`scan-batches.<WORKER_CLIENT_ID>`): the pool scans only what
 * runs delegate to it. Concurrency and lock timings come from the validated configuration. It only hands each job
 * to BatchRunService and lets failures propagate, so BullMQ applies the retry policy.
 */
@Injectable()
export class BatchQueueConsumer implements OnApplicationBootstrap {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly batches: BatchRunService,
    private readonly jobs: JobWorkers,
  ) {}

  onApplicationBootstrap(): void {
    this.jobs.work(
      BATCH_QUEUE,
      {
        queueName: clientBatchQueueName(this.config.workerClientId),
        name: this.config.workerId,
        concurrency: this.config.workerConcurrency,
        // A batch whose worker died is handed on; one that kills every worker it lands on stops after three.
        lock: { durationMs: this.config.workerLockMs, maxStalledCount: 3 },
        monitorAs: 'batch worker',
        logFailuresAs: 'batch',
      },
      { [BATCH_JOB]: (job) => this.run(job) },
    );
  }

  /** Pulls the payload and the attempt out of the job; a failure propagates, so BullMQ retries. */
  private run(job: JobOfName<typeof BATCH_JOB>): Promise<void> {
    const attempt = job.attemptsMade + 1;
    return this.batches.run({ data: job.data, attempt, final: attempt >= (job.opts.attempts ?? 1) });
  }
}
