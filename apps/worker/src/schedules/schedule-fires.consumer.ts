import { Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@nso/config';
import { FIRE_SCHEDULE_JOB, SCHEDULE_QUEUE } from '@nso/contracts';
import { JobOfName, JobWorkers } from '@nso/events';
import { ScanSchedules } from '@nso/runs';

/**
 * The consumer of schedule fires: each job is one fire of one scan's job scheduler, handed to ScanSchedules.fire
 * (which starts the run or records why not). Failures propagate so BullMQ retries the fire. Lost schedulers are
 * put back by the worker's reconciliation (maintenance), at start-up and periodically.
 */
@Injectable()
export class ScheduleFiresConsumer implements OnApplicationBootstrap {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly schedules: ScanSchedules,
    private readonly jobs: JobWorkers,
  ) {}

  onApplicationBootstrap(): void {
    this.jobs.work(
      SCHEDULE_QUEUE,
      { name: `${this.config.workerId}-schedules`, concurrency: 4, monitorAs: 'schedule worker' },
      { [FIRE_SCHEDULE_JOB]: (job) => this.fire(job) },
    );
  }

  /**
   * A scheduler's job is named `repeat:<scheduler>:<due time in ms>` by BullMQ: that time is when the fire was
   * due (its `timestamp` is when BullMQ made the job, an interval earlier).
   */
  private fire(job: JobOfName<typeof FIRE_SCHEDULE_JOB>) {
    const due = /:(\d+)$/.exec(job.id ?? '')?.[1];
    const dueAt = new Date(due ? Number(due) : job.timestamp + (job.delay ?? 0));
    return this.schedules.fire(job.data.scanId, { key: job.id ?? `${job.timestamp}`, dueAt });
  }
}
