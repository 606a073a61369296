import { Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@nso/config';
import { AGENT_TASK_PUSH_JOB, AGENT_TASK_QUEUE, AGENT_TASK_TIMEOUT_JOB } from '@nso/contracts';
import { JobWorkers } from '@nso/events';
import { RunService } from '@nso/runs';

/**
 * The consumer of HTTP agents' tasks: pushes (AGENT_TASK_PUSH_JOB, RunService.agentTaskPush: the agent is
 * contacted here, never inside a request) and deadlines (AGENT_TASK_TIMEOUT_JOB: each delayed job comes due when
 * its task's time is up and is handed to RunService.agentTaskTimedOut, which fails the task if its results never
 * came). Every worker consumes it, whatever its pool; failures propagate so BullMQ retries.
 */
@Injectable()
export class AgentTaskTimeoutsConsumer implements OnApplicationBootstrap {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly runs: RunService,
    private readonly jobs: JobWorkers,
  ) {}

  onApplicationBootstrap(): void {
    this.jobs.work(
      AGENT_TASK_QUEUE,
      { name: `${this.config.workerId}-agent-tasks`, concurrency: 4, monitorAs: 'agent task worker' },
      {
        [AGENT_TASK_PUSH_JOB]: (job) => this.runs.agentTaskPush(job.data),
        [AGENT_TASK_TIMEOUT_JOB]: (job) => this.runs.agentTaskTimedOut(job.data.taskRowId),
      },
    );
  }
}
