// Seed 003 "Get Statistics" (`GET /api/stats`) and the counts `GET /api/health` reports: one source for both.
import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@nso/config';
import { AGENT_TASK_STATUSES, StatsQueries, type AgentTaskStatus, type RunScope } from '@nso/persistence';
import { AuthUser } from '../users/current-user';

/** Every scanner client, and how many are online, scanning and offline now (by the one status rule). */
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

/** The `stats` of `GET /api/stats`. */
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

/** The counts of `GET /api/stats` and `GET /api/health`, read through StatsQueries. */
@Injectable()
export class StatsService {
  constructor(
    private readonly queries: StatsQueries,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * Counts since `since`: runs created since then, their batches and their agent tasks — every user's for an
   * admin, else of the viewer's own scans — and the scanner clients (all of them, for everyone: the health endpoint shows the same count
   * publicly, and a user needs it to know whether their scans can run). Clients are counted as they are now.
   */
  async stats(viewer: AuthUser, since: Date): Promise<SystemStats> {
    const runs: RunScope = viewer.role === 'admin' ? { since } : { since, ownerId: viewer.id };
    const batch = (status: 'running' | 'completed' | 'failed' | 'stopped') =>
      this.queries.countBatches(runs, status);
    const [clients, rows, pending, tasks, scans] = await Promise.all([
      this.clientCounts(),
      Promise.all([batch('running'), batch('completed'), batch('failed'), batch('stopped')]),
      this.pendingBatches(runs),
      Promise.all(AGENT_TASK_STATUSES.map((status) => this.queries.countAgentTasks(runs, status))),
      Promise.all([
        this.queries.countRuns(runs),
        this.queries.countRuns(runs, 'completed'),
        this.queries.countRuns(runs, 'failed'),
      ]),
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
    const [active, pending, running] = await Promise.all([
      this.queries.countActiveClients(new Date(), this.config.clients.offlineAfterMs),
      this.pendingBatches({}),
      this.queries.countBatches({}, 'running'),
    ]);
    return { active_clients: active, pending_tasks: pending, running_tasks: running };
  }

  /**
   * Batches the queued and running runs among `runs` have not started yet: their unfinished batches less those
   * running (a batch row is written when it starts), never below 0.
   */
  private async pendingBatches(runs: RunScope): Promise<number> {
    const { unfinished, running } = await this.queries.activeRunBatches(runs);
    return Math.max(0, unfinished - running);
  }

  /** Every client by the one status rule (client-status.ts in @nso/persistence). */
  private async clientCounts(): Promise<ClientCounts> {
    const now = new Date();
    const offlineAfter = this.config.clients.offlineAfterMs;
    const [total, online, scanning, offline] = await Promise.all([
      this.queries.countClients(now, offlineAfter),
      this.queries.countClients(now, offlineAfter, 'online'),
      this.queries.countClients(now, offlineAfter, 'scanning'),
      this.queries.countClients(now, offlineAfter, 'offline'),
    ]);
    return { total, online, scanning, offline };
  }
}
