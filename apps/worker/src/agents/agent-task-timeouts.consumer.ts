import { BeforeApplicationShutdown, Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@nso/config';
import { AGENT_TASK_QUEUE, AGENT_TASK_TIMEOUT_JOB, JobOf, redisKeys } from '@nso/contracts';
import { redisOptionsFromUrl, RedisOutageMonitor } from '@nso/events';
import { RunService } from '@nso/runs';
import { Job, Worker } from 'bullmq';

type TimeoutJob = Job<JobOf<typeof AGENT_TASK_TIMEOUT_JOB>, void, typeof AGENT_TASK_TIMEOUT_JOB>;

/**
 * The BullMQ consumer of HTTP agents' task deadlines (AGENT_TASK_TIMEOUT): each delayed job comes due when its
 * task's time is up and is handed to RunService.agentTaskTimedOut, which fails the task if its results never
 * came. Every worker consumes it, whatever its pool; failures propagate so BullMQ retries.
 */
@Injectable()
export class AgentTaskTimeoutsConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private worker?: Worker<JobOf<typeof AGENT_TASK_TIMEOUT_JOB>, void, typeof AGENT_TASK_TIMEOUT_JOB>;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly runs: RunService,
    private readonly monitor: RedisOutageMonitor,
  ) {}

  onApplicationBootstrap(): void {
    this.worker = new Worker(
      AGENT_TASK_QUEUE,
      (job: TimeoutJob) => this.runs.agentTaskTimedOut(job.data.taskRowId),
      {
        connection: redisOptionsFromUrl(this.config.redisUrl),
        prefix: redisKeys(this.config.redisPrefix).bullPrefix,
        concurrency: 4,
        name: `${this.config.workerId}-agent-tasks`,
      },
    );
    this.monitor.watchEmitter('agent task worker', this.worker);
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.worker?.close();
  }
}
