import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import type { AppConfig } from '@nso/config';
import type { BATCH_JOB, JobOf, ScanEventBody } from '@nso/contracts';
import type { ScanEventPublisher } from '@nso/events';
import type { Metrics } from '@nso/monitoring';
import {
  NmapArgumentPolicy,
  type NmapRunner,
  type NmapRunOptions,
  type NmapRunResult,
  ScanScope,
} from '@nso/nmap';
import type { BatchStart } from '@nso/persistence';
import {
  type BatchProgressReport,
  ClientRevokedError,
  type RunProgressSnapshot,
  type RunProgressStore,
  type RunService,
  type RunStateStore,
} from '@nso/runs';
import { UnrecoverableError } from 'bullmq';
import { BatchWatches } from './batch-watch';
import { BatchRunService } from './batch-run.service';

// Recorded from nmap 7.93 against a loopback listener: 127.0.0.5 up, 8081/tcp open, 9 and 22 closed.
const FIXTURES = join(__dirname, '../../../../libs/nmap/test/fixtures');
const XML = readFileSync(join(FIXTURES, 'tcp-connect.xml'), 'utf8');

const as = <T>(fake: unknown) => fake as T;

/** nmap: prints `lines`, then ends as `result` says; or waits for a stop when `untilAborted`. */
class FakeNmap implements NmapRunner {
  calls: NmapRunOptions[] = [];
  lines = ['Starting Nmap 7.93', 'Nmap scan report for 127.0.0.5'];
  result: Partial<NmapRunResult> = { exitCode: 0, xml: XML };
  untilAborted = false;
  /** Runs after `lines` are printed, before nmap ends (e.g. a pause, more lines). */
  afterLines?: (opts: NmapRunOptions) => Promise<void>;

  async run(opts: NmapRunOptions): Promise<NmapRunResult> {
    this.calls.push(opts);
    for (const line of this.lines) opts.onLine?.(line);
    await this.afterLines?.(opts);
    if (this.untilAborted) {
      await new Promise((resolve) => opts.signal?.addEventListener('abort', resolve, { once: true }));
    }
    const aborted = opts.signal?.aborted ?? false;
    // As the real runner: the document goes to onXml as nmap writes it, and is kept only if asked.
    const xml = aborted ? '' : (this.result.xml ?? '');
    if (xml) opts.onXml?.(Buffer.from(xml));
    return {
      exitCode: aborted ? null : 0,
      signal: aborted ? 'SIGTERM' : null,
      stdout: this.lines.join('\n'),
      stdoutTruncated: false,
      stderr: '',
      cancelled: aborted,
      durationMs: 5,
      ...(aborted ? {} : this.result),
      xml: opts.keepXml === false ? '' : xml,
    };
  }
}

/** What RunService heard from the batch, in order. */
type Call = [string, ...unknown[]];

function newService() {
  const nmap = new FakeNmap();
  const calls: Call[] = [];
  const published: ScanEventBody[] = [];
  /** The lines of each publishLines call (each one entry). */
  const entries: string[][] = [];
  // The run's live progress: what the batch stored, and the run figures the store answers (none: state unknown).
  const reports: BatchProgressReport[] = [];
  const progress = {
    run: undefined as RunProgressSnapshot | undefined,
    report: async (_resultId: number, _seq: number, report: BatchProgressReport) => {
      reports.push(report);
      return progress.run;
    },
  };
  const stopped = new Set<number>();
  let start: BatchStart = { runnable: true, batchId: 70 };
  const runs = {
    startBatch: async (input: unknown) => {
      calls.push(['startBatch', input]);
      return start;
    },
    batchFailed: async (...args: unknown[]) => void calls.push(['batchFailed', ...args]),
    batchCompleted: jest.fn(async (...args: unknown[]) => void calls.push(['batchCompleted', ...args])),
    batchFinished: async (...args: unknown[]) => void calls.push(['batchFinished', ...args]),
    batchStopped: async (...args: unknown[]) => void calls.push(['batchStopped', ...args]),
  };
  const events = {
    publish: async (_ref: unknown, body: ScanEventBody) => {
      published.push(body);
      if (body.event === 'progress') calls.push(['progress event', body]);
    },
    publishMany: async (_ref: unknown, bodies: ScanEventBody[]) => void published.push(...bodies),
    // One entry of many lines reaches subscribers as one `line` event per line.
    publishLines: async (_ref: unknown, batchId: number, lines: string[]) => {
      entries.push([...lines]);
      published.push(...lines.map((line) => ({ event: 'line' as const, batch_id: batchId, line })));
    },
  };
  const service = new BatchRunService(
    as<AppConfig>({
      workerId: 'worker-a',
      workerClientId: 'local',
      nmapPath: 'nmap',
      nmapStatsEverySeconds: 2,
    }),
    nmap,
    new NmapArgumentPolicy(),
    new ScanScope(['127.0.0.0/8', '::1/128'], []),
    as<ScanEventPublisher>(events),
    as<RunStateStore>({ isStopped: async (resultId: number) => stopped.has(resultId) }),
    as<RunService>(runs),
    as<Metrics>({ observeNmapRun: () => undefined }),
    // No stall or split here: batch-watch.spec.ts and test/scans/stragglers.e2e-spec.ts have those.
    as<BatchWatches>({
      withStats: (flags: string[]) => flags,
      watch: () => ({ handlers: {}, handlersWith: (others: unknown) => others, end: () => undefined }),
      verdictOf: async () => 'stopped',
    }),
    as<RunProgressStore>(progress),
  );
  const startAs = (value: BatchStart) => (start = value);
  return { service, nmap, calls, published, entries, stopped, runs, startAs, progress, reports, events };
}

