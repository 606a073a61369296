// A run's batches given to HTTP agents: each batch is one task, pushed to the agent (`POST /scan`) with an
// unguessable task_id by a worker (a job on AGENT_TASK_QUEUE, so that no request waits on an agent), and given a
// deadline on BullMQ (a delayed job on the same queue) so that a task whose results never come fails after
// AGENT_TASK_TIMEOUT.
import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@nso/config';
import {
  AGENT_TASK_PUSH_JOB,
  AGENT_TASK_QUEUE,
  AGENT_TASK_TIMEOUT_JOB,
  AgentTaskPushJobData,
  JobOf,
} from '@nso/contracts';
import {
  AgentTaskRepository,
  BatchRepository,
  ClientRepository,
  OPEN_AGENT_TASK_STATUSES,
} from '@nso/persistence';
import { Queue } from 'bullmq';
import { randomBytes } from 'node:crypto';
import { AgentPushClient, agentScanArguments } from './agent-push.client';
import { RunProgressStore } from './run-progress.store';

/** The worker id batch rows of an agent's task carry. */
export const agentWorkerId = (clientId: string): string => `agent:${clientId}`;

/**
 * How long a push waits before it is tried again when the agent answered 409: the original agent keys its scans
 * by scan_id and refuses a second task of a scan while it runs one ("Scan with this ID is already running").
 */
export const AGENT_BUSY_RETRY_MS = 5_000;

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

type AgentTaskJobName = typeof AGENT_TASK_TIMEOUT_JOB | typeof AGENT_TASK_PUSH_JOB;
type AgentTaskQueue = Queue<JobOf<AgentTaskJobName>, unknown, AgentTaskJobName>;

@Injectable()
export class AgentTasks {
  private readonly logger = new Logger(AgentTasks.name);

  constructor(
    private readonly tasks: AgentTaskRepository,
    private readonly batches: BatchRepository,
    private readonly clients: ClientRepository,
    private readonly push: AgentPushClient,
    @InjectQueue(AGENT_TASK_QUEUE) private readonly timeouts: AgentTaskQueue,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly progress: RunProgressStore,
  ) {}

  /**
   * Gives batch `seq` of the run to agent `clientId`: its batch row is started (as `agent:<id>`), a task with a
   * fresh 256-bit task_id and a deadline is stored, and two jobs are queued: its deadline and its push (made by a
   * worker, pushTask: no caller waits on an agent). The batch is among the run's running ones at 0 % (an agent
   * reports no progress of its own), so its addresses count in the run's `hosts_done` once its results are stored,
   * as a worker's batch does. Returns the batch when the agent cannot take it (not approved and enabled any more):
   * the caller hands it on. Undefined when the task was queued, or the batch needs no run (completed or stopped
   * already).
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
    const agent = await this.clients.agentEndpoint(clientId);
    if (!agent) {
      return {
        seq,
        batchId: start.batchId,
        clientId,
        targets,
        reason: `agent ${clientId} is no longer approved and enabled`,
      };
    }
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
    const started = { percent: 0, hostsDone: 0, hostsTotal: targets.length, at: Date.now() };
    await this.progress.report(run.resultId, seq, started).catch((error: unknown) => {
      this.logger.warn(
        `run ${run.resultId} batch ${seq}: progress not registered: ${(error as Error).message}`,
      );
    });
    const retention = {
      removeOnComplete: { count: this.config.jobRetentionCount },
      removeOnFail: { count: this.config.jobRetentionCount },
    };
    await this.timeouts.addBulk([
      {
        name: AGENT_TASK_TIMEOUT_JOB,
        data: { taskRowId, scanId: run.scanId, resultId: run.resultId },
        opts: { jobId: `agent-task-${taskRowId}`, delay: timeoutMs, attempts: 3, ...retention },
      },
      {
        name: AGENT_TASK_PUSH_JOB,
        data: { taskRowId, scanId: run.scanId, resultId: run.resultId, nmapFlags: run.nmapFlags },
        // One try: a push that fails hands the batch on; a worker that died mid-push leaves a stalled job, retried.
        opts: { jobId: `agent-task-push-${taskRowId}`, attempts: 1, ...retention },
      },
    ]);
    return undefined;
  }

  /**
   * Pushes a pending task to its agent (a worker, for its AGENT_TASK_PUSH_JOB): `running` when the agent took it
   * (2xx). An agent that answers 409 (the original agent while it scans another task of the same scan) is pushed
   * again AGENT_BUSY_RETRY_MS later, while the task's deadline allows. Returns the batch when the agent cannot take it (no longer approved and enabled, outside
   * AGENT_PUSH_ALLOW, unreachable within AGENT_PUSH_TIMEOUT_MS, or refused): its task has failed, and the caller
   * hands it on. Undefined when it was taken, or the task is no longer pending (stopped, revoked, answered).
   */
  async pushTask(job: AgentTaskPushJobData): Promise<UndeliveredBatch | undefined> {
    const task = await this.tasks.findById(job.taskRowId);
    if (!task || task.status !== 'pending') return undefined;
    const agent = await this.clients.agentEndpoint(task.clientId);
    const pushed = agent
      ? await this.push.scan(agent, {
          scan_id: task.scanId,
          task_id: task.taskId,
          result_id: job.resultId,
          targets: task.targets,
          ...agentScanArguments(job.nmapFlags),
        })
      : { ok: false as const, reason: `agent ${task.clientId} is no longer approved and enabled` };
    if (pushed.ok) {
      await this.tasks.transition(task.id, ['pending'], 'running');
      return undefined;
    }
    if (pushed.status === 409 && Date.now() + AGENT_BUSY_RETRY_MS < task.deadline.getTime()) {
      // Busy with another task of this scan: pushed again later; the task's deadline still holds.
      await this.timeouts.add(AGENT_TASK_PUSH_JOB, job, {
        jobId: `agent-task-push-${task.id}-${Date.now()}`,
        delay: AGENT_BUSY_RETRY_MS,
        attempts: 1,
        removeOnComplete: { count: this.config.jobRetentionCount },
        removeOnFail: { count: this.config.jobRetentionCount },
      });
      return undefined;
    }
    this.logger.warn(`run ${job.resultId} batch ${task.seq}: ${pushed.reason}`);
    if (
      !(await this.tasks.transition(task.id, OPEN_AGENT_TASK_STATUSES, 'failed', { error: pushed.reason }))
    ) {
      return undefined; // its results came in meanwhile (or it was stopped): nothing to hand on
    }
    await this.timeouts.remove(`agent-task-${task.id}`).catch(() => undefined);
    return {
      seq: task.seq,
      batchId: task.batchId ?? undefined,
      clientId: task.clientId,
      targets: task.targets,
      reason: pushed.reason,
    };
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
