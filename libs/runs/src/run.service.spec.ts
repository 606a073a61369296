import { ClientRevokedError } from './run.errors';
import { Logger } from '@nestjs/common';
import { NmapPolicyError } from '@nso/nmap';
import { HostRows } from '@nso/persistence';
import {
  ImportStoppedError,
  NoCoveringClientError,
  QueueUnavailableError,
  RunActiveError,
} from './run.errors';
import { BatchFailedCommand, StartOneOffCommand } from './run-commands';
import { newRunService, summary } from './testing/run-fakes';

/** 10 loopback addresses in batches of 2 (5 batches), 2 at a time. */
const oneOff = (fields: Partial<StartOneOffCommand> = {}): StartOneOffCommand => ({
  ownerId: 1,
  projectId: 1,
  name: 'Scan of 127.0.0.1-10',
  targets: ['127.0.0.1-10'],
  nmapFlags: ['-sT', '-p', '22'],
  runner: 'asyncio',
  chunkSize: 2,
  concurrency: 2,
  ...fields,
});

const upHost = {
  address: '127.0.0.1',
  addressType: 'ipv4',
  hostnames: [],
  state: 'up',
  ports: [22, 80, 443].map((port) => ({ protocol: 'tcp', port, state: port === 443 ? 'closed' : 'open' })),
};

