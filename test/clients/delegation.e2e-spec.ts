// Delegation by scan_range (issue 10, point 3) over real processes: two worker pools with different
// WORKER_SCAN_RANGEs, the `local` pool not running, real nmap against 127.0.50.0/24 only (127.0.51.1 is covered
// by no pool, so it is never scanned). Each pool scans only its part; what no pool covers is unassigned.
import { MikroORM } from '@mikro-orm/core';
import { Batch, Host, Scan, ScanResult } from '@nso/persistence/testing';
import { ClientBatchQueues } from '@nso/runs';
import { Listener, listenOn } from '../support/listeners';
import { keepPoolOnline } from '../support/pools';
import { startSystem, TestSystem } from '../support/system';
import { openScanSocket } from '../support/ws-client';

describe('delegation to worker pools by scan_range', () => {
  let system: TestSystem;
  let listener: Listener;
  const api = () => system.gateway.api();
  const em = () => system.gateway.app.get(MikroORM).em.fork();
  const flags = () => ['-sT', '-Pn', '-n', '-p', String(listener.port)];

  beforeAll(async () => {
    system = await startSystem({ workers: 0, localPool: false });
    const pool = (clientId: string, range: string) => ({
      WORKER_CLIENT_ID: clientId,
      WORKER_SCAN_RANGE: range,
      WORKER_AUTO_APPROVE: 'true',
    });
    await system.startWorker('site-a-w1', pool('site-a', '127.0.50.0/25'));
    await system.startWorker('site-b-w1', pool('site-b', '127.0.50.128/25'));
    listener = await listenOn('127.0.50.200');
  });
  afterAll(async () => {
    await listener?.close();
    await system?.close();
  });

  /** Waits for the run's terminal event and returns the run's events, in order. */
  async function eventsUntilEnd(scanId: number) {
    const socket = await openScanSocket(system.gateway.url, scanId, { headers: system.gateway.admin.auth });
    await socket.waitFor((m) => m.event === 'scan_complete' || m.event === 'scan_failed');
    socket.close();
    return socket.messages;
  }

  it('each pool scans only its range; the target no pool covers is unassigned, stored and announced', async () => {
    const started = await api()
      .post('/api/scans/start')
      .send({ targets: ['127.0.50.0/24', '127.0.51.1'], nmap_flags: flags(), chunk_size: 64, concurrency: 2 })
      .expect(200);
    expect(started.body).toEqual({
      scan_id: expect.any(Number),
      status: 'started',
      unassigned_targets: ['127.0.51.1'],
    });
    const scanId: number = started.body.scan_id;
    const events = await eventsUntilEnd(scanId);
    expect(events.filter((m) => m.event !== 'connected' && m.event !== 'line')[0]).toMatchObject({
      event: 'targets_unassigned',
      targets: ['127.0.51.1'],
      clients_triggered: 2,
    });
    expect(events.at(-1)).toMatchObject({ event: 'scan_complete', status: 'completed' });

    const result = await em().findOneOrFail(ScanResult, { scan: scanId });
    expect(result).toMatchObject({
      status: 'completed',
      targetsTotal: 256,
      batchesTotal: 4,
      batchesDone: 4,
      unassignedTargets: ['127.0.51.1'],
      delegation: [
        { clients: ['site-a'], ranges: ['127.0.50.0/25'] },
        { clients: ['site-b'], ranges: ['127.0.50.128/25'] },
      ],
    });
    const batches = await em().find(Batch, { result: result.id }, { orderBy: { seq: 'asc' } });
    expect(batches.map((b) => [b.seq, b.workerId, b.targets[0], b.targets.at(-1)])).toEqual([
      [1, 'site-a-w1', '127.0.50.0', '127.0.50.63'],
      [2, 'site-a-w1', '127.0.50.64', '127.0.50.127'],
      [3, 'site-b-w1', '127.0.50.128', '127.0.50.191'],
      [4, 'site-b-w1', '127.0.50.192', '127.0.50.255'],
    ]);
    const hosts = await em().find(Host, { result: result.id });
    expect(hosts).toHaveLength(256);
    expect(hosts.some((h) => h.address === '127.0.51.1')).toBe(false);

    const described = await api().get(`/api/scans/${scanId}`).expect(200);
    expect(described.body.scan.recent_results[0]).toMatchObject({
      status: 'completed',
      unassigned_targets: ['127.0.51.1'],
    });
  });

  it('execute answers how many clients got work and what no client covers', async () => {
    const created = await api()
      .post('/api/scans')
      .send({
        verify_changes: false,
        name: 'Two sites',
        target: '127.0.50.1, 127.0.50.200, 127.0.51.1',
        ports: String(listener.port),
        scan_arguments: '-sT -Pn -n',
      })
      .expect(201);
    const scanId: number = created.body.scan.id;
    const executed = await api().get(`/api/scans/${scanId}/execute`).expect(200);
    expect(executed.body).toEqual({
      status: 'success',
      message: 'Scan delegated to 2 clients',
      result_id: expect.any(Number),
      clients_triggered: 2,
      unassigned_targets: ['127.0.51.1'],
    });
    await eventsUntilEnd(scanId);
    const batches = await em().find(Batch, { result: executed.body.result_id }, { orderBy: { seq: 'asc' } });
    expect(batches.map((b) => [b.workerId, b.targets])).toEqual([
      ['site-a-w1', ['127.0.50.1']],
      ['site-b-w1', ['127.0.50.200']],
    ]);
  });

  it('409 naming the targets when no client covers any of them; nothing is stored', async () => {
    const scansBefore = await em().count(Scan, {});
    const refused = await api()
      .post('/api/scans/start')
      .send({ targets: ['127.0.51.0/24', '127.0.52.7'], nmap_flags: ['-sT', '-p', '22'] })
      .expect(409);
    expect(refused.body).toEqual({
      error: 'No approved, online scanner client covers the targets: 127.0.51.0/24, 127.0.52.7',
      unassigned_targets: ['127.0.51.0/24', '127.0.52.7'],
    });
    expect(await em().count(Scan, {})).toBe(scansBefore);

    const created = await api()
      .post('/api/scans')
      .send({
        verify_changes: false,
        name: 'Nobody covers it',
        target: '127.0.51.1',
        ports: '22',
        scan_arguments: '-sT',
      })
      .expect(201);
    const runsBefore = await em().count(ScanResult, {});
    await api()
      .get(`/api/scans/${created.body.scan.id}/execute`)
      .expect(409, {
        error: 'No approved, online scanner client covers the targets: 127.0.51.1',
        unassigned_targets: ['127.0.51.1'],
      });
    expect(await em().count(ScanResult, {})).toBe(runsBefore);
  });

  it('a revoked pool gets no work at once: its range becomes unassigned', async () => {
    await api().post('/api/clients/site-b/revoke').expect(200);
    try {
      const started = await api()
        .post('/api/scans/start')
        .send({ targets: ['127.0.50.120-135'], nmap_flags: flags(), chunk_size: 64 })
        .expect(200);
      expect(started.body.unassigned_targets).toEqual(['127.0.50.128/29']);
      await eventsUntilEnd(started.body.scan_id);
      const result = await em().findOneOrFail(ScanResult, { scan: started.body.scan_id });
      const batches = await em().find(Batch, { result: result.id });
      expect(batches.map((b) => [b.workerId, b.targets.length])).toEqual([['site-a-w1', 8]]);
    } finally {
      await api().post('/api/clients/site-b/approve').expect(200);
    }
  });

  it('revoking a pool moves the batches waiting on its queue to another pool that covers them', async () => {
    // site-c: a pool with no worker running, more specific than site-b: its batch waits on its queue.
    const siteC = await keepPoolOnline(system.gateway.app, 'site-c', ['127.0.50.128/26']);
    try {
      const started = await api()
        .post('/api/scans/start')
        .send({ targets: ['127.0.50.130'], nmap_flags: flags() })
        .expect(200);
      const scanId: number = started.body.scan_id;
      const queue = system.gateway.app.get(ClientBatchQueues, { strict: false }).queue('site-c');
      expect(await queue.getJobCounts('waiting')).toEqual({ waiting: 1 });
      await api().post('/api/clients/site-c/revoke').expect(200);
      expect(await queue.getJobCounts('waiting')).toEqual({ waiting: 0 });
      const events = await eventsUntilEnd(scanId);
      expect(events.at(-1)).toMatchObject({ event: 'scan_complete' });
      const result = await em().findOneOrFail(ScanResult, { scan: scanId });
      const batches = await em().find(Batch, { result: result.id });
      expect(batches.map((b) => [b.workerId, b.status])).toEqual([['site-b-w1', 'completed']]);
    } finally {
      siteC.stop();
    }
  });
});
