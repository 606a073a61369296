import { MikroORM } from '@mikro-orm/core';
import { Batch, Host, Scan, ScanResult } from '@nso/persistence/testing';
import { ClientBatchQueues } from '@nso/runs';
import { nmapProcessesMatching, processEnded, waitUntil } from '../support/nmap-processes';
import { FAILING_TARGET, NmapShim, SHIM_FAILURE, writeNmapShim } from '../support/nmap-shim';
import { startSystem, TestSystem } from '../support/system';
import { openScanSocket } from '../support/ws-client';

// Stop, faults and refusals. Real nmap against loopback only: 127.0.11.x, 127.0.12.x, 127.0.13.x.
describe('scan control and faults', () => {
  let system: TestSystem;
  let shim: NmapShim;

  beforeAll(async () => {
    // Real nmap behind a shim that fails on FAILING_TARGET: nmap runs every option set the policy accepts.
    shim = writeNmapShim();
    system = await startSystem({
      database: 'postgresql',
      workers: 2,
      env: { BATCH_ATTEMPTS: '2', NMAP_PATH: shim.path },
    });
  });
  afterAll(async () => {
    await system.close();
    shim.remove();
  });

  const start = (body: object) => system.gateway.api().post('/api/scans/start').send(body);
  const orm = () => system.gateway.app.get(MikroORM).em.fork();

  it('stops a running scan: nmap ends on every worker within 2 s, nothing starts afterwards, status stopped', async () => {
    // Every port at 100 packets/s: each batch would run for minutes.
    const started = await start({
      nmap_flags: ['-sT', '-Pn', '-n', '-p', '1-65535', '--max-rate', '100'],
      targets: ['127.0.11.0/29'],
      chunk_size: 1,
      concurrency: 2,
    }).expect(200);
    const scanId: number = started.body.scan_id;
    const socket = await openScanSocket(system.gateway.url, scanId, { headers: system.gateway.admin.auth });
    await waitUntil(
      () => socket.messages.filter((m) => m.event === 'batch_start').length === 2,
      20_000,
      'two batches',
    );
    await waitUntil(() => nmapProcessesMatching('127.0.11.').length === 2, 10_000, 'two nmap processes');

    const stopped = await system.gateway.api().post(`/api/scans/${scanId}/stop`).expect(200);
    expect(stopped.body).toEqual({ scan_id: scanId, status: 'stopping' });
    const took = await waitUntil(() => nmapProcessesMatching('127.0.11.').length === 0, 2_000, 'nmap exit');
    expect(took).toBeLessThan(2_000);
    await socket.waitFor((m) => m.event === 'scan_stopped');

    const described = await system.gateway.api().get(`/api/scans/${scanId}`).expect(200);
    expect(described.body.scan.status).toBe('stopped');
    const em = orm();
    const result = await em.findOneOrFail(ScanResult, { scan: scanId });
    expect(result.status).toBe('stopped');
    expect(result.finishedAt).toBeInstanceOf(Date);
    const batches = await em.find(Batch, { result: result.id });
    expect(batches.map((b) => b.status)).toEqual(['stopped', 'stopped']);
    // The local pool's queue: nothing waits, and the two stopped jobs end (a worker finishes a job just after
    // its nmap exits).
    const queue = system.gateway.app.get(ClientBatchQueues, { strict: false }).queue('local');
    const counts = () => queue.getJobCounts('waiting', 'delayed', 'active', 'prioritized');
    await waitUntil(async () => (await counts()).active === 0, 5_000, 'the stopped jobs end');
    expect(await counts()).toEqual({ waiting: 0, delayed: 0, active: 0, prioritized: 0 });
    socket.close();
    expect(socket.messages.some((m) => m.event === 'scan_complete')).toBe(false);
    expect(socket.messages.filter((m) => m.event === 'batch_start')).toHaveLength(2);

    const again = await system.gateway.api().post(`/api/scans/${scanId}/stop`).expect(409);
    expect(again.body).toMatchObject({ error: `Scan ${scanId} is not running`, scan_status: 'stopped' });
  });

  it('answers 404 to stopping an unknown scan, and 400 to a malformed id', async () => {
    expect((await system.gateway.api().post('/api/scans/999999/stop').expect(404)).body).toEqual({
      error: 'Scan not found',
    });
    await system.gateway
      .api()
      .post('/api/scans/abc/stop')
      .expect(400, { error: 'scan_id must be a positive integer' });
  });

  it('runs a batch again on another worker when its worker is killed mid-batch, storing each host once', async () => {
    const started = await start({
      nmap_flags: ['-sT', '-Pn', '-n', '-p', '1-4000', '--max-rate', '1000'],
      targets: ['127.0.12.1', '127.0.12.2'],
      chunk_size: 2,
    }).expect(200);
    const scanId: number = started.body.scan_id;
    const socket = await openScanSocket(system.gateway.url, scanId, { headers: system.gateway.admin.auth });
    const first = await socket.waitFor((m) => m.event === 'batch_start');
    const victim = system.workers.find((w) => w.output().includes(`worker ${first.worker} ready`))!;
    await waitUntil(() => socket.messages.some((m) => m.event === 'line'), 10_000, 'nmap output');
    const [orphan] = nmapProcessesMatching('127.0.12.1');
    expect(orphan).toEqual(expect.any(Number));
    await victim.stop('SIGKILL');
    // Its nmap does not scan on unowned: the parent-death signal ends it.
    await waitUntil(() => processEnded(orphan), 2_000, `the killed worker's nmap (pid ${orphan}) ending`);

    const rerun = await socket.waitFor((m) => m.event === 'batch_start' && m.worker !== first.worker, 30_000);
    expect(rerun.batch_id).toBe(1);
    await socket.waitFor((m) => m.event === 'scan_complete', 30_000);
    socket.close();
    expect(socket.messages.filter((m) => m.event === 'batch_complete')).toHaveLength(1);
    const em = orm();
    const result = await em.findOneOrFail(ScanResult, { scan: scanId });
    expect(result.status).toBe('completed');
    const hosts = await em.find(Host, { result: result.id });
    expect(hosts.map((h) => h.address).sort()).toEqual(['127.0.12.1', '127.0.12.2']);

    // Replace the killed worker for the tests that follow.
    system.workers.splice(system.workers.indexOf(victim), 1);
    await system.startWorker(`w-replacement-${Date.now()}`);
  });

  it('a worker that gets SIGTERM finishes its batch before it exits', async () => {
    const started = await start({
      nmap_flags: ['-sT', '-Pn', '-n', '-p', '1-3000', '--max-rate', '1500'],
      targets: ['127.0.12.9'],
    }).expect(200);
    const socket = await openScanSocket(system.gateway.url, started.body.scan_id, {
      headers: system.gateway.admin.auth,
    });
    const begun = await socket.waitFor((m) => m.event === 'batch_start');
    const worker = system.workers.find((w) => w.output().includes(`worker ${begun.worker} ready`))!;
    await worker.stop('SIGTERM');
    expect(await worker.exited).toBe(0);
    expect(socket.messages.some((m) => m.event === 'batch_complete')).toBe(true);
    await socket.waitFor((m) => m.event === 'scan_complete');
    socket.close();
    expect(socket.messages.filter((m) => m.event === 'batch_start')).toHaveLength(1);
    system.workers.splice(system.workers.indexOf(worker), 1);
    await system.startWorker(`w-after-term-${Date.now()}`);
  });

  it('reports a failing nmap with batch_failed and its stderr, retries once, then fails the scan', async () => {
    // The policy refuses what nmap refuses at start-up, so the failure comes from the shim (exit 1, stderr).
    const started = await start({
      nmap_flags: ['-sT', '-p', '1'],
      targets: [FAILING_TARGET],
    }).expect(200);
    const socket = await openScanSocket(system.gateway.url, started.body.scan_id, {
      headers: system.gateway.admin.auth,
    });
    const failed = await socket.waitFor((m) => m.event === 'scan_failed', 30_000);
    socket.close();
    const failures = socket.messages.filter((m) => m.event === 'batch_failed');
    expect(failures.map((f) => [f.attempt, f.will_retry])).toEqual([
      [1, true],
      [2, false],
    ]);
    expect(failures[0]).toMatchObject({
      batch_id: 1,
      exit_code: 1,
      stderr: expect.stringContaining(SHIM_FAILURE),
    });
    expect(failed).toMatchObject({ scan_id: started.body.scan_id, error: 'all 1 batches failed' });
    expect(socket.messages.some((m) => m.event === 'scan_complete')).toBe(false);
    const result = await orm().findOneOrFail(ScanResult, { scan: started.body.scan_id });
    expect(result).toMatchObject({ status: 'failed', batchesFailed: 1 });
  });

  describe('refusals: validated before anything is stored or enqueued', () => {
    it.each([
      [
        { nmap_flags: ['-sT'], targets: ['127.0.0.1'], runner: 'threads' },
        'runner must be one of: asyncio, multiprocessing',
      ],
      [{ nmap_flags: ['-sT'], targets: ['127.0.0.1'], chunk_size: 0 }, 'chunk_size must not be less than 1'],
      [
        { nmap_flags: ['-sT'], targets: ['127.0.0.1'], chunk_size: 4097 },
        'chunk_size must not be greater than 4096',
      ],
      [
        { nmap_flags: ['-sT'], targets: ['127.0.0.1'], concurrency: 0 },
        'concurrency must not be less than 1',
      ],
      [
        { nmap_flags: ['-sT'], targets: ['127.0.0.1'], concurrency: 65 },
        'concurrency must not be greater than 64',
      ],
      [
        { nmap_flags: ['-sT'], targets: ['127.0.0.1'], chunk_size: 1.5 },
        'chunk_size must be an integer number',
      ],
      [{ nmap_flags: ['-oN', 'x'], targets: ['127.0.0.1'] }, '-oN'],
      [{ nmap_flags: ['-sT'], targets: ['127.0.0.1', '198.51.100.7'] }, '198.51.100.7'],
      [{ nmap_flags: ['-sT'], targets: ['--script=x'] }, '--script=x'],
      [{ nmap_flags: ['-sT'], targets: ['127.0.0.1', '::1'] }, 'targets mix IPv4 (127.0.0.1) and IPv6 (::1)'],
      [{ nmap_flags: ['-sT'], targets: [] }, 'targets should not be empty'],
      [{ nmap_flags: ['-sT'] }, 'Missing required fields'],
      // Issue 8, B.5: nmap 7.93 quits on each at start-up; they used to be a 200 and failing batches.
      [{ nmap_flags: ['-sO', '-p', '1000'], targets: ['127.0.0.1'] }, '"option":"-p","options":["-p","-sO"]'],
      [{ nmap_flags: ['-sn', '-F'], targets: ['127.0.0.1'] }, '"options":["-F","-sn"]'],
      [{ nmap_flags: ['-sT', '-p', '80', '-p', '443'], targets: ['127.0.0.1'] }, 'is given twice'],
      [
        { nmap_flags: ['--min-rate', '10', '--max-rate', '1'], targets: ['127.0.0.1'] },
        '"options":["--min-rate","--max-rate"]',
      ],
      [{ nmap_flags: ['-6'], targets: ['127.0.0.1'] }, '-6 scans IPv6 only'],
      [{ nmap_flags: ['-4'], targets: ['::1'] }, '-4 scans IPv4 only'],
      [{ targets: ['0x7f000001'] }, 'IPv4 address in hex, octal or short form'],
    ])('refuses %j with 400', async (body, message) => {
      const response = await start(body).expect(400);
      expect(JSON.stringify(response.body)).toContain(message);
    });

    it('answers 404 for an unknown project_id', async () => {
      const response = await start({
        project_id: 424242,
        nmap_flags: ['-sT'],
        targets: ['127.0.0.1'],
      }).expect(404);
      expect(response.body).toEqual({ error: 'Project not found' });
    });

    it('left nothing behind for the refused requests', async () => {
      const em = orm();
      const before = await em.count(Scan, {});
      await start({ nmap_flags: ['-sT'], targets: ['127.0.0.1'], concurrency: 0 }).expect(400);
      await start({ project_id: 424242, nmap_flags: ['-sT'], targets: ['127.0.0.1'] }).expect(404);
      expect(await em.count(Scan, {})).toBe(before);
    });
  });

  it('answers a /8 at once, with batches created lazily, then stops it', async () => {
    const t0 = Date.now();
    const started = await start({
      nmap_flags: ['-sT', '-Pn', '-n', '-p', '1', '--max-rate', '50'],
      targets: ['127.0.0.0/8'],
      chunk_size: 256,
      concurrency: 2,
    }).expect(200);
    expect(Date.now() - t0).toBeLessThan(2_000);
    const em = orm();
    const result = await em.findOneOrFail(ScanResult, { scan: started.body.scan_id });
    expect(result).toMatchObject({ targetsTotal: 16_777_216, batchesTotal: 65_536 });
    await system.gateway.api().post(`/api/scans/${started.body.scan_id}/stop`).expect(200);
    expect(await em.count(Batch, { result: result.id })).toBeLessThanOrEqual(2);
  });
});
