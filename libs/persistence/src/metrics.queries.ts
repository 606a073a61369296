// The read model behind the gauges the gateway fills when Prometheus scrapes it: rows by status, the worker
// pools whose queues are reported, the approved clients' heartbeats, the running runs' last progress. Reads only.
import type { EntityManager } from '@mikro-orm/core';
import {
  AGENT_TASK_STATUSES,
  AgentTask,
  Batch,
  BATCH_STATUSES,
  Client,
  SCAN_RESULT_STATUSES,
  ScanResult,
  type AgentTaskStatus,
  type BatchStatus,
  type ScanResultStatus,
} from './entities';

/** Rows of the three status tables, by status (every status present, 0 when none). */
export interface StatusCounts {
  batches: Record<BatchStatus, number>;
  agentTasks: Record<AgentTaskStatus, number>;
  runs: Record<ScanResultStatus, number>;
}

/** An approved client as its gauges show it: the fields of the status rule (clientStatus), and its kind. */
export type ApprovedClientRow = Pick<Client, 'clientId' | 'kind' | 'status' | 'lastSeen' | 'isEnabled'>;

/** A running run and when it last moved: it started, or a batch of it started or finished, whichever is latest. */
export interface RunProgressRow {
  scanId: number;
  resultId: number;
  lastProgressAt: Date;
}

/** Provided by PersistenceModule, created after the migrations. */
export class MetricsQueries {
  constructor(private readonly em: EntityManager) {}

  /** The client ids of the worker pools (approved or not), ascending, at most `limit`. */
  async poolIds(limit: number): Promise<string[]> {
    const pools = await this.em
      .fork()
      .find(Client, { kind: 'pool' }, { fields: ['clientId'], orderBy: { clientId: 'asc' }, limit });
    return pools.map((pool) => pool.clientId);
  }

  /** Batch, agent task and run rows by status, system-wide. */
  async statusCounts(): Promise<StatusCounts> {
    const em = this.em.fork();
    const [batches, tasks, runs] = await Promise.all([
      Promise.all(BATCH_STATUSES.map((status) => em.count(Batch, { status }))),
      Promise.all(AGENT_TASK_STATUSES.map((status) => em.count(AgentTask, { status }))),
      Promise.all(SCAN_RESULT_STATUSES.map((status) => em.count(ScanResult, { status }))),
    ]);
    return {
      batches: byStatus(BATCH_STATUSES, batches),
      agentTasks: byStatus(AGENT_TASK_STATUSES, tasks),
      runs: byStatus(SCAN_RESULT_STATUSES, runs),
    };
  }

  /** Every approved client (enabled or not). */
  approvedClients(): Promise<ApprovedClientRow[]> {
    return this.em.fork().find(Client, { isApproved: true });
  }

  /** The running runs, by id, at most `limit`, each with when it last moved. */
  async runningRunProgress(limit: number): Promise<RunProgressRow[]> {
    const em = this.em.fork();
    const running = await em.find(ScanResult, { status: 'running' }, { limit, orderBy: { id: 'asc' } });
    if (running.length === 0) return [];
    const progress = new Map(running.map((run) => [run.id, time(run.startedAt ?? run.createdAt)]));
    const batches = await em.find(Batch, { result: { $in: running.map((run) => run.id) } });
    for (const batch of batches) {
      const id = batch.result.id;
      progress.set(id, Math.max(progress.get(id) ?? 0, time(batch.startedAt), time(batch.finishedAt)));
    }
    return running.map((run) => ({
      scanId: run.scan.id,
      resultId: run.id,
      lastProgressAt: new Date(progress.get(run.id) ?? 0),
    }));
  }
}

const time = (date: Date | null | undefined): number => (date ? date.getTime() : 0);

function byStatus<S extends string>(statuses: readonly S[], counts: number[]): Record<S, number> {
  const result = {} as Record<S, number>;
  statuses.forEach((status, index) => (result[status] = counts[index]));
  return result;
}
