// The read model behind `GET /api/stats` and the counts of `GET /api/health`: counts of runs, their batches and
// agent tasks, and scanner clients by the one status rule (client-status.ts). Reads only.
import type { EntityManager, FilterQuery } from '@mikro-orm/core';
import { clientStatusFilter } from './client-status';
import {
  AgentTask,
  Batch,
  Client,
  ScanResult,
  type AgentTaskStatus,
  type BatchStatus,
  type ClientStatus,
  type ScanResultStatus,
} from './entities';

/**
 * Which runs a count covers: those created at or after `since` (all when absent), of scans owned by `ownerId`
 * (every user's when absent). Batches and agent tasks are counted by their run.
 */
export interface RunScope {
  since?: Date;
  ownerId?: number;
}

/** The batches of a scope's queued and running runs: not yet finished (planned less done and failed), and running. */
export interface ActiveRunBatches {
  unfinished: number;
  running: number;
}

/** Provided by PersistenceModule, created after the migrations. */
export class StatsQueries {
  constructor(private readonly em: EntityManager) {}

  /** Runs in `scope`, with `status` when given. */
  countRuns(scope: RunScope, status?: ScanResultStatus): Promise<number> {
    const runs = runFilter(scope);
    return this.em.fork().count(ScanResult, (status ? { ...runs, status } : runs) as FilterQuery<ScanResult>);
  }

  /** Batch rows with `status` of the runs in `scope`. */
  countBatches(scope: RunScope, status: BatchStatus): Promise<number> {
    return this.em.fork().count(Batch, { status, ...ofRuns(scope) } as FilterQuery<Batch>);
  }

  /** Agent task rows with `status` of the runs in `scope`. */
  countAgentTasks(scope: RunScope, status: AgentTaskStatus): Promise<number> {
    return this.em.fork().count(AgentTask, { status, ...ofRuns(scope) } as FilterQuery<AgentTask>);
  }

  /** The batches of the queued and running runs in `scope`: how many are unfinished and how many running. */
  async activeRunBatches(scope: RunScope): Promise<ActiveRunBatches> {
    const em = this.em.fork();
    const active = await em.find(
      ScanResult,
      { $and: [runFilter(scope) as FilterQuery<ScanResult>, { status: { $in: ['queued', 'running'] } }] },
      { fields: ['id', 'batchesTotal', 'batchesDone', 'batchesFailed'] },
    );
    if (active.length === 0) return { unfinished: 0, running: 0 };
    const running = await em.count(Batch, { status: 'running', result: { $in: active.map((r) => r.id) } });
    const unfinished = active.reduce((sum, r) => sum + r.batchesTotal - r.batchesDone - r.batchesFailed, 0);
    return { unfinished, running };
  }

  /**
   * Scanner clients, all of them or those with `status` at `now` by the one status rule (clientStatus; silent for
   * `offlineAfterMs` or more is offline).
   */
  countClients(now: Date, offlineAfterMs: number, status?: ClientStatus): Promise<number> {
    return this.em.fork().count(Client, status ? clientStatusFilter(status, now, offlineAfterMs) : {});
  }

  /** Approved clients online or scanning at `now` (whether enabled counts in the status rule). */
  countActiveClients(now: Date, offlineAfterMs: number): Promise<number> {
    return this.em.fork().count(Client, {
      isApproved: true,
      $or: [
        clientStatusFilter('online', now, offlineAfterMs),
        clientStatusFilter('scanning', now, offlineAfterMs),
      ],
    });
  }
}

/** The runs of a scope as a ScanResult filter (an empty one for every run). */
function runFilter(scope: RunScope): { createdAt?: { $gte: Date }; scan?: { owner: number } } {
  return {
    ...(scope.since ? { createdAt: { $gte: scope.since } } : {}),
    ...(scope.ownerId !== undefined ? { scan: { owner: scope.ownerId } } : {}),
  };
}

/** The condition on a batch's or agent task's run; none when the scope is every run. */
function ofRuns(scope: RunScope): { result?: ReturnType<typeof runFilter> } {
  const runs = runFilter(scope);
  return Object.keys(runs).length === 0 ? {} : { result: runs };
}
