import type { ScanEvent, ScanEventBody } from '@nso/contracts';
import type { BatchProgressReport, RunProgressSnapshot } from '@nso/runs';
import { addressCount, BatchProgressTracker } from './batch-progress';

const run: RunProgressSnapshot = {
  percent: 10,
  batches_done: 0,
  batches_failed: 0,
  batches_total: 4,
  hosts_done: 0,
  hosts_total: 16,
  eta_seconds: null,
  running: new Map(),
};

function tracker() {
  let now = 0;
  const stored: BatchProgressReport[] = [];
  const published: ScanEventBody[] = [];
  const progress = new BatchProgressTracker({
    store: { report: async (_id, _seq, report) => (stored.push(report), run) },
    events: { publish: async (_ref, body) => (published.push(body), {} as ScanEvent) },
    ref: { scanId: 1, resultId: 2 },
    seq: 3,
    hostsTotal: 4,
    now: () => now,
  });
  return { progress, stored, published, advance: (ms: number) => (now += ms) };
}

const batchOf = (event: ScanEventBody) => (event.event === 'progress' ? event.batch : undefined);

describe('BatchProgressTracker', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('sends at most one event a second, the latest figures at the end of the second', async () => {
    const { progress, published, advance } = tracker();
    progress.onTaskProgress({ task: 'Connect Scan', percent: 10, remaining: 9 });
    progress.onTaskProgress({ task: 'Connect Scan', percent: 20, remaining: 8 });
    advance(400);
    progress.onTaskProgress({ task: 'Connect Scan', percent: 30, remaining: 7 });
    // The batch ends within the second: the pending figures are dropped (its batch_complete follows).
    await progress.close();
    expect(published.map(batchOf)).toEqual([
      {
        task: 'Connect Scan',
        task_percent: 10,
        percent: 10,
        remaining_seconds: 9,
        hosts_done: 0,
        hosts_total: 4,
      },
    ]);
  });

  it('sends the pending figures once the second is over', async () => {
    const { progress, published, advance } = tracker();
    progress.onTaskProgress({ task: 'Connect Scan', percent: 10 });
    advance(300);
    progress.onTaskProgress({ task: 'Connect Scan', percent: 20 });
    progress.onHost();
    progress.onLine('Stats: 0:00:03 elapsed; 2 hosts completed (2 up), 2 undergoing Connect Scan');
    advance(700);
    await jest.advanceTimersByTimeAsync(700);
    await progress.close();
    // 2 of 4 hosts done, the other 2 at 20 %: (2 + 2 × 0.2) / 4.
    expect(published.map((e) => batchOf(e)?.percent)).toEqual([10, 60]);
    expect(batchOf(published[1])).toMatchObject({ task_percent: 20, hosts_done: 2, remaining_seconds: null });
    expect(published[1]).toMatchObject({ event: 'progress', batch_id: 3, percent: 10, batches_total: 4 });
  });

  it('registers the batch at 0 % without an event', async () => {
    const { progress, stored, published } = tracker();
    progress.start();
    await progress.close();
    expect(stored).toEqual([{ percent: 0, hostsDone: 0, hostsTotal: 4, at: 0 }]);
    expect(published).toEqual([]);
  });
});

describe('addressCount', () => {
  it('counts single addresses, ranges and CIDRs', () => {
    expect(addressCount(['127.0.0.1', '::1', '127.0.1.0/24', '127.0.2.1-4', '127.0.3-4.1'])).toBe(
      1 + 1 + 256 + 4 + 2,
    );
  });
});
