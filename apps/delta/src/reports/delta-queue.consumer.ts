import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@nso/config';
import { DELTA_QUEUE, DIFF_RESULT_JOB, VERIFY_CHANGES_JOB } from '@nso/contracts';
import { JobOfName, JobWorkers } from '@nso/events';
import { DeltaReportService } from './delta-report.service';

/**
 * The consumer of DELTA_QUEUE: hands each DIFF_RESULT_JOB (a run ended) and VERIFY_CHANGES_JOB (a report's rescan
 * is due) to DeltaReportService and lets failures propagate, so
 * BullMQ retries. A job whose process died is picked up again once its lock expires (WORKER_LOCK_MS); the report
 * is stored once either way.
 */
@Injectable()
export class DeltaQueueConsumer implements OnApplicationBootstrap {
  private readonly logger = new Logger(DeltaQueueConsumer.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly reports: DeltaReportService,
    private readonly jobs: JobWorkers,
  ) {}

  onApplicationBootstrap(): void {
    this.jobs.work(
      DELTA_QUEUE,
      {
        name: this.config.workerId,
        // Diffs are CPU work on one event loop: one at a time per process; scale with processes.
        concurrency: 1,
        lock: { durationMs: this.config.workerLockMs, maxStalledCount: 3 },
        monitorAs: 'delta worker',
        logFailuresAs: 'delta job',
      },
      {
        [DIFF_RESULT_JOB]: (job) => this.diff(job),
        [VERIFY_CHANGES_JOB]: (job) => this.verify(job),
      },
    );
  }

  /** A report's rescan is due: started, or retried while the scan runs another run (the last try gives up). */
  private async verify(job: JobOfName<typeof VERIFY_CHANGES_JOB>) {
    const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    const outcome = await this.reports.verifyChanges(job.data, lastAttempt);
    if (outcome.kind === 'skipped') this.logger.log(`job ${job.id}: ${outcome.why}`);
    return outcome;
  }

  private async diff(job: JobOfName<typeof DIFF_RESULT_JOB>) {
    const outcome = await this.reports.generate(job.data);
    if (outcome.kind === 'skipped') this.logger.log(`job ${job.id}: ${outcome.why}`);
    return outcome;
  }
}