describe('RunService', () => {
  beforeEach(() => {
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
  });
  afterEach(() => jest.restoreAllMocks());

  /** Starts a one-off run and returns its ref, with a helper that runs batch `seq` to its stored result. */
  async function started(fields: Partial<StartOneOffCommand> = {}) {
    const system = newRunService();
    const run = await system.service.startOneOff(oneOff(fields));
    const ref = { scanId: run.scanId, resultId: run.resultId };
    const take = (seq: number, workerId = 'worker-a') =>
      system.service.startBatch({ resultId: ref.resultId, seq, targets: [], workerId });
    /** Runs batch `seq` to its stored result: one host up with two open ports. */
    const finish = async (seq: number) => {
      const { batchId } = await take(seq);
      await system.service.batchCompleted(ref, seq, {
        batchId,
        workerId: 'worker-a',
        exitCode: 0,
        stderr: null,
        finishedAt: new Date(),
        hosts: [upHost],
      });
    };
    /** Takes batch `seq` and fails this attempt of it (by default the last one, nmap exiting with 1). */
    const fail = async (seq: number, fields: Partial<BatchFailedCommand> = {}) => {
      const { batchId } = await take(seq);
      const failure = { message: 'nmap exited with code 1', exitCode: 1, stderr: '', ...fields };
      await system.service.batchFailed(ref, { batchId, seq, attempt: 1, final: true, ...failure });
    };
    return { ...system, run, ref, take, finish, fail };
  }

  describe('import', () => {
    const imported = (scanId: number, nmapFlags?: string[]) => ({
      scanId,
      hosts: [
        HostRows.of([upHost]),
        HostRows.of([{ ...upHost, address: '127.0.0.2', state: 'down', ports: [] }]),
      ],
      facts: () => ({
        nmapFlags,
        targets: ['127.0.0.1', '127.0.0.2'],
        startedAt: new Date(1_000_000),
        finishedAt: new Date(1_002_000),
      }),
    });

    it('stores a file as a run started and completed at its own times, and queues its diff', async () => {
      const { service, scans, runs, batches, deltaJobs, events } = newRunService();
      scans.scans.set(7, { id: 7, nmapFlags: ['-sS'], runner: 'multiprocessing' });
      const run = await service.importRun(imported(7, ['-sT', '-p22']));
      expect(run).toEqual({ resultId: 1, hostsUp: 1, openPorts: 2 });
      expect(runs.row(1)).toMatchObject({
        trigger: 'import',
        status: 'completed',
        runner: 'multiprocessing',
        nmapFlags: ['-sT', '-p22'],
        targets: ['127.0.0.1', '127.0.0.2'],
        startedAt: new Date(1_000_000),
        finishedAt: new Date(1_002_000),
      });
      expect(batches.rows).toEqual([
        expect.objectContaining({ seq: 1, status: 'completed', workerId: 'import', attempts: 1 }),
      ]);
      expect(deltaJobs.queued).toEqual([{ scanId: 7, resultId: 1 }]);
      expect(events.events).toEqual([]);
    });

    it('stores, for a file without options, the options a run of the scan stores', async () => {
      const { service, scans, runs } = newRunService();
      scans.scans.set(7, {
        id: 7,
        nmapFlags: ['-sT', '--max-retries', '1'],
        ports: '22,80',
        runner: 'asyncio',
      });
      await service.importRun(imported(7));
      expect(runs.row(1)?.nmapFlags).toEqual(['-sT', '--max-retries=1', '-p22,80']);
    });

    it('deletes the run when a stop ended it before the import completed', async () => {
      const { service, scans, runs, batches, deltaJobs } = newRunService();
      scans.scans.set(7, { id: 7, nmapFlags: ['-sS'], runner: 'asyncio' });
      jest.spyOn(runs, 'complete').mockResolvedValueOnce(undefined);
      await expect(service.importRun(imported(7))).rejects.toThrow(ImportStoppedError);
      expect(runs.rows).toEqual([]);
      expect(batches.rows).toEqual([]);
      expect(deltaJobs.queued).toEqual([]);
    });
  });

  describe('delegation', () => {
    it('delegates each target to the most specific range; the rest are unassigned, stored and announced', async () => {
      const system = newRunService();
      system.clients.delegable = [
        { clientId: 'site-a', kind: 'pool', scanRange: ['127.0.50.0/25'] },
        { clientId: 'site-b', kind: 'pool', scanRange: ['127.0.50.128/25'] },
        { clientId: 'agent-x', kind: 'agent', scanRange: ['127.0.60.0/24'] },
      ];
      const run = await system.service.startOneOff(
        oneOff({ targets: ['127.0.50.0/24', '127.0.51.1'], chunkSize: 64, concurrency: 8 }),
      );
      expect(run).toMatchObject({
        targetsTotal: 256,
        batchesTotal: 4,
        clientsTriggered: 2,
        unassignedTargets: ['127.0.51.1'],
      });
      expect(system.runs.row(run.resultId)).toMatchObject({
        delegation: [
          { clients: ['site-a'], ranges: ['127.0.50.0/25'] },
          { clients: ['site-b'], ranges: ['127.0.50.128/25'] },
        ],
        unassignedTargets: ['127.0.51.1'],
      });
      expect(system.events.namesOf(run.resultId)).toEqual(['targets_unassigned']);
      expect(system.events.events[0]).toMatchObject({ targets: ['127.0.51.1'], clients_triggered: 2 });
      expect(system.queue.seqsOf(run.resultId)).toEqual([1, 2, 3, 4]);
    });

    it('refuses a run no client covers, naming the targets, and stores nothing', async () => {
      const system = newRunService();
      system.clients.delegable = [{ clientId: 'site-a', kind: 'pool', scanRange: ['127.0.50.0/25'] }];
      const started = system.service.startOneOff(oneOff({ targets: ['127.0.51.1', '127.0.52.0/30'] }));
      await expect(started).rejects.toThrow(NoCoveringClientError);
      await expect(started).rejects.toMatchObject({ targets: ['127.0.51.1', '127.0.52.0/30'] });
      expect(system.runs.rows).toEqual([]);
      expect(system.queue.enqueued).toEqual([]);
      expect(system.events.events).toEqual([]);
    });
  });

  describe('start', () => {
    it('stores a one-off run as queued and enqueues its first window of batches', async () => {
      const { run, runs, queue, state } = await started();
      expect(run).toEqual({
        scanId: expect.any(Number),
        resultId: 1,
        targetsTotal: 10,
        batchesTotal: 5,
        clientsTriggered: 1,
        unassignedTargets: [],
      });
      expect(runs.row(1)).toMatchObject({
        status: 'queued',
        trigger: 'api-start',
        nmapFlags: ['-sT', '-p22'],
      });
      expect(queue.seqsOf(1)).toEqual([1, 2]);
      expect(await state.progress(1)).toEqual({ done: 0, failed: 0, total: 5, stopped: false });
    });

    it('counts each address once when targets overlap', async () => {
      const { run } = await started({ targets: ['127.0.0.1-10', '127.0.0.5', '127.0.0.0/29'] });
      expect(run).toMatchObject({ targetsTotal: 11, batchesTotal: 6 });
    });

    it('refuses options outside the policy before storing anything', async () => {
      const { service, runs, queue } = newRunService();
      await expect(service.startOneOff(oneOff({ nmapFlags: ['--script', 'vuln'] }))).rejects.toBeInstanceOf(
        NmapPolicyError,
      );
      expect(runs.rows).toEqual([]);
      expect(queue.enqueued).toEqual([]);
    });

    it('marks the run failed, never started, when its batches cannot be enqueued', async () => {
      const { service, runs, queue } = newRunService();
      queue.failNext = new Error('connect ECONNREFUSED 127.0.0.1:6379');
      await expect(service.startOneOff(oneOff())).rejects.toBeInstanceOf(QueueUnavailableError);
      expect(runs.row(1)).toMatchObject({ status: 'failed', error: 'could not enqueue' });
      expect(runs.row(1).finishedAt).toBeUndefined();
    });

    it('starts a run of a stored scan with its trigger, and refuses a second one while it is active', async () => {
      const { service, scans, runs, queue } = newRunService();
      scans.scans.set(7, {
        id: 7,
        targets: ['127.0.0.1', '127.0.0.2'],
        nmapFlags: ['-sT'],
        ports: '22,80',
        runner: 'asyncio',
        chunkSize: 1,
        concurrency: 4,
      });
      const first = await service.start({ scanId: 7, trigger: 'schedule' });
      expect(first).toEqual({
        scanId: 7,
        resultId: 1,
        targetsTotal: 2,
        batchesTotal: 2,
        clientsTriggered: 1,
        unassignedTargets: [],
      });
      expect(runs.row(1)).toMatchObject({
        scanId: 7,
        trigger: 'schedule',
        nmapFlags: ['-sT', '-p22,80'],
      });
      expect(queue.seqsOf(1)).toEqual([1, 2]);

      const second = service.start({ scanId: 7, trigger: 'execute' });
      await expect(second).rejects.toBeInstanceOf(RunActiveError);
      await expect(second).rejects.toMatchObject({ scanId: 7, resultId: 1 });
      expect(runs.rows).toHaveLength(1);
    });

    it('refuses a start while another process holds the scan start lock', async () => {
      const { service, scans, state } = newRunService();
      scans.scans.set(7, { id: 7, targets: ['127.0.0.1'], nmapFlags: [], runner: 'asyncio', chunkSize: 1 });
      const release = await state.lockScanStart(7);
      await expect(service.start({ scanId: 7, trigger: 'execute' })).rejects.toBeInstanceOf(RunActiveError);
      await release!();
      await expect(service.start({ scanId: 7, trigger: 'execute' })).resolves.toMatchObject({ scanId: 7 });
      expect(state.locks.size).toBe(0);
    });
  });

  describe('batch finished', () => {
    it('counts the batch, reports progress and refills the window with the next batch', async () => {
      const { ref, finish, queue, events, runs } = await started();
      await finish(1);
      expect(events.namesOf(ref.resultId)).toEqual(['batch_complete:1', 'progress']);
      expect(events.events.find((e) => e.event === 'progress')).toMatchObject({
        percent: 20,
        batches_done: 1,
        batches_failed: 0,
        batches_total: 5,
      });
      expect(events.events.find((e) => e.event === 'batch_complete')).toMatchObject({ summary: summary() });
      expect(queue.seqsOf(ref.resultId)).toEqual([1, 2, 3]);
      expect(runs.row(ref.resultId).status).toBe('running');
    });

    it('counts a batch finished twice (a retry after a crash) once', async () => {
      const { ref, finish, service, queue, events } = await started();
      await finish(1);
      await service.batchFinished(ref, 1, summary());
      expect(events.namesOf(ref.resultId)).toEqual(['batch_complete:1', 'progress']);
      expect(queue.seqsOf(ref.resultId)).toEqual([1, 2, 3]);
    });

    it('ends the run once, after its last batch, with scan_complete last', async () => {
      const { ref, finish, service, runs, events } = await started();
      for (const seq of [2, 1, 3, 4, 5]) await finish(seq);
      // A retried last batch finds the run ended and sends nothing.
      await service.batchFinished(ref, 5, summary());
      const names = events.namesOf(ref.resultId);
      expect(names.filter((name) => name === 'scan_complete')).toHaveLength(1);
      expect(names.at(-1)).toBe('scan_complete');
      expect(names.at(-2)).toBe('progress');
      expect(runs.row(ref.resultId).status).toBe('completed');
    });

    it('stores a completed batch once and reports the summary it stored', async () => {
      const { ref, take, service, batches, events } = await started({ targets: ['127.0.0.1'], chunkSize: 1 });
      const { batchId } = await take(1);
      const host = { address: '127.0.0.1', addressType: 'ipv4', hostnames: [], state: 'up' };
      const ports = [22, 80].map((port) => ({
        protocol: 'tcp',
        port,
        state: port === 22 ? 'open' : 'closed',
      }));
      const result = { batchId, workerId: 'worker-a', exitCode: 0, stderr: null, finishedAt: new Date() };
      await service.batchCompleted(ref, 1, { ...result, hosts: [{ ...host, ports }] });
      expect(batches.rows[0]).toMatchObject({ status: 'completed', hostsUp: 1, openPorts: 1 });
      expect(events.events[0]).toMatchObject({
        event: 'batch_complete',
        summary: { hosts_up: 1, open_ports: 1 },
      });
      expect(events.namesOf(ref.resultId)).toEqual(['batch_complete:1', 'progress', 'scan_complete']);
    });

    it('refuses a result from a pool revoked while its batch ran, storing nothing', async () => {
      const system = await started({ targets: ['127.0.0.1'], chunkSize: 1 });
      const { ref, take, service, batches, events, clients } = system;
      const { batchId } = await take(1);
      clients.revoked.add('local');
      const host = { address: '127.0.0.1', addressType: 'ipv4', hostnames: [], state: 'up', ports: [] };
      const result = { batchId, workerId: 'worker-a', exitCode: 0, stderr: null, finishedAt: new Date() };
      await expect(service.batchCompleted(ref, 1, { ...result, hosts: [host] }, 'local')).rejects.toThrow(
        ClientRevokedError,
      );
      expect(batches.rows[0].status).not.toBe('completed');
      expect(events.namesOf(ref.resultId)).toEqual([]);
      // The same result from a pool still approved is taken.
      clients.revoked.clear();
      await service.batchCompleted(ref, 1, { ...result, hosts: [host] }, 'local');
      expect(batches.rows[0].status).toBe('completed');
    });

    it('sends legacy_scan_complete with every batch for the multiprocessing runner', async () => {
      const { ref, finish, events } = await started({ runner: 'multiprocessing', chunkSize: 5 });
      await finish(1);
      await finish(2);
      const terminal = events.events.at(-1);
      expect(terminal).toMatchObject({ event: 'legacy_scan_complete', scan_id: ref.scanId });
      expect(terminal?.event === 'legacy_scan_complete' && terminal.results.map((r) => r.batch_id)).toEqual([
        1, 2,
      ]);
    });
  });

  describe('batch failed', () => {
    it('records an attempt that will be retried without counting it', async () => {
      const { ref, fail, batches, events, state } = await started();
      await fail(1, { final: false, stderr: 'Failed to open device' });
      expect(events.events).toEqual([
        expect.objectContaining({ event: 'batch_failed', batch_id: 1, attempt: 1, will_retry: true }),
      ]);
      expect(batches.rows[0]).toMatchObject({
        status: 'running',
        exitCode: 1,
        stderr: 'Failed to open device',
      });
      expect(await state.progress(ref.resultId)).toMatchObject({ done: 0, failed: 0 });
    });

    it('counts a batch failed after its last attempt and moves the window on', async () => {
      const { ref, fail, batches, events, queue } = await started();
      await fail(1, { attempt: 3, message: 'nmap XML unreadable: truncated', exitCode: 0 });
      expect(events.namesOf(ref.resultId)).toEqual(['batch_failed:1', 'progress']);
      expect(events.events[0]).toMatchObject({ will_retry: false, error: 'nmap XML unreadable: truncated' });
      // Without stderr, the row keeps the message.
      expect(batches.rows[0]).toMatchObject({ status: 'failed', stderr: 'nmap XML unreadable: truncated' });
      expect(queue.seqsOf(ref.resultId)).toEqual([1, 2, 3]);
    });

    it('ends a run none of whose batches succeeded as failed, saying how many failed', async () => {
      const { ref, fail, runs, events } = await started({ targets: ['127.0.0.1-2'], chunkSize: 1 });
      await fail(1);
      await fail(2);
      expect(runs.row(ref.resultId).status).toBe('failed');
      expect(events.events.at(-1)).toMatchObject({ event: 'scan_failed', error: 'all 2 batches failed' });
    });

    it('completes a run with a failed batch when another succeeded', async () => {
      const { ref, fail, finish, runs, events } = await started({ targets: ['127.0.0.1-2'], chunkSize: 1 });
      await fail(1);
      await finish(2);
      expect(runs.row(ref.resultId).status).toBe('completed');
      expect(events.namesOf(ref.resultId).at(-1)).toBe('scan_complete');
    });
  });

  describe('stop', () => {
    it('stops the run: queued batches withdrawn, workers told, rows stopped, scan_stopped once', async () => {
      const { ref, take, service, runs, batches, queue, state, events } = await started();
      await take(1);
      expect(await service.stop(ref.scanId)).toEqual([ref.resultId]);
      expect(queue.withdrawn).toEqual([
        { resultId: ref.resultId, seq: 1 },
        { resultId: ref.resultId, seq: 2 },
      ]);
      expect(state.stopsAnnounced).toEqual([ref]);
      expect(batches.rows[0].status).toBe('stopped');
      expect(runs.row(ref.resultId).status).toBe('stopped');
      expect(events.namesOf(ref.resultId)).toEqual(['scan_stopped']);
      // Not running any more: nothing to stop.
      expect(await service.stop(ref.scanId)).toEqual([]);
    });

    it('counts nothing and ends nothing when a batch of a stopped run finishes', async () => {
      const { ref, take, service, queue, events, runs } = await started({
        targets: ['127.0.0.1'],
        chunkSize: 1,
      });
      await take(1);
      await service.stop(ref.scanId);
      await service.batchFinished(ref, 1, summary());
      expect(events.namesOf(ref.resultId)).toEqual(['scan_stopped']);
      expect(queue.seqsOf(ref.resultId)).toEqual([1]);
      expect(runs.row(ref.resultId).status).toBe('stopped');
    });

    it('announces a batch stored as the stop came but no longer counted: batch_complete before scan_stopped', async () => {
      const { ref, take, service, batches, events, runs } = await started({
        targets: ['127.0.0.1-2'],
        chunkSize: 1,
      });
      const first = await take(1);
      await take(2);
      // Batch 1's nmap finished and its worker stored the result; the stop came before the worker counted it.
      const stored = {
        workerId: 'worker-a',
        exitCode: 0,
        stderr: null,
        finishedAt: new Date(),
        hosts: [upHost],
      };
      await batches.storeResult({ batchId: first.batchId, ...stored });
      await service.stop(ref.scanId);
      await service.batchFinished(ref, 1, summary());
      expect(events.namesOf(ref.resultId)).toEqual(['batch_complete:1', 'scan_stopped']);
      expect(events.events.find((e) => e.event === 'batch_complete')).toMatchObject({
        summary: summary(1, 2),
      });
      expect(runs.row(ref.resultId).status).toBe('stopped');
      expect(batches.rows.map((r) => r.status)).toEqual(['completed', 'stopped']);
    });

    it('stores nothing of a batch whose result comes after the stop', async () => {
      const { ref, take, service, batches, events } = await started({ targets: ['127.0.0.1'], chunkSize: 1 });
      const { batchId } = await take(1);
      await service.stop(ref.scanId);
      const late = { batchId, workerId: 'worker-a', exitCode: 0, stderr: null, finishedAt: new Date() };
      await service.batchCompleted(ref, 1, { ...late, hosts: [upHost] });
      expect(events.namesOf(ref.resultId)).toEqual(['scan_stopped']);
      expect(batches.rows[0]).toMatchObject({ status: 'stopped', hostsUp: 0 });
    });

    it('does not take a stopped batch again', async () => {
      const { ref, take, service } = await started();
      await take(1);
      await service.stop(ref.scanId);
      await expect(take(1, 'worker-b')).resolves.toMatchObject({ runnable: false, status: 'stopped' });
    });
  });

  it('reconciles a run whose Redis state is gone when one of its batches finishes', async () => {
    const { ref, finish, state, queue, events } = await started();
    await finish(1);
    state.lose();
    await finish(2);
    // Rebuilt from the rows: batches 1 and 2 are completed, the window of 2 is 3 and 4.
    expect(await state.progress(ref.resultId)).toEqual({ done: 2, failed: 0, total: 5, stopped: false });
    expect(queue.requeued).toEqual([
      { resultId: ref.resultId, seq: 3 },
      { resultId: ref.resultId, seq: 4 },
    ]);
    expect(events.namesOf(ref.resultId)).toEqual(['batch_complete:1', 'progress']);
  });
});
