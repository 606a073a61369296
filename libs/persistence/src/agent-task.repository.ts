// The agent_tasks table: every write of its rows is here. A status change is one conditional UPDATE, so a late
// result, a timeout, a stop and a revocation racing on one task agree on one ending.
import type { EntityManager } from '@mikro-orm/core';
import { AgentTask, type AgentTaskStatus } from './entities';

/** Statuses in which a task still waits for its results. */
export const OPEN_AGENT_TASK_STATUSES: readonly AgentTaskStatus[] = ['pending', 'running'];

export interface AgentTaskInput {
  taskId: string;
  clientId: string;
  resultId: number;
  scanId: number;
  seq: number;
  batchId: number;
  targets: string[];
  deadline: Date;
}

/** Provided by PersistenceModule. */
export class AgentTaskRepository {
  constructor(private readonly em: EntityManager) {}

  /** Stores a new task as pending; returns its row id. */
  async create(input: AgentTaskInput): Promise<number> {
    const em = this.em.fork();
    const { resultId, ...fields } = input;
    const task = em.create(AgentTask, {
      ...fields,
      result: resultId,
      status: 'pending',
      createdAt: new Date(),
    });
    await em.flush();
    return task.id;
  }

  /**
   * Moves the task from one of `from` to `to` (with an error or results digest); false when it was in none of
   * them (another caller ended it first).
   */
  async transition(
    id: number,
    from: readonly AgentTaskStatus[],
    to: AgentTaskStatus,
    fields: { error?: string; resultsDigest?: string } = {},
  ): Promise<boolean> {
    const finished = to === 'pending' || to === 'running' ? {} : { finishedAt: new Date() };
    const changed = await this.em
      .fork()
      .nativeUpdate(AgentTask, { id, status: { $in: [...from] } }, { status: to, ...fields, ...finished });
    return changed > 0;
  }

  findById(id: number): Promise<AgentTask | null> {
    return this.em.fork().findOne(AgentTask, id);
  }

  findByTaskId(taskId: string): Promise<AgentTask | null> {
    return this.em.fork().findOne(AgentTask, { taskId });
  }

  /** The latest task of a run's batch (a batch is pushed again only after its task ended). */
  findOfBatch(resultId: number, seq: number): Promise<AgentTask | null> {
    return this.em.fork().findOne(AgentTask, { result: resultId, seq }, { orderBy: { id: 'desc' } });
  }

  /** Tasks of the run still waiting for results. */
  findOpenOfRun(resultId: number): Promise<AgentTask[]> {
    return this.em
      .fork()
      .find(AgentTask, { result: resultId, status: { $in: [...OPEN_AGENT_TASK_STATUSES] } });
  }

  /** Tasks of the client still waiting for results. */
  findOpenOfClient(clientId: string): Promise<AgentTask[]> {
    return this.em.fork().find(AgentTask, { clientId, status: { $in: [...OPEN_AGENT_TASK_STATUSES] } });
  }

  /**
   * How many addresses the largest task of the client that may still be posted to holds: open ones, and those
   * that ended at or after `since` (a retry of accepted results, or late results to be refused by name).
   * Undefined when there is none: the client has nothing to post.
   */
  async intakeCapacity(clientId: string, since: Date): Promise<number | undefined> {
    const tasks = await this.em.fork().find(
      AgentTask,
      {
        clientId,
        $or: [{ status: { $in: [...OPEN_AGENT_TASK_STATUSES] } }, { finishedAt: { $gte: since } }],
      },
      { fields: ['targets'] },
    );
    if (tasks.length === 0) return undefined;
    return Math.max(...tasks.map((task) => task.targets.length));
  }

  /**
   * Gives a completed task back to its agent (status running, no results digest) when storing the results it
   * was completed with failed: the agent's retry is then taken, and the task's deadline applies again. False
   * when the task is no longer completed with `digest`.
   */
  async release(id: number, digest: string): Promise<boolean> {
    const changed = await this.em
      .fork()
      .nativeUpdate(
        AgentTask,
        { id, status: 'completed', resultsDigest: digest },
        { status: 'running', resultsDigest: null, finishedAt: null },
      );
    return changed > 0;
  }

  /**
   * The client's latest tasks, newest first, at most `limit`; with `ownerId`, only those of that user's scans (a
   * client is shared by every user, their scans are not).
   */
  recentOfClient(clientId: string, limit: number, ownerId?: number): Promise<AgentTask[]> {
    const mine = ownerId === undefined ? {} : { result: { scan: { owner: ownerId } } };
    return this.em.fork().find(AgentTask, { clientId, ...mine }, { orderBy: { id: 'desc' }, limit });
  }
}
