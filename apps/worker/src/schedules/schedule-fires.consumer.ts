import { BeforeApplicationShutdown, Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@nso/config';
import { redisKeys, SCHEDULE_QUEUE, ScheduleFireJobData } from '@nso/contracts';
import { redisOptionsFromUrl, RedisOutageMonitor } from '@nso/events';
import { ScanSchedules } from '@nso/runs';
import { Job, Worker } from 'bullmq';

/**
 * The BullMQ consumer of schedule fires: each job is one fire of one scan's job scheduler, handed to
 * ScanSchedules.fire (which starts the run or records why not). Failures propagate so BullMQ retries the fire.
 * Lost schedulers are put back by the worker's reconciliation (maintenance), at start-up and periodically.
 */
@Injectable()
export class ScheduleFiresConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private worker?: Worker<ScheduleFireJobData>;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly schedules: ScanSchedules,
    private readonly monitor: RedisOutageMonitor,
  ) {}

  onApplicationBootstrap(): void {
    this.worker = new Worker<ScheduleFireJobData>(SCHEDULE_QUEUE, (job) => this.fire(job), {
      connection: redisOptionsFromUrl(this.config.redisUrl),
      prefix: redisKeys(this.config.redisPrefix).bullPrefix,
      concurrency: 4,
      name: `${this.config.workerId}-schedules`,
    });
    this.monitor.watchEmitter('schedule worker', this.worker);
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.worker?.close();
  }

  /**
   * A scheduler's job is named `repeat:<scheduler>:<due time in ms>` by BullMQ: that time is when the fire was
   * due (its `timestamp` is when BullMQ made the job, an interval earlier).
   */
  private async fire(job: Job<ScheduleFireJobData>) {
    const due = /:(\d+)$/.exec(job.id ?? '')?.[1];
    const dueAt = new Date(due ? Number(due) : job.timestamp + (job.delay ?? 0));
    return this.schedules.fire(job.data.scanId, { key: job.id ?? `${job.timestamp}`, dueAt });
  }
}