const job = (fields: Partial<JobOf<typeof BATCH_JOB>> = {}): JobOf<typeof BATCH_JOB> =>
  ({
    scanId: 3,
    resultId: 9,
    batchSeq: 2,
    targets: ['127.0.0.5'],
    nmapFlags: ['-sT', '-Pn', '-p', '9,22,8081'],
    ...fields,
  }) as JobOf<typeof BATCH_JOB>;

const ref = { scanId: 3, resultId: 9 };

describe('BatchRunService', () => {
  beforeEach(() => jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined));
  afterEach(() => jest.restoreAllMocks());

  it('publishes the lines of several stdout reads of a spell as one entry, and the next spell as the next', async () => {
    const { service, nmap, entries, published } = newService();
    nmap.lines = ['Nmap scan report for 127.0.0.5', 'Host is up.'];
    let midway: string[][] = [];
    nmap.afterLines = async (opts) => {
      await new Promise((resolve) => setImmediate(resolve)); // the next stdout read, well within 10 ms
      opts.onLine?.('PORT     STATE SERVICE');
      await new Promise((resolve) => setTimeout(resolve, 60)); // a quiet spell, longer than the 10 ms gathered
      midway = entries.map((entry) => [...entry]);
      opts.onLine?.('8081/tcp open  blackice-icecap');
      opts.onLine?.('');
    };
    await service.run({ data: job(), attempt: 1, final: false });
    // The first spell went out while nmap still ran.
    expect(midway).toEqual([['Nmap scan report for 127.0.0.5', 'Host is up.', 'PORT     STATE SERVICE']]);
    expect(entries).toEqual([
      ['Nmap scan report for 127.0.0.5', 'Host is up.', 'PORT     STATE SERVICE'],
      ['8081/tcp open  blackice-icecap', ''],
    ]);
    expect(published.map((event) => event.event)).toEqual([
      'batch_start',
      'line',
      'line',
      'line',
      'line',
      'line',
    ]);
  });

  it('carries on when Redis refuses its lines while nmap runs: no unhandled rejection, the batch completes', async () => {
    const { service, nmap, calls, events } = newService();
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    // As ioredis answers every command during an outage (maxRetriesPerRequest).
    events.publishLines = () => Promise.reject(new Error('Reached the max retries per request limit'));
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      nmap.afterLines = async (opts) => {
        // The first lines' entry goes out and is refused while nmap still runs; then more lines come.
        await new Promise((resolve) => setTimeout(resolve, 60));
        opts.onLine?.('8081/tcp open  blackice-icecap');
        await new Promise((resolve) => setTimeout(resolve, 60));
      };
      await service.run({ data: job(), attempt: 1, final: false });
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(unhandled).toEqual([]);
    expect(calls.map(([name]) => name)).toEqual(['startBatch', 'batchCompleted']);
    // One warning per batch attempt, not one per refused entry.
    expect(warn.mock.calls.map(([message]) => message)).toEqual([
      'run 9 batch 2: nmap output lines not sent (2 entries lost): Reached the max retries per request limit',
    ]);
  });

  it('runs nmap on the batch, streams its lines after batch_start and hands the parsed hosts to RunService', async () => {
    const { service, nmap, calls, published } = newService();
    await service.run({ data: job({ hostnames: { '127.0.0.5': ['lab.test'] } }), attempt: 1, final: false });

    expect(nmap.calls).toHaveLength(1);
    // The flags nmap gets are the argument policy's normalised ones, not the job's as sent.
    expect(nmap.calls[0]).toMatchObject({ flags: ['-sT', '-Pn', '-p9,22,8081'], targets: ['127.0.0.5'] });
    expect(published).toEqual([
      { event: 'batch_start', batch_id: 2, targets: ['127.0.0.5'], attempt: 1, worker: 'worker-a' },
      { event: 'line', batch_id: 2, line: 'Starting Nmap 7.93' },
      { event: 'line', batch_id: 2, line: 'Nmap scan report for 127.0.0.5' },
    ]);
    expect(calls.map(([name]) => name)).toEqual(['startBatch', 'batchCompleted']);
    expect(calls[0][1]).toEqual({ resultId: 9, seq: 2, targets: ['127.0.0.5'], workerId: 'worker-a' });
    const [, doneRef, seq, result, pool] = calls[1] as [
      string,
      unknown,
      number,
      Record<string, unknown>,
      string,
    ];
    expect([doneRef, seq, pool]).toEqual([ref, 2, 'local']);
    expect(result).toMatchObject({ batchId: 70, workerId: 'worker-a', exitCode: 0, stderr: null });
    const hosts = result.hosts as Array<{ address: string; hostnames: unknown[]; ports: unknown[] }>;
    expect(hosts).toHaveLength(1);
    expect(hosts[0].address).toBe('127.0.0.5');
    // The name the user gave comes back as the host's name of type "user" (nmap saw the address only).
    expect(hosts[0].hostnames).toEqual([{ name: 'lab.test', type: 'user' }]);
    expect(hosts[0].ports).toEqual(
      expect.arrayContaining([expect.objectContaining({ protocol: 'tcp', port: 8081, state: 'open' })]),
    );
  });

  it('does nothing for a run that was stopped before the batch began', async () => {
    const { service, nmap, calls, published, stopped } = newService();
    stopped.add(9);
    await service.run({ data: job(), attempt: 1, final: false });
    expect(nmap.calls).toEqual([]);
    expect(calls).toEqual([]);
    expect(published).toEqual([]);
  });

  it.each([
    ['an address outside the scope', job({ targets: ['10.0.0.5'] }), /outside|scope/i],
    ['a host name (batches hold addresses only)', job({ targets: ['lab.test'] }), /host names \(lab\.test\)/],
    ['a refused nmap option', job({ nmapFlags: ['-sT', '--script', 'x'] }), /--script/],
  ])('refuses a job with %s: the batch fails for good and nmap never runs', async (_, data, reason) => {
    const { service, nmap, calls } = newService();
    const error = await service.run({ data, attempt: 1, final: false }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnrecoverableError);
    expect(nmap.calls).toEqual([]);
    expect(calls.map(([name]) => name)).toEqual(['startBatch', 'batchFailed']);
    expect(calls[1][1]).toEqual(ref);
    expect(calls[1][2]).toMatchObject({ batchId: 70, seq: 2, attempt: 1, final: true, exitCode: null });
    expect((calls[1][2] as { message: string }).message).toMatch(reason);
  });

  it('fails the attempt with nmap’s exit code and stderr and rethrows, so BullMQ retries it', async () => {
    const { service, nmap, calls } = newService();
    nmap.result = { exitCode: 1, stderr: 'Failed to resolve', xml: '' };
    const error = await service.run({ data: job(), attempt: 2, final: false }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(UnrecoverableError);
    expect((error as Error).message).toBe('nmap exited with code 1');
    expect(calls[1]).toEqual([
      'batchFailed',
      ref,
      {
        batchId: 70,
        seq: 2,
        attempt: 2,
        final: false,
        message: 'nmap exited with code 1',
        exitCode: 1,
        stderr: 'Failed to resolve',
      },
    ]);
  });

  it('marks the failure final on the last attempt', async () => {
    const { service, nmap, calls } = newService();
    nmap.result = { exitCode: 1, stderr: '', xml: '' };
    await expect(service.run({ data: job(), attempt: 3, final: true })).rejects.toThrow();
    expect(calls[1][2]).toMatchObject({ attempt: 3, final: true });
  });

  it('fails an attempt whose XML is unreadable', async () => {
    const { service, nmap, calls } = newService();
    nmap.result = { exitCode: 0, xml: '<nmaprun' };
    await expect(service.run({ data: job(), attempt: 1, final: false })).rejects.toThrow();
    expect(calls[1][0]).toBe('batchFailed');
    expect(calls[1][2]).toMatchObject({ exitCode: 0, stderr: '' });
    expect((calls[1][2] as { message: string }).message).toMatch(/^nmap XML unreadable: /);
  });

  it('refuses for good the result of a pool revoked while the batch ran', async () => {
    const { service, runs, calls } = newService();
    runs.batchCompleted.mockRejectedValueOnce(new ClientRevokedError('local'));
    const error = await service.run({ data: job(), attempt: 1, final: false }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnrecoverableError);
    expect(calls.at(-1)?.[0]).toBe('batchFailed');
    expect(calls.at(-1)?.[2]).toMatchObject({ final: true, message: expect.stringMatching(/revoked/) });
  });

  it('ends nmap when the run is stopped and tells RunService the batch was stopped', async () => {
    const { service, nmap, calls } = newService();
    nmap.untilAborted = true;
    const running = service.run({ data: job(), attempt: 1, final: false });
    await new Promise((resolve) => setImmediate(resolve));
    expect(nmap.calls).toHaveLength(1);
    service.cancelRun(9);
    await running;
    expect(calls.map(([name]) => name)).toEqual(['startBatch', 'batchStopped']);
    expect(calls[1][1]).toBe(70);
  });

  it('moves the run on from a batch an earlier attempt completed, without storing it again', async () => {
    const { service, calls, startAs } = newService();
    startAs({ runnable: false, batchId: 70, status: 'completed', hostsUp: 1, openPorts: 1 });
    await service.run({ data: job(), attempt: 2, final: false });
    expect(calls.map(([name]) => name)).toEqual(['startBatch', 'batchFinished']);
    expect(calls[1].slice(1)).toEqual([ref, 2, { hosts_up: 1, open_ports: 1 }]);
  });

  it('leaves alone a batch another worker holds', async () => {
    const { service, calls, startAs } = newService();
    startAs({ runnable: false, batchId: 70, status: 'running', hostsUp: 0, openPorts: 0 });
    await service.run({ data: job(), attempt: 1, final: false });
    expect(calls.map(([name]) => name)).toEqual(['startBatch']);
  });

  describe('progress', () => {
    const run: RunProgressSnapshot = {
      percent: 37.5,
      batches_done: 1,
      batches_failed: 0,
      batches_total: 4,
      hosts_done: 5,
      hosts_total: 12,
      eta_seconds: 8,
      running: new Map(),
    };

    it('turns nmap’s reports into progress events of the batch, all before the batch completes', async () => {
      const { service, nmap, calls, published, progress, reports } = newService();
      progress.run = run;
      // A real run's stdout and XML with --stats-every 1s (libs/nmap/test/fixtures/record-progress.sh).
      nmap.lines = readFileSync(join(FIXTURES, 'progress-quiet.txt'), 'utf8').split('\n');
      nmap.result = { exitCode: 0, xml: readFileSync(join(FIXTURES, 'progress-quiet.xml'), 'utf8') };
      await service.run({
        data: job({ targets: ['127.0.0.1', '127.0.0.2', '127.0.0.3'] }),
        attempt: 1,
        final: false,
      });

      // Registered at 0 % first; then nmap's four reports and three hosts, stored as they came.
      expect(reports[0]).toMatchObject({ percent: 0, hostsDone: 0, hostsTotal: 3 });
      const events = published.filter((e) => e.event === 'progress');
      // The whole XML arrives in one write here: one event at once, the rest of that second's reports dropped.
      expect(events).toEqual([
        {
          event: 'progress',
          batch_id: 2,
          percent: 37.5,
          batches_done: 1,
          batches_failed: 0,
          batches_total: 4,
          hosts_done: 5,
          hosts_total: 12,
          eta_seconds: 8,
          batch: {
            task: 'Connect Scan',
            task_percent: 20,
            percent: 20,
            remaining_seconds: 4,
            hosts_done: 0,
            hosts_total: 3,
          },
        },
      ]);
      expect(calls.map(([name]) => name)).toEqual(['startBatch', 'progress event', 'batchCompleted']);
    });
  });
});
