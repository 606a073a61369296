// What comes back from HTTP agents' tasks: a push the agent could not take, a deadline that passed, the results
// an agent posts. Each ends in a batch outcome (BatchOutcomes): handed on, failed, or stored and counted.
import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@nso/config';
import { AgentTaskPushJobData } from '@nso/contracts';
import { AgentTaskRepository, OPEN_AGENT_TASK_STATUSES, RunRepository } from '@nso/persistence';
import { AgentTasks, agentWorkerId } from './agent-tasks';
import { runPlanOf } from './batch-queue';
import { BatchOutcomes } from './batch-outcomes';
import type { AgentResultsCommand, AgentResultsOutcome, RunRef } from './run-commands';
import { AgentResultAddressesError, AgentTaskClosedError, AgentTaskNotFoundError } from './run.errors';

/** The agent commands of RunService: pushes agents could not take, deadlines, results. */
@Injectable()
export class AgentTaskIntake {
  constructor(
    private readonly runs: RunRepository,
    private readonly tasks: AgentTaskRepository,
    private readonly agents: AgentTasks,
    private readonly outcomes: BatchOutcomes,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * A worker's turn to push an agent's task (AGENT_TASK_PUSH_JOB, queued by AgentTasks.dispatch): a task the agent
   * cannot take goes to another approved, online client that covers it, or fails (BatchOutcomes.handOn), while
   * its run is queued or running.
   */
  async agentTaskPush(job: AgentTaskPushJobData): Promise<void> {
    const undelivered = await this.agents.pushTask(job);
    if (!undelivered) return;
    const run = await this.runs.find(job.resultId);
    if (!run || (run.status !== 'queued' && run.status !== 'running')) return;
    const ref = { scanId: job.scanId, resultId: run.id };
    await this.outcomes.handOn(ref, runPlanOf(ref, run), [undelivered]);
  }

  /**
   * A task's deadline passed (AGENT_TASK_TIMEOUT, a BullMQ delayed job): if it still has no results it fails,
   * and its batch counts as failed, so the run ends without it (partially). Nothing when it ended before.
   */
  async agentTaskTimedOut(taskRowId: number): Promise<void> {
    const task = await this.tasks.findById(taskRowId);
    if (!task || !OPEN_AGENT_TASK_STATUSES.includes(task.status)) return;
    const seconds = Math.round(this.config.clients.agentTaskTimeoutMs / 1000);
    const error = `agent ${task.clientId} sent no results within AGENT_TASK_TIMEOUT (${seconds} s)`;
    if (!(await this.tasks.transition(task.id, OPEN_AGENT_TASK_STATUSES, 'failed', { error }))) return;
    const ref = { scanId: task.scanId, resultId: task.result.id };
    if (task.batchId === null) return;
    await this.failBatch(ref, task.batchId, task.seq, error);
  }

  /**
   * An agent's results for one of its tasks (`POST /api/clients/{id}/results`; the caller checked the agent's
   * approval and address). Taken only for a task given to this client for this run (AgentTaskNotFoundError),
   * still waiting for results (AgentTaskClosedError; an identical retry of the accepted results is answered
   * again without storing twice), and only for the task's addresses (AgentResultAddressesError: nothing
   * stored). Results are stored in the batch's host and port rows and counted like a worker's batch.
   */
  async agentResults(command: AgentResultsCommand): Promise<AgentResultsOutcome> {
    const task = await this.tasks.findByTaskId(command.taskId);
    if (!task || task.clientId !== command.clientId || task.result.id !== command.resultId) {
      throw new AgentTaskNotFoundError();
    }
    const ref = { scanId: task.scanId, resultId: task.result.id };
    const outcome = (duplicate: boolean): AgentResultsOutcome => ({
      duplicate,
      resultId: ref.resultId,
      taskTargets: task.targets.length,
    });
    if (task.status === 'completed' && task.resultsDigest === command.digest) return outcome(true);
    if (!OPEN_AGENT_TASK_STATUSES.includes(task.status)) throw new AgentTaskClosedError(task.status);
    const given = new Set(task.targets);
    const outside = command.hosts.map((h) => h.address).filter((address) => !given.has(address));
    if (outside.length > 0) throw new AgentResultAddressesError([...new Set(outside)]);
    if (task.batchId === null) throw new AgentTaskClosedError(task.status);
    if (command.status === 'failed') {
      const error = command.error ?? `agent ${command.clientId} reported the task failed`;
      if (!(await this.tasks.transition(task.id, OPEN_AGENT_TASK_STATUSES, 'failed', { error }))) {
        throw new AgentTaskClosedError('failed');
      }
      await this.failBatch(ref, task.batchId, task.seq, error);
      return outcome(false);
    }
    const taken = await this.tasks.transition(task.id, OPEN_AGENT_TASK_STATUSES, 'completed', {
      resultsDigest: command.digest,
    });
    if (!taken) {
      // Another post of the same task got there first.
      const now = await this.tasks.findById(task.id);
      if (now?.status === 'completed' && now.resultsDigest === command.digest) return outcome(true);
      throw new AgentTaskClosedError(now?.status ?? 'gone');
    }
    try {
      await this.outcomes.batchCompleted(ref, task.seq, {
        batchId: task.batchId,
        workerId: agentWorkerId(command.clientId),
        exitCode: 0,
        stderr: null,
        finishedAt: new Date(),
        hosts: command.hosts,
      });
    } catch (error) {
      // Not stored: the task goes back to its agent (running, its deadline in force), so that a retry is taken
      // rather than answered as a duplicate of results that were never stored.
      await this.tasks.release(task.id, command.digest);
      throw error;
    }
    return outcome(false);
  }

  /** The batch of a failed agent task fails for good: an agent's task is not retried elsewhere. */
  private failBatch(ref: RunRef, batchId: number, seq: number, message: string): Promise<void> {
    return this.outcomes.batchFailed(ref, {
      batchId,
      seq,
      attempt: 1,
      final: true,
      message,
      exitCode: null,
      stderr: '',
    });
  }
}
