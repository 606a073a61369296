import { loadConfig } from '@nso/config';
import type {
  ActiveRunBatches,
  AgentTaskStatus,
  BatchStatus,
  ClientStatus,
  RunScope,
  ScanResultStatus,
  StatsQueries,
} from '@nso/persistence';
import { StatsService } from './stats.service';

interface Run {
  id: number;
  ownerId: number;
  createdAt: Date;
  status: ScanResultStatus;
  batchesTotal: number;
  batchesDone: number;
  batchesFailed: number;
}

/** The rows behind the counts, in memory; clients by the status they have now, some of them approved. */
class FakeStatsQueries implements Pick<
  StatsQueries,
  | 'countRuns'
  | 'countBatches'
  | 'countAgentTasks'
  | 'activeRunBatches'
  | 'countClients'
  | 'countActiveClients'
> {
  runs: Run[] = [];
  batches: Array<{ runId: number; status: BatchStatus }> = [];
  agentTasks: Array<{ runId: number; status: AgentTaskStatus }> = [];
  clients: Array<{ status: ClientStatus; approved: boolean }> = [];

  private inScope(scope: RunScope): Run[] {
    return this.runs.filter(
      (r) =>
        (!scope.since || r.createdAt >= scope.since) &&
        (scope.ownerId === undefined || r.ownerId === scope.ownerId),
    );
  }

  private ofRuns<T extends { runId: number }>(rows: T[], scope: RunScope): T[] {
    const ids = new Set(this.inScope(scope).map((r) => r.id));
    return rows.filter((row) => ids.has(row.runId));
  }

  countRuns(scope: RunScope, status?: ScanResultStatus): Promise<number> {
    return Promise.resolve(this.inScope(scope).filter((r) => !status || r.status === status).length);
  }

  countBatches(scope: RunScope, status: BatchStatus): Promise<number> {
    return Promise.resolve(this.ofRuns(this.batches, scope).filter((b) => b.status === status).length);
  }

  countAgentTasks(scope: RunScope, status: AgentTaskStatus): Promise<number> {
    return Promise.resolve(this.ofRuns(this.agentTasks, scope).filter((t) => t.status === status).length);
  }

  activeRunBatches(scope: RunScope): Promise<ActiveRunBatches> {
    const active = this.inScope(scope).filter((r) => r.status === 'queued' || r.status === 'running');
    const ids = new Set(active.map((r) => r.id));
    return Promise.resolve({
      unfinished: active.reduce((sum, r) => sum + r.batchesTotal - r.batchesDone - r.batchesFailed, 0),
      running: this.batches.filter((b) => ids.has(b.runId) && b.status === 'running').length,
    });
  }

  countClients(_now: Date, _offlineAfterMs: number, status?: ClientStatus): Promise<number> {
    return Promise.resolve(this.clients.filter((c) => !status || c.status === status).length);
  }

  countActiveClients(): Promise<number> {
    return Promise.resolve(this.clients.filter((c) => c.approved && c.status !== 'offline').length);
  }
}

const HOUR = 3_600_000;
const since = new Date(Date.now() - 24 * HOUR);
const admin = { id: 1, username: 'admin', role: 'admin' as const };
const alice = { id: 2, username: 'alice', role: 'user' as const };

function setup() {
  const queries = new FakeStatsQueries();
  const run = (id: number, ownerId: number, status: ScanResultStatus, batches = [0, 0, 0], age = HOUR) => {
    const [batchesTotal, batchesDone, batchesFailed] = batches;
    queries.runs.push({
      id,
      ownerId,
      status,
      createdAt: new Date(Date.now() - age),
      batchesTotal,
      batchesDone,
      batchesFailed,
    });
  };
  // alice: a running run (5 batches: 1 done, 1 failed, 1 running, 2 not started) and a completed one.
  run(1, alice.id, 'running', [5, 1, 1]);
  queries.batches.push(
    { runId: 1, status: 'completed' },
    { runId: 1, status: 'failed' },
    { runId: 1, status: 'running' },
  );
  queries.agentTasks.push({ runId: 1, status: 'failed' }, { runId: 1, status: 'running' });
  run(2, alice.id, 'completed', [1, 1, 0]);
  queries.batches.push({ runId: 2, status: 'completed' });
  // the admin: a stopped run, and a failed one from two days ago (outside the period).
  run(3, admin.id, 'stopped', [2, 0, 0]);
  queries.batches.push({ runId: 3, status: 'stopped' });
  run(4, admin.id, 'failed', [1, 0, 1], 48 * HOUR);
  queries.batches.push({ runId: 4, status: 'failed' });
  queries.clients.push(
    { status: 'online', approved: true },
    { status: 'scanning', approved: true },
    { status: 'online', approved: false },
    { status: 'offline', approved: true },
  );
  const service = new StatsService(queries as unknown as StatsQueries, loadConfig({}));
  return { service, queries };
}

describe('StatsService', () => {
  it("counts a user's own runs of the period, their batches and agent tasks, and every client", async () => {
    const { service } = setup();
    await expect(service.stats(alice, since)).resolves.toEqual({
      clients: { total: 4, online: 2, scanning: 1, offline: 1 },
      // pending: 5 planned - 1 done - 1 failed - 1 running = 2 not started yet
      tasks: { total: 6, pending: 2, running: 1, completed: 2, failed: 1 },
      agent_tasks: { total: 2, pending: 0, running: 1, completed: 0, failed: 1, cancelled: 0 },
      scans: { total: 2, completed: 1, failed: 0 },
    });
  });

  it("counts every user's runs for an admin, stopped batches in the total only", async () => {
    const { service } = setup();
    const stats = await service.stats(admin, since);
    expect(stats.scans).toEqual({ total: 3, completed: 1, failed: 0 });
    expect(stats.tasks).toEqual({ total: 7, pending: 2, running: 1, completed: 2, failed: 1 });
    const longer = await service.stats(admin, new Date(Date.now() - 72 * HOUR));
    expect(longer.scans).toEqual({ total: 4, completed: 1, failed: 1 });
  });

  it('never counts pending batches below 0 (rows of batches handed between clients)', async () => {
    const { service, queries } = setup();
    queries.batches.push(
      { runId: 1, status: 'running' },
      { runId: 1, status: 'running' },
      { runId: 1, status: 'running' },
    );
    const stats = await service.stats(alice, since);
    expect(stats.tasks.pending).toBe(0);
    expect(stats.tasks.running).toBe(4);
  });

  it('reports the current load for the health endpoint: approved active clients, batches waiting and running', async () => {
    const { service } = setup();
    await expect(service.currentLoad()).resolves.toEqual({
      active_clients: 2,
      pending_tasks: 2,
      running_tasks: 1,
    });
  });
});
