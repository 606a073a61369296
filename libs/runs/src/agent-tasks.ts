// A run's batches given to HTTP agents: each batch is one task, pushed to the agent (`POST /scan`) with an
// unguessable task_id, and given a deadline on BullMQ (a delayed job on AGENT_TASK_QUEUE) so that a task whose
// results never come fails after AGENT_TASK_TIMEOUT.
import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@nso/config';
import { AGENT_TASK_QUEUE, AGENT_TASK_TIMEOUT_JOB, JobOf } from '@nso/contracts';
import {
  AgentTaskRepository,
  BatchRepository,
  ClientRepository,
  OPEN_AGENT_TASK_STATUSES,
} from '@nso/persistence';
import { Queue } from 'bullmq';
import { randomBytes } from 'node:crypto';
import { AgentPushClient, agentScanArguments } from './agent-push.client';

/** The worker id batch rows of an agent's task carry. */
export const agentWorkerId = (clientId: string): string => `agent:${clientId}`;

/** A batch that could not be given to its agent: it must go to another client, or fail. */
export interface UndeliveredBatch {
  seq: number;
  /** The batch's row, when it was created. */
  batchId?: number;
  /** The client that could not take it. */
  clientId: string;
  targets: string[];
  reason: string;
}

/** What pushing a batch needs of its run. */
export interface AgentRunRef {
  scanId: number;
  resultId: number;
  nmapFlags: string[];
}

type TimeoutQueue = Queue<JobOf<typeof AGENT_TASK_TIMEOUT_JOB>, unknown, typeof AGENT_TASK_TIMEOUT_JOB>;

@Injectable()
export class AgentTasks {
  private readonly logger = new Logger(AgentTasks.name);

  constructor(
    private readonly tasks: AgentTaskRepository,
    private readonly batches: BatchRepository,
    private readonly clients: ClientRepository,
    private readonly push: AgentPushClient,
    @InjectQueue(AGENT_TASK_QUEUE) private readonly timeouts: TimeoutQueue,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * Gives batch `seq` of the run to agent `clientId`: its batch row is started (as `agent:<id>`), a task with a
   * fresh 256-bit task_id and a deadline is stored, the deadline job queued, and the task pushed. Returns the
   * batch when the agent cannot take it (not approved any more, address not allowed, unreachable, refused):
   * its task has failed at once, and the caller hands the batch on. Undefined when the agent took it, or the
   * batch needs no run (completed or stopped already).
   */
  async dispatch(
    run: AgentRunRef,
    seq: number,
    clientId: string,
    targets: string[],
  ): Promise<UndeliveredBatch | undefined> {
    const start = await this.batches.start({
      resultId: run.resultId,
      seq,
      targets,
      workerId: agentWorkerId(clientId),
    });
    if (!start.runnable) return undefined;
    const undelivered = (reason: string) => ({ seq, batchId: start.batchId, clientId, targets, reason });
    const agent = await this.clients.agentEndpoint(clientId);
    if (!agent) return undelivered(`agent ${clientId} is no longer approved and enabled`);
    const taskId = randomBytes(32).toString('hex');
    const timeoutMs = this.config.clients.agentTaskTimeoutMs;
    const taskRowId = await this.tasks.create({
      taskId,
      clientId,
      resultId: run.resultId,
      scanId: run.scanId,
      seq,
      batchId: start.batchId,
      targets,
      deadline: new Date(Date.now() + timeoutMs),
    });
    await this.timeouts.add(
      AGENT_TASK_TIMEOUT_JOB,
      { taskRowId, scanId: run.scanId, resultId: run.resultId },
      {
        jobId: `agent-task-${taskRowId}`,
        delay: timeoutMs,
        attempts: 3,
        removeOnComplete: { count: this.config.jobRetentionCount },
        removeOnFail: { count: this.config.jobRetentionCount },
      },
    );
    const pushed = await this.push.scan(agent, {
      scan_id: run.scanId,
      task_id: taskId,
      result_id: run.resultId,
      targets,
      ...agentScanArguments(run.nmapFlags),
    });
    if (pushed.ok) {
      await this.tasks.transition(taskRowId, ['pending'], 'running');
      return undefined;
    }
    this.logger.warn(`run ${run.resultId} batch ${seq}: ${pushed.reason}`);
    if (
      !(await this.tasks.transition(taskRowId, OPEN_AGENT_TASK_STATUSES, 'failed', { error: pushed.reason }))
    ) {
      return undefined; // its results came in meanwhile (or it was stopped): nothing to hand on
    }
    await this.timeouts.remove(`agent-task-${taskRowId}`).catch(() => undefined);
    return undelivered(pushed.reason);
  }

  /** Whether batch `seq` of the run is with an agent that may still send its results. */
  async isOpen(resultId: number, seq: number): Promise<boolean> {
    const task = await this.tasks.findOfBatch(resultId, seq);
    return task !== null && OPEN_AGENT_TASK_STATUSES.includes(task.status);
  }

  /**
   * The run was stopped: its open tasks are cancelled (their late results are refused) and each agent is told
   * (`POST /scan/{scan_id}/cancel`, best effort).
   */
  async cancelRun(scanId: number, resultId: number): Promise<void> {
    const open = await this.tasks.findOpenOfRun(resultId);
    const agents = new Set<string>();
    for (const task of open) {
      if (
        await this.tasks.transition(task.id, OPEN_AGENT_TASK_STATUSES, 'cancelled', { error: 'run stopped' })
      ) {
        agents.add(task.clientId);
        await this.timeouts.remove(`agent-task-${task.id}`).catch(() => undefined);
      }
    }
    for (const clientId of agents) {
      const agent = await this.clients.anyAgentEndpoint(clientId);
      if (agent) void this.push.cancel(agent, scanId);
    }
  }

  /** Tells a newly approved agent (best effort; the answer is not awaited by the caller's request). */
  async announceApproval(clientId: string): Promise<void> {
    const agent = await this.clients.agentEndpoint(clientId);
    if (!agent) return;
    const outcome = await this.push.approve(agent);
    if (!outcome.ok) this.logger.warn(`approval of ${clientId} not delivered: ${outcome.reason}`);
  }
}
