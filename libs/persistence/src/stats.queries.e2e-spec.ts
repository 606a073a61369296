import { createTestDatabase, TEST_DATABASES, type TestDatabase } from '../../../test/support/database';
import { AgentTask, Client } from './entities';
import { MetricsQueries } from './metrics.queries';
import { StatsQueries } from './stats.queries';
import { createRun, type SeededRun } from './testing/factories';

const OFFLINE_AFTER_MS = 180_000;

describe.each(TEST_DATABASES)('StatsQueries and MetricsQueries on %s', (kind) => {
  let db: TestDatabase;
  let stats: StatsQueries;
  let metrics: MetricsQueries;
  let running: SeededRun;
  let old: SeededRun;
  const now = new Date();
  const progress = new Date(Math.floor(now.getTime() / 1000) * 1000 - 5_000);

  beforeAll(async () => {
    db = await createTestDatabase(kind);
    stats = new StatsQueries(db.orm.em);
    metrics = new MetricsQueries(db.orm.em);
    const em = db.orm.em.fork();
    // A running run of 4 batches (1 completed, 1 running, 2 not started) with an agent task; a completed run of
    // two days ago, of another user.
    running = await createRun(em, { batches: 4 });
    running.result.status = 'running';
    running.result.startedAt = new Date(progress.getTime() - 60_000);
    running.result.batchesDone = 1;
    running.batches[0].status = 'completed';
    running.batches[0].finishedAt = progress;
    running.batches[1].status = 'running';
    running.batches[1].startedAt = new Date(progress.getTime() - 30_000);
    em.create(AgentTask, {
      taskId: 'task-1',
      clientId: 'agent-1',
      result: running.result,
      scanId: running.scan.id,
      seq: 2,
      targets: ['127.0.1.1'],
      status: 'running',
      deadline: new Date(now.getTime() + 60_000),
    });
    old = await createRun(em, { batches: 1 });
    old.result.status = 'completed';
    old.result.createdAt = new Date(now.getTime() - 48 * 3_600_000);
    old.batches[0].status = 'completed';
    const client = (clientId: string, data: Partial<Client>) =>
      em.create(Client, { clientId, kind: 'pool', scanRange: ['127.0.0.0/8'], ...data });
    client('pool-b', { isApproved: true, lastSeen: now, status: 'scanning' });
    client('pool-a', { isApproved: false, lastSeen: now });
    client('agent-1', {
      kind: 'agent',
      isApproved: true,
      lastSeen: new Date(now.getTime() - OFFLINE_AFTER_MS),
    });
    await em.flush();
  });

  afterAll(async () => {
    await db?.cleanup();
  });

  it('counts runs, batches and agent tasks by scope: since, and owner', async () => {
    const day = { since: new Date(now.getTime() - 24 * 3_600_000) };
    await expect(stats.countRuns({})).resolves.toBe(2);
    await expect(stats.countRuns(day)).resolves.toBe(1);
    await expect(stats.countRuns({}, 'completed')).resolves.toBe(1);
    await expect(stats.countRuns({ ownerId: old.user.id })).resolves.toBe(1);
    await expect(stats.countRuns({ ...day, ownerId: old.user.id })).resolves.toBe(0);
    await expect(stats.countBatches({}, 'completed')).resolves.toBe(2);
    await expect(stats.countBatches(day, 'completed')).resolves.toBe(1);
    await expect(stats.countBatches({ ownerId: running.user.id }, 'running')).resolves.toBe(1);
    await expect(stats.countAgentTasks(day, 'running')).resolves.toBe(1);
    await expect(stats.countAgentTasks({ ownerId: old.user.id }, 'running')).resolves.toBe(0);
    await expect(stats.activeRunBatches({})).resolves.toEqual({ unfinished: 3, running: 1 });
    await expect(stats.activeRunBatches({ ownerId: old.user.id })).resolves.toEqual({
      unfinished: 0,
      running: 0,
    });
  });

  it('counts clients by the status rule, and the approved active ones', async () => {
    await expect(stats.countClients(now, OFFLINE_AFTER_MS)).resolves.toBe(3);
    await expect(stats.countClients(now, OFFLINE_AFTER_MS, 'online')).resolves.toBe(1);
    await expect(stats.countClients(now, OFFLINE_AFTER_MS, 'scanning')).resolves.toBe(1);
    await expect(stats.countClients(now, OFFLINE_AFTER_MS, 'offline')).resolves.toBe(1);
    await expect(stats.countActiveClients(now, OFFLINE_AFTER_MS)).resolves.toBe(1);
  });

  it('reads what the gauges show', async () => {
    await expect(metrics.poolIds(1)).resolves.toEqual(['pool-a']);
    await expect(metrics.poolIds(10)).resolves.toEqual(['pool-a', 'pool-b']);
    await expect(metrics.statusCounts()).resolves.toEqual({
      batches: { pending: 2, running: 1, completed: 2, failed: 0, stopped: 0 },
      agentTasks: { pending: 0, running: 1, completed: 0, failed: 0, cancelled: 0 },
      runs: { queued: 0, running: 1, completed: 1, stopped: 0, failed: 0 },
    });
    expect((await metrics.approvedClients()).map((c) => c.clientId).sort()).toEqual(['agent-1', 'pool-b']);
    await expect(metrics.runningRunProgress(10)).resolves.toEqual([
      { scanId: running.scan.id, resultId: running.result.id, lastProgressAt: progress },
    ]);
  });
});
