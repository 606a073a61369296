// nmap's own progress through the whole system (issue 20, point 4): real nmap on loopback, two real worker
// processes, a real WebSocket and SSE subscriber, and GET /api/results/{id} while the run runs and after.
import { readSse } from '../support/sse-client';
import { startSystem, TestSystem } from '../support/system';
import { openScanSocket, WsMessage } from '../support/ws-client';

describe('run progress from nmap’s --stats-every reports', () => {
  let system: TestSystem;

  beforeAll(async () => {
    // nmap reports every second (the default is NMAP_STATS_EVERY=2).
    system = await startSystem({ workers: 2, env: { NMAP_STATS_EVERY: '1', WORKER_CONCURRENCY: '1' } });
  });
  afterAll(async () => {
    await system.close();
  });

  it('reports each of four batches between 0 and 100 % before it ends, with the run’s hosts and ETA', async () => {
    // 4 batches of 2 addresses; --scan-delay makes each take about 3 s (10 probes 300 ms apart per host), so
    // that nmap reports each one a few times while it runs. Two batches at a time.
    const started = await system.gateway
      .api()
      .post('/api/scans/start')
      .send({
        nmap_flags: ['-sT', '-Pn', '-n', '-p', '8000-8009', '--scan-delay', '300ms'],
        targets: ['127.0.21.0/29'],
        chunk_size: 2,
        concurrency: 2,
      })
      .expect(200);
    const scanId: number = started.body.scan_id;
    const auth = system.gateway.admin.auth;
    const socket = await openScanSocket(system.gateway.url, scanId, { headers: auth });
    const sse = readSse(`${system.gateway.url}/api/scans/${scanId}/events`, auth, 'scan_complete', 60_000);

    // While the run runs, any gateway answers its live progress from Redis.
    const first = await socket.waitFor((m) => m.event === 'progress' && m.batch_id !== undefined, 30_000);
    const resultId: number = first.result_id;
    const live = await system.gateway.api().get(`/api/results/${resultId}`).expect(200);
    expect(live.body.result.status).toBe('running');
    expect(live.body.progress).toMatchObject({ batches_total: 4, hosts_total: 8 });
    expect(live.body.progress.percent).toBeGreaterThan(0);
    expect(live.body.progress.percent).toBeLessThan(100);
    expect(live.body.progress.running_batches.length).toBeGreaterThan(0);
    for (const batch of live.body.progress.running_batches) {
      expect(batch).toMatchObject({ batch_id: expect.any(Number), hosts_total: 2 });
    }

    await socket.waitFor((m) => m.event === 'scan_complete', 60_000);
    socket.close();
    const events = socket.messages.filter((m) => m.result_id === resultId);

    for (const batchId of [1, 2, 3, 4]) {
      const ofBatch = events.filter((e) => e.batch_id === batchId);
      const complete = ofBatch.findIndex((e) => e.event === 'batch_complete');
      const reports = ofBatch.slice(0, complete).filter((e) => e.event === 'progress');
      const between = reports.filter((e) => e.batch.percent > 0 && e.batch.percent < 100);
      expect({ batchId, between: between.length > 0 }).toEqual({ batchId, between: true });
      // After batch_start, before batch_complete; nothing of the batch after its batch_complete.
      expect(ofBatch[0].event).toBe('batch_start');
      expect(complete).toBe(ofBatch.length - 1);
      for (const report of reports) expectBatchReport(report);
    }

    // The snapshots sent as batches finish count their addresses; the last one is the whole run.
    const finished = events.filter((e) => e.event === 'progress' && e.batch_id === undefined);
    expect(finished.map((e) => e.batches_done).sort()).toEqual([1, 2, 3, 4]);
    expect(finished.find((e) => e.batches_done === 4)).toEqual(
      expect.objectContaining({ percent: 100, hosts_done: 8, hosts_total: 8, eta_seconds: 0 }),
    );

    // The SSE subscriber got the same progress events.
    const sseProgress = (await sse).filter((e) => e.event === 'progress').map((e) => e.data);
    expect(sseProgress).toEqual(events.filter((e) => e.event === 'progress'));

    const after = await system.gateway.api().get(`/api/results/${resultId}`).expect(200);
    expect(after.body.progress).toEqual({
      percent: 100,
      batches_done: 4,
      batches_failed: 0,
      batches_total: 4,
      hosts_done: 8,
      hosts_total: 8,
      eta_seconds: 0,
      running_batches: [],
    });
  });
});

/** A running batch's `progress` event: its nmap's figures and the run's, in their ranges. */
function expectBatchReport(event: WsMessage): void {
  expect(event).toMatchObject({
    batches_total: 4,
    hosts_total: 8,
    batch: { task: 'Connect Scan', hosts_total: 2 },
  });
  expect(event.percent).toBeGreaterThanOrEqual(0);
  expect(event.percent).toBeLessThan(100);
  expect(event.batch.task_percent).toBeGreaterThanOrEqual(0);
  expect(event.batch.task_percent).toBeLessThanOrEqual(100);
  expect(event.batch.hosts_done).toBeLessThanOrEqual(2);
  expect(event.hosts_done).toBeLessThanOrEqual(8);
  if (event.percent > 0) expect(event.eta_seconds).toEqual(expect.any(Number));
}
