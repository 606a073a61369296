// `GET /api/stats`, `GET /api/health` and the gateway's scrape-time gauges against known rows: runs, batches run by
// worker pools and by HTTP agents, the agents' task rows, and a worker pool's own batch queue. The rows are written
// directly (nothing is scanned), so every count below is exact; on both databases.
import { EntityManager } from '@mikro-orm/core';
import { BATCH_JOB } from '@nso/contracts';
import { Metrics } from '@nso/monitoring';
import {
  AgentTask,
  type AgentTaskStatus,
  Batch,
  type BatchStatus,
  Client,
  Scan,
  ScanResult,
  type ScanResultStatus,
} from '@nso/persistence/testing';
import { ClientBatchQueues } from '@nso/runs';
import { randomBytes } from 'node:crypto';
import { TEST_DATABASES } from '../support/database';
import { startGateway, TestGateway, TestUser } from '../support/gateway';
import { parsePrometheusText, sampleValue } from '../support/prometheus-text';

const HOUR_MS = 3_600_000;

interface SeededBatch {
  seq: number;
  status: BatchStatus;
  /** A pool's worker, or `agent:<client id>` for an agent's batch. */
  workerId: string;
  /** The agent_tasks rows of this batch, oldest first (an agent's batch only). */
  tasks?: AgentTaskStatus[];
}

