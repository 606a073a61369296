import { BadRequestException, NotFoundException } from '@nestjs/common';
import type { RunQueries, ScanRepository } from '@nso/persistence';
import type { RunService } from '@nso/runs';
import { FakeRunQueries, FakeScanRepository } from '../scans/testing/scan-fakes';
import { canonicalAddress, ResultsService } from './results.service';
import type { RunProgressReader } from './run-progress.view';
import type { RunSummaries } from './run-summary';

describe('canonicalAddress', () => {
  it.each([
    ['127.0.0.1', '127.0.0.1'],
    ['::1', '::1'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['FE80:0:0:0:0:0:0:1', 'fe80::1'],
    // IPv4-mapped: the IPv4 address it stands for, as agents, the scope and the rate limiter read it (issue 17).
    ['::ffff:127.0.0.5', '127.0.0.5'],
    ['::FFFF:127.0.0.7', '127.0.0.7'],
    ['0:0:0:0:0:ffff:7f00:5', '127.0.0.5'],
  ])('reads %p as %p', (raw, address) => {
    expect(canonicalAddress(raw)).toBe(address);
  });

  it.each(['fe80::1%eth0', '::1%lo', '127.1', '0x7f000001', 'localhost', '[::1]', ''])(
    'refuses %p with a 400',
    (raw) => {
      expect(() => canonicalAddress(raw)).toThrow(BadRequestException);
    },
  );
});

const as = <T>(fake: unknown) => fake as T;

function newService() {
  const scans = new FakeScanRepository();
  const runRows = new FakeRunQueries(scans);
  const planned = jest.fn((run: { id: number }, seqs: readonly number[]) =>
    seqs.map((seq) => ({ seq, clientId: 'local', agent: false, targets: [`127.0.0.${seq}`] })),
  );
  const summary = { total_targets: 1, completed_targets: 1 };
  const progress = { percent: 100 };
  const service = new ResultsService(
    as<RunQueries>(runRows),
    as<ScanRepository>(scans),
    as<RunSummaries>({ of: async () => summary }),
    as<RunService>({ plannedBatches: planned }),
    as<RunProgressReader>({ of: async () => progress }),
  );
  return { service, scans, runRows, planned, summary };
}

describe('ResultsService', () => {
  it("lists a scan's runs newest first, a page at a time; 404 for another user's scan", async () => {
    const { service, scans, runRows } = newService();
    scans.seed();
    scans.seed({ ownerId: 2 });
    for (let i = 0; i < 3; i++) runRows.addRun(1, { status: 'completed' });
    const body = await service.runsOfScan(1, 1, { per_page: 2 });
    expect(body).toMatchObject({ status: 'success', scan_id: 1, total: 3, has_next: true });
    expect(body.results.map((r) => r.result_id)).toEqual([3, 2]);
    expect(body.results[0]).toMatchObject({ scan_id: 1, status: 'completed', duration_seconds: null });
    await expect(service.runsOfScan(1, 2, {})).rejects.toMatchObject({
      response: { error: 'Scan not found' },
    });
  });

  it('shows a run with its summary and its hosts, each with the ports in the state asked for', async () => {
    const { service, scans, runRows, summary } = newService();
    scans.seed();
    const run = runRows.addRun(1, { status: 'completed' });
    runRows.hosts.push(
      { id: 1, resultId: run.id, address: '127.0.0.1', state: 'up', hostnames: [] } as never,
      { id: 2, resultId: run.id, address: '127.0.0.2', state: 'up', hostnames: [] } as never,
    );
    runRows.ports.push(
      { id: 1, hostId: 1, protocol: 'tcp', port: 22, state: 'open' } as never,
      { id: 2, hostId: 1, protocol: 'tcp', port: 23, state: 'closed' } as never,
      { id: 3, hostId: 2, protocol: 'tcp', port: 22, state: 'closed' } as never,
    );
    const body = await service.run(1, run.id, { port_state: 'open' });
    expect(body.summary).toBe(summary);
    expect(body.progress).toEqual({ percent: 100 });
    expect(body.hosts.total).toBe(1);
    expect(body.hosts.items).toEqual([
      expect.objectContaining({
        address: '127.0.0.1',
        ports: [expect.objectContaining({ protocol: 'tcp', port: 22, state: 'open' })],
      }),
    ]);
  });

  it("answers 404 for another user's run", async () => {
    const { service, scans, runRows } = newService();
    scans.seed({ ownerId: 2 });
    runRows.addRun(1);
    await expect(service.run(1, 1, {})).rejects.toBeInstanceOf(NotFoundException);
    await expect(service.batches(1, 1, {})).rejects.toMatchObject({
      response: { error: 'Result not found' },
    });
  });

  it("lists a run's batches in order: a started one as its row holds it, the others pending as planned", async () => {
    const { service, scans, runRows } = newService();
    scans.seed();
    const run = runRows.addRun(1, { status: 'running', batchesTotal: 3 });
    runRows.batches.push({
      resultId: run.id,
      seq: 2,
      status: 'completed',
      targets: ['127.0.0.2'],
      workerId: 'worker-a',
      attempts: 1,
      hostsUp: 1,
      openPorts: 2,
      exitCode: 0,
    } as never);
    const body = await service.batches(1, run.id, { per_page: 2 });
    expect(body).toMatchObject({ result_id: run.id, scan_id: 1, run_status: 'running', total: 3 });
    expect(body.batches).toEqual([
      expect.objectContaining({ batch_id: 1, status: 'pending', client_id: 'local', client_kind: 'pool' }),
      expect.objectContaining({
        batch_id: 2,
        status: 'completed',
        targets: ['127.0.0.2'],
        worker_id: 'worker-a',
        open_ports: 2,
      }),
    ]);
    const last = await service.batches(1, run.id, { page: 2, per_page: 2 });
    expect(last.batches.map((b) => b.batch_id)).toEqual([3]);
  });

  it('shows the batches a stopped run never started as stopped, not pending: they will never run', async () => {
    const { service, scans, runRows } = newService();
    scans.seed();
    const run = runRows.addRun(1, { status: 'stopped', batchesTotal: 2 });
    runRows.batches.push({ resultId: run.id, seq: 1, status: 'stopped', targets: ['127.0.0.1'] } as never);
    const body = await service.batches(1, run.id, {});
    expect(body.batches.map((b) => [b.batch_id, b.status, b.worker_id, b.attempts])).toEqual([
      [1, 'stopped', null, 0],
      [2, 'stopped', null, 0],
    ]);
  });

  it('shows the one batch row of an imported run, with nothing planned', async () => {
    const { service, scans, runRows, planned } = newService();
    scans.seed();
    const run = runRows.addRun(1, { status: 'completed', trigger: 'import', batchesTotal: 1 });
    runRows.batches.push({ resultId: run.id, seq: 1, status: 'completed', targets: ['127.0.0.1'] } as never);
    const body = await service.batches(1, run.id, {});
    expect(planned).not.toHaveBeenCalled();
    expect(body.batches).toEqual([
      expect.objectContaining({ batch_id: 1, status: 'completed', client_id: null, client_kind: null }),
    ]);
  });
});
