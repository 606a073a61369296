import { BeforeApplicationShutdown, Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@nso/config';
import {
  AGENT_TASK_PUSH_JOB,
  AGENT_TASK_QUEUE,
  AGENT_TASK_TIMEOUT_JOB,
  AgentTaskPushJobData,
  AgentTaskTimeoutJobData,
  JobOf,
  redisKeys,
} from '@nso/contracts';
import { redisOptionsFromUrl, RedisOutageMonitor } from '@nso/events';
import { RunService } from '@nso/runs';
import { Job, Worker } from 'bullmq';

type AgentTaskJobName = typeof AGENT_TASK_TIMEOUT_JOB | typeof AGENT_TASK_PUSH_JOB;
type AgentTaskJob = Job<JobOf<AgentTaskJobName>, void, AgentTaskJobName>;

/**
 * The BullMQ consumer of HTTP agents' tasks: pushes (AGENT_TASK_PUSH_JOB, RunService.agentTaskPush: the agent
 * is contacted here, never inside a request) and deadlines (AGENT_TASK_TIMEOUT: each delayed job comes due when
 * its task's time is up and is handed to RunService.agentTaskTimedOut, which fails the task if its results never
 * came). Every worker consumes it, whatever its pool; failures propagate so BullMQ retries.
 */
@Injectable()
export class AgentTaskTimeoutsConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private worker?: Worker<JobOf<AgentTaskJobName>, void, AgentTaskJobName>;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly runs: RunService,
    private readonly monitor: RedisOutageMonitor,
  ) {}

  onApplicationBootstrap(): void {
    this.worker = new Worker(
      AGENT_TASK_QUEUE,
      (job: AgentTaskJob) =>
        job.name === AGENT_TASK_PUSH_JOB
          ? this.runs.agentTaskPush(job.data as AgentTaskPushJobData)
          : this.runs.agentTaskTimedOut((job.data as AgentTaskTimeoutJobData).taskRowId),
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