describe.each(TEST_DATABASES)('/api/stats tasks and agent tasks on %s', (database) => {
  let gateway: TestGateway;
  let alice: TestUser;
  let bob: TestUser;

  /** A run of `scanId` created `ageHours` ago with these batch rows (and `batchesTotal` batches in all). */
  const seedRun = async (
    scanId: number,
    run: { status: ScanResultStatus; ageHours: number; batchesTotal: number; batches: SeededBatch[] },
  ) => {
    const em = gateway.app.get(EntityManager).fork();
    const createdAt = new Date(Date.now() - run.ageHours * HOUR_MS);
    const result = em.create(ScanResult, {
      scan: em.getReference(Scan, scanId),
      status: run.status,
      runner: 'asyncio',
      nmapFlags: ['-sT'],
      targets: ['127.0.51.0/24'],
      chunkSize: 1,
      concurrency: 2,
      targetsTotal: run.batchesTotal,
      batchesTotal: run.batchesTotal,
      batchesDone: run.batches.filter((b) => b.status === 'completed').length,
      batchesFailed: run.batches.filter((b) => b.status === 'failed').length,
      createdAt,
    });
    await em.flush();
    for (const seeded of run.batches) {
      const targets = [`127.0.51.${seeded.seq}`];
      const batch = em.create(Batch, {
        result,
        seq: seeded.seq,
        targets,
        status: seeded.status,
        workerId: seeded.workerId,
        startedAt: createdAt,
        createdAt,
      });
      await em.flush();
      for (const status of seeded.tasks ?? []) {
        em.create(AgentTask, {
          taskId: randomBytes(32).toString('hex'),
          clientId: seeded.workerId.replace(/^agent:/, ''),
          result,
          scanId,
          seq: seeded.seq,
          batchId: batch.id,
          targets,
          status,
          deadline: new Date(createdAt.getTime() + HOUR_MS),
          createdAt,
        });
      }
      await em.flush();
    }
  };

  beforeAll(async () => {
    gateway = await startGateway({ database, localPool: false });
    alice = await gateway.newUser('stats-alice');
    bob = await gateway.newUser('stats-bob');
    const newScan = async (user: TestUser) =>
      (
        await gateway
          .api(user)
          .post('/api/scans')
          .send({ verify_changes: false, name: `stats of ${user.id}`, target: '127.0.51.0/24', ports: '22' })
          .expect(201)
      ).body.scan.id as number;
    const [aliceScan, bobScan] = [await newScan(alice), await newScan(bob)];

    // Alice, now: a running run of 6 batches — a pool's completed one, and agents' (one completed; one running
    // after its first agent failed; one failed) — and 2 not started yet.
    await seedRun(aliceScan, {
      status: 'running',
      ageHours: 0,
      batchesTotal: 6,
      batches: [
        { seq: 1, status: 'completed', workerId: 'w1' },
        { seq: 2, status: 'completed', workerId: 'agent:probe-a', tasks: ['completed'] },
        { seq: 3, status: 'running', workerId: 'agent:probe-a', tasks: ['failed', 'running'] },
        { seq: 4, status: 'failed', workerId: 'agent:probe-a', tasks: ['failed'] },
      ],
    });
    // Alice, two days ago: a completed run, one agent batch.
    await seedRun(aliceScan, {
      status: 'completed',
      ageHours: 48,
      batchesTotal: 1,
      batches: [{ seq: 1, status: 'completed', workerId: 'agent:probe-a', tasks: ['completed'] }],
    });
    // Bob, now: a stopped run, a pool's batch completed and an agent's cancelled.
    await seedRun(bobScan, {
      status: 'stopped',
      ageHours: 0,
      batchesTotal: 2,
      batches: [
        { seq: 1, status: 'completed', workerId: 'w1' },
        { seq: 2, status: 'stopped', workerId: 'agent:probe-a', tasks: ['cancelled'] },
      ],
    });

    // Clients: the agent, approved and online; a worker pool awaiting approval, with a batch left on its queue.
    const em = gateway.app.get(EntityManager).fork();
    const now = new Date();
    em.create(Client, {
      clientId: 'probe-a',
      kind: 'agent',
      scanRange: ['127.0.51.0/24'],
      lastSeen: now,
      isApproved: true,
      approvedAt: now,
      createdAt: now,
    });
    em.create(Client, { clientId: 'site:b', kind: 'pool', scanRange: ['127.0.52.0/24'], lastSeen: now });
    await em.flush();
    await gateway.app
      .get(ClientBatchQueues)
      .queue('site:b')
      .add(
        BATCH_JOB,
        { scanId: bobScan, resultId: 0, batchSeq: 1, targets: ['127.0.52.1'], nmapFlags: ['-sT'] },
        { jobId: 'stats-test-b1' },
      );
  }, 60_000);

  afterAll(async () => {
    await gateway?.close();
  });

  it("counts every batch (pool or agent) in `tasks` and the agents' task rows in `agent_tasks`, per viewer", async () => {
    const aliceStats = await gateway.api(alice).get('/api/stats').expect(200);
    expect(aliceStats.body.stats).toEqual({
      clients: { total: 2, online: 2, scanning: 0, offline: 0 },
      tasks: { total: 6, pending: 2, running: 1, completed: 2, failed: 1 },
      agent_tasks: { total: 4, pending: 0, running: 1, completed: 1, failed: 2, cancelled: 0 },
      scans: { total: 1, completed: 0, failed: 0 },
    });
    const aliceLonger = await gateway.api(alice).get('/api/stats?hours=72').expect(200);
    expect(aliceLonger.body.stats).toMatchObject({
      tasks: { total: 7, pending: 2, running: 1, completed: 3, failed: 1 },
      agent_tasks: { total: 5, pending: 0, running: 1, completed: 2, failed: 2, cancelled: 0 },
      scans: { total: 2, completed: 1, failed: 0 },
    });
    const bobStats = await gateway.api(bob).get('/api/stats').expect(200);
    expect(bobStats.body.stats).toMatchObject({
      tasks: { total: 2, pending: 0, running: 0, completed: 1, failed: 0 },
      agent_tasks: { total: 1, pending: 0, running: 0, completed: 0, failed: 0, cancelled: 1 },
      scans: { total: 1, completed: 0, failed: 0 },
    });
    const adminStats = await gateway.api().get('/api/stats').expect(200);
    expect(adminStats.body.stats).toMatchObject({
      tasks: { total: 8, pending: 2, running: 1, completed: 3, failed: 1 },
      agent_tasks: { total: 5, pending: 0, running: 1, completed: 1, failed: 2, cancelled: 1 },
      scans: { total: 2, completed: 0, failed: 0 },
    });

    // Health: right now, whatever the age — Alice's 2 batches not started and 1 running; the approved agent.
    const health = await gateway.api().get('/api/health').expect(200);
    expect(health.body.stats).toEqual({ active_clients: 1, pending_tasks: 2, running_tasks: 1 });
  });

  it("reports agent tasks by state and each worker pool's queue, from the clients table, on a scrape", async () => {
    const samples = parsePrometheusText(await gateway.app.get(Metrics).scrape());
    const agentTasks = Object.fromEntries(
      samples.filter((s) => s.name === 'nso_agent_tasks').map((s) => [s.labels.status, s.value]),
    );
    expect(agentTasks).toEqual({ pending: 0, running: 1, completed: 2, failed: 2, cancelled: 1 });
    expect(sampleValue(samples, 'nso_batches', { status: 'stopped' })).toBe(1);

    // The shared queue of earlier releases and the pool's own (its id URI-encoded); the agent has no queue.
    const queues = new Set(samples.filter((s) => s.name === 'nso_queue_jobs').map((s) => s.labels.queue));
    expect([...queues].sort()).toEqual(['scan-batches', 'scan-batches.site%3Ab']);
    const pool = (state: string) =>
      sampleValue(samples, 'nso_queue_jobs', { queue: 'scan-batches.site%3Ab', state });
    expect([pool('waiting'), pool('active'), pool('completed'), pool('failed')]).toEqual([1, 0, 0, 0]);

    // A pool removed from the clients table leaves the page at the next scrape.
    await gateway.app.get(EntityManager).fork().nativeDelete(Client, { clientId: 'site:b' });
    const after = parsePrometheusText(await gateway.app.get(Metrics).scrape());
    expect(new Set(after.filter((s) => s.name === 'nso_queue_jobs').map((s) => s.labels.queue))).toEqual(
      new Set(['scan-batches']),
    );
  });
});
