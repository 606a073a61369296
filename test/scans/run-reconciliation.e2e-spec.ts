// The reconciliation of runs with Redis, on the shared Redis under this test's own prefix: a run whose Redis
// state, jobs, event log and seq counter are deleted is rebuilt from the database, once however many reconcilers
// run at the same time, and then runs to its end. Loopback only: 127.0.24.x.
import { redisKeys } from '@nso/contracts';
import { ClientBatchQueues, RunReconciler } from '@nso/runs';
import Redis from 'ioredis';
import { deleteKeys } from '../support/global-teardown';
import { testRedisUrl } from '../support/redis';
import { startSystem, TestSystem } from '../support/system';
import { openScanSocket } from '../support/ws-client';

describe('run reconciliation', () => {
  let system: TestSystem;
  let redis: Redis;

  beforeAll(async () => {
    system = await startSystem({ workers: 0 });
    redis = new Redis(testRedisUrl());
  });
  afterAll(async () => {
    redis.disconnect();
    await system.close();
  });

  it('rebuilds a run whose Redis state was deleted, once for concurrent reconcilers, and the run then ends', async () => {
    const { gateway } = system;
    const started = await gateway
      .api()
      .post('/api/scans/start')
      .send({
        nmap_flags: ['-sT', '-Pn', '-n', '-p', '1'],
        targets: ['127.0.24.1-5'],
        chunk_size: 1,
        concurrency: 2,
      })
      .expect(200);
    const scanId: number = started.body.scan_id;
    // No worker yet: the run is queued, its first two batches wait in the queue, nothing has been published.
    const described = await gateway.api().get(`/api/scans/${scanId}`).expect(200);
    const resultId: number = described.body.scan.recent_results[0].result_id;
    const queue = gateway.app.get(ClientBatchQueues, { strict: false }).queue('local');
    expect((await queue.getJobs(['waiting'])).length).toBe(2);

    // Redis loses everything of this deployment (its prefix): jobs, run state, event log, seq counter.
    const prefix = gateway.config.redisPrefix;
    const seqBefore = Number(await redis.get(redisKeys(prefix).scanSeq(scanId)));
    await deleteKeys(redis, `${prefix}:*`);
    expect((await queue.getJobs(['waiting'])).length).toBe(0);

    const reconciler = gateway.app.get(RunReconciler, { strict: false });
    const outcomes = await Promise.all([1, 2, 3].map(() => reconciler.reconcileRun(resultId)));
    expect(outcomes.filter((outcome) => outcome === 'resumed')).toHaveLength(1);
    // The others found it locked, or (had it finished first) already rebuilt.
    const others = outcomes.filter((outcome) => outcome !== 'resumed');
    expect(others.every((outcome) => outcome === 'skipped' || outcome === 'intact')).toBe(true);
    expect((await queue.getJobs(['waiting'])).map((job) => job.data.batchSeq).sort()).toEqual([1, 2]);
    // Running it again changes nothing.
    expect(await reconciler.reconcileRun(resultId)).toBe('intact');
    expect((await queue.getJobs(['waiting'])).length).toBe(2);

    const socket = await openScanSocket(gateway.url, scanId, { headers: gateway.admin.auth });
    await system.startWorker('reconcile-w1');
    const end = await socket.waitFor((m) => m.event === 'scan_complete', 30_000);
    socket.close();
    expect(end.seq).toBeGreaterThan(seqBefore);
    const batchIds = socket.messages.filter((m) => m.event === 'batch_complete').map((m) => m.batch_id);
    expect(batchIds.sort()).toEqual([1, 2, 3, 4, 5]);
    const after = await gateway.api().get(`/api/scans/${scanId}`).expect(200);
    expect(after.body.scan.status).toBe('completed');
    expect(after.body.scan.progress).toMatchObject({ batches_done: 5, batches_total: 5 });
    expect(await reconciler.reconcileRun(resultId)).toBe('skipped');
  });
});
