// Seed 003 "Get Statistics" (`GET /api/stats`) and the counts `GET /api/health` reports: one source for both.
import { EntityManager, FilterQuery } from '@mikro-orm/core';
import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@nso/config';
import {
  AGENT_TASK_STATUSES,
  AgentTask,
  AgentTaskStatus,
  Batch,
  Client,
  ClientStatus,
  clientStatusFilter,
  ScanResult,
} from '@nso/persistence';
import { AuthUser } from '../users/current-user';

export interface ClientCounts {
  total: number;
  online: number;
  scanning: number;
  offline: number;
}

/**
 * Tasks are batches: one chunk of a run's targets, whichever client scans it — a worker pool's nmap process or an
 * HTTP agent's task (its batch row is started when the task is pushed). A batch row is written when it starts,
 * so `pending` is what the queued and running runs still have to start (batches_total less the rows started or
 * finished); stopped batches count in `total` only. A batch handed from one client to another counts once.
 */
export interface TaskCounts {
  total: number;
  pending: number;
  running: number;
  completed: number;
  failed: number;
}

/**
 * The agent_tasks rows behind the agents' batches, by status: every push counts (a batch pushed again after its
 * agent failed counts twice, once failed). `pending`: being pushed; `running`: the agent took it; `cancelled`:
 * its run was stopped.
 */
export type AgentTaskCounts = Record<AgentTaskStatus | 'total', number>;

/** Runs; queued, running and stopped ones count in `total` only. */
export interface ScanCounts {
  total: number;
  completed: number;
  failed: number;
}

export interface SystemStats {
  clients: ClientCounts;
  tasks: TaskCounts;
  agent_tasks: AgentTaskCounts;
  scans: ScanCounts;
}

/** What `GET /api/health` reports: approved clients online or scanning, and batches waiting or running now. */
export interface CurrentLoad {
  active_clients: number;
  pending_tasks: number;
  running_tasks: number;
}

@Injectable()
export class StatsService {
  constructor(
    private readonly em: EntityManager,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * Counts since `since`: runs created since then, their batches and their agent tasks — every user's for an
   * admin, else of the viewer's own scans — and the scanner clients (all of them, for everyone: the health endpoint shows the same count
   * publicly, and a user needs it to know whether their scans can run). Clients are counted as they are now.
   */
  async stats(viewer: AuthUser, since: Date): Promise<SystemStats> {
    const em = this.em.fork();
    const own = viewer.role === 'admin' ? {} : { scan: { owner: viewer.id } };
    const runs: FilterQuery<ScanResult> = { createdAt: { $gte: since }, ...own };
    const run = (status?: ScanResult['status']) => em.count(ScanResult, status ? { ...runs, status } : runs);
    const batch = (status: Batch['status']) =>
      em.count(Batch, { status, result: runs as FilterQuery<ScanResult> } as FilterQuery<Batch>);
    const task = (status: AgentTaskStatus) =>
      em.count(AgentTask, { status, result: runs as FilterQuery<ScanResult> } as FilterQuery<AgentTask>);
    const [clients, rows, pending, tasks, scans] = await Promise.all([
      this.clientCounts(em),
      Promise.all([batch('running'), batch('completed'), batch('failed'), batch('stopped')]),
      this.pendingBatches(em, runs),
      Promise.all(AGENT_TASK_STATUSES.map(task)),
      Promise.all([run(), run('completed'), run('failed')]),
    ]);
    const [running, completed, failed, stopped] = rows;
    const agentTasks = { total: tasks.reduce((sum, n) => sum + n, 0) } as AgentTaskCounts;
    AGENT_TASK_STATUSES.forEach((status, index) => (agentTasks[status] = tasks[index]));
    return {
      clients,
      tasks: { total: pending + running + completed + failed + stopped, pending, running, completed, failed },
      agent_tasks: agentTasks,
      scans: { total: scans[0], completed: scans[1], failed: scans[2] },
    };
  }

  /** The health endpoint's counts, system-wide and right now (batches pending or running, whatever their age). */
  async currentLoad(): Promise<CurrentLoad> {
    const em = this.em.fork();
    const now = new Date();
    const offlineAfter = this.config.clients.offlineAfterMs;
    const [active, pending, running] = await Promise.all([
      em.count(Client, {
        isApproved: true,
        $or: [
          clientStatusFilter('online', now, offlineAfter),
          clientStatusFilter('scanning', now, offlineAfter),
        ],
      }),
      this.pendingBatches(em, {}),
      em.count(Batch, { status: 'running' }),
    ]);
    return { active_clients: active, pending_tasks: pending, running_tasks: running };
  }

  /** Batches the queued and running runs among `runs` have not started yet. */
  private async pendingBatches(em: EntityManager, runs: FilterQuery<ScanResult>): Promise<number> {
    const active = await em.find(
      ScanResult,
      { $and: [runs, { status: { $in: ['queued', 'running'] } }] },
      { fields: ['id', 'batchesTotal', 'batchesDone', 'batchesFailed'] },
    );
    if (active.length === 0) return 0;
    const running = await em.count(Batch, { status: 'running', result: { $in: active.map((r) => r.id) } });
    const unfinished = active.reduce((sum, r) => sum + r.batchesTotal - r.batchesDone - r.batchesFailed, 0);
    return Math.max(0, unfinished - running);
  }

  /** Every client by the one status rule (client-status.ts). */
  private async clientCounts(em: EntityManager): Promise<ClientCounts> {
    const now = new Date();
    const offlineAfter = this.config.clients.offlineAfterMs;
    const count = (status: ClientStatus) => em.count(Client, clientStatusFilter(status, now, offlineAfter));
    const [total, online, scanning, offline] = await Promise.all([
      em.count(Client, {}),
      count('online'),
      count('scanning'),
      count('offline'),
    ]);
    return { total, online, scanning, offline };
  }
}
