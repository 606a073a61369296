// The reconciliation of runs with Redis, on the shared Redis under this test's own prefix: a run whose Redis
// state, jobs, event log and seq counter are deleted is rebuilt from the database, once however many reconcilers
// run at the same time, and then runs to its end; a run whose straggler's split was claimed but never made (its
// worker died in between) ends once the straggler's retry has stored every address. Loopback only: 127.0.24.x.
import { MikroORM } from '@mikro-orm/core';
import { redisKeys } from '@nso/contracts';
import { BatchSplitRepository } from '@nso/persistence';
import { Host, ScanResult } from '@nso/persistence/testing';
import { BatchSplitter, ClientBatchQueues, RunReconciler, RunStateStore } from '@nso/runs';
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

  it('ends a run whose straggler split was claimed but never made, every host stored once', async () => {
    const { gateway } = system;
    // No worker takes a batch before the split (the first test's worker goes).
    await Promise.all(system.workers.splice(0).map((worker) => worker.stop()));
    const targets = ['127.0.24.21', '127.0.24.22', '127.0.24.23'];
    const started = await gateway
      .api()
      .post('/api/scans/start')
      .send({ nmap_flags: ['-sT', '-Pn', '-n', '-p', '1'], targets, chunk_size: 1, concurrency: 3 })
      .expect(200);
    const scanId: number = started.body.scan_id;
    const described = await gateway.api().get(`/api/scans/${scanId}`).expect(200);
    const resultId: number = described.body.scan.recent_results[0].result_id;
    const ref = { scanId, resultId };

    // Batch 3 is split with nothing reported: its number for the rest is claimed in Redis, then the worker
    // "dies" before the new batch's row (and job) exist.
    const splits = gateway.app.get(BatchSplitRepository, { strict: false });
    const died = jest.spyOn(splits, 'splitOff').mockRejectedValueOnce(new Error('worker killed'));
    const splitter = gateway.app.get(BatchSplitter, { strict: false });
    const straggler = {
      batchId: 0,
      seq: 3,
      targets: [targets[2]],
      hostnames: {},
      pool: 'local',
      workerId: 'gone',
    };
    await expect(splitter.split(ref, straggler, [])).rejects.toThrow('worker killed');
    died.mockRestore();
    const state = gateway.app.get(RunStateStore, { strict: false });
    expect(await state.progress(resultId)).toMatchObject({ done: 0, total: 4 });
    // Claimed a minute ago: no worker is still making it.
    await redis.hset(state.splitClaimsKey(resultId), '4', String(Date.now() - 60_000));

    // A worker runs the three planned batches (batch 3's job, never finished, runs whole); batch 4 has no job.
    const socket = await openScanSocket(gateway.url, scanId, { headers: gateway.admin.auth });
    await system.startWorker('reconcile-w2');
    await socket.waitFor(
      () => socket.messages.filter((m) => m.event === 'batch_complete').length === 3,
      30_000,
    );
    expect(await state.progress(resultId)).toMatchObject({ done: 3, total: 4 });
    const reconciler = gateway.app.get(RunReconciler, { strict: false });
    // 'skipped' when the worker's own reconciliation got there first.
    expect(['completed', 'skipped']).toContain(await reconciler.reconcileRun(resultId));
    await socket.waitFor((m) => m.event === 'scan_complete', 30_000);
    socket.close();

    const em = gateway.app.get(MikroORM).em.fork();
    const run = await em.findOneOrFail(ScanResult, resultId);
    expect(run).toMatchObject({ status: 'completed', batchesTotal: 3, batchesDone: 3, hostsUp: 3 });
    const hosts = await em.find(Host, { result: resultId });
    expect(hosts.map((host) => host.address).sort()).toEqual(targets);
  });
});
