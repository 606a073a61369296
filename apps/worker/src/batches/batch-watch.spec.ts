import type { AppConfig } from '@nso/config';
import type { Metrics } from '@nso/monitoring';
import type { NmapHost } from '@nso/nmap';
import type { BatchSplitter, RunService } from '@nso/runs';
import { BatchStalledError, BatchWatch, BatchWatches, stallSeconds, statsEverySeconds } from './batch-watch';

const attempt = {
  ref: { scanId: 1, resultId: 2 },
  seq: 3,
  targets: ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4'],
  attempt: 1,
};
const host = (address: string) => ({ address, state: 'up', ports: [] }) as unknown as NmapHost;

describe('BatchWatch', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('aborts nmap after the stall period without progress, and says so', () => {
    const controller = new AbortController();
    const watch = new BatchWatch(attempt, controller, 3000).start();
    jest.advanceTimersByTime(2500);
    expect(controller.signal.aborted).toBe(false);
    jest.advanceTimersByTime(1000);
    expect(controller.signal.aborted).toBe(true);
    expect(watch.verdict()).toEqual({ kind: 'stalled', seconds: 3 });
    watch.end();
  });

  it('counts a new host, a new task and a higher percent as progress; the same percent again is not', () => {
    const controller = new AbortController();
    const watch = new BatchWatch(attempt, controller, 3000).start();
    const progress = (percent: number) => watch.handlers.onProgress?.({ task: 'Connect Scan', percent });
    jest.advanceTimersByTime(2000);
    progress(10); // a new task
    jest.advanceTimersByTime(2000);
    progress(20);
    jest.advanceTimersByTime(2000);
    watch.handlers.onHost?.(host('127.0.0.1'));
    jest.advanceTimersByTime(2000);
    watch.handlers.onTask?.({ phase: 'begin', task: 'Service scan' });
    jest.advanceTimersByTime(2000);
    expect(controller.signal.aborted).toBe(false);
    progress(20); // no change: not progress
    watch.handlers.onHost?.(host('127.0.0.1')); // the same address again: not progress
    jest.advanceTimersByTime(1500);
    expect(controller.signal.aborted).toBe(true);
    expect(watch.verdict().kind).toBe('stalled');
    watch.end();
  });

  it('estimates the time left from the hosts reported, or nmap’s own remaining before the first', () => {
    const watch = new BatchWatch(attempt, new AbortController(), 60_000);
    const t0 = Date.now();
    watch.handlers.onProgress?.({ task: 'Connect Scan', percent: 1, remaining: 50 });
    expect(watch.remainingSeconds(t0 + 10_000)).toBe(50);
    watch.handlers.onHost?.(host('127.0.0.2'));
    expect(watch.remainingSeconds(t0 + 10_000)).toBe(30); // 10 s for one host, three left
  });

  it('asks whether it is a straggler and, if so, ends nmap with the hosts reported so far', async () => {
    const controller = new AbortController();
    const asked: number[] = [];
    const watch = new BatchWatch(
      attempt,
      controller,
      60_000,
      async (remaining) => {
        asked.push(remaining);
        return true;
      },
      1,
    ).start();
    watch.handlers.onHost?.(host('127.0.0.1'));
    jest.advanceTimersByTime(2000);
    await Promise.resolve();
    expect(asked).toHaveLength(1);
    expect(controller.signal.aborted).toBe(true);
    watch.handlers.onHost?.(host('127.0.0.2')); // written after the decision: not the batch's result
    expect(watch.verdict()).toEqual({ kind: 'split', hosts: [host('127.0.0.1')] });
    watch.end();
  });

  it('does not ask while fewer than two addresses are unreported or less than the minimum is left', () => {
    const asked: number[] = [];
    const one = { ...attempt, targets: ['127.0.0.1', '127.0.0.2'] };
    const watch = new BatchWatch(
      one,
      new AbortController(),
      60_000,
      async (r) => (asked.push(r), false),
      1,
    ).start();
    watch.handlers.onHost?.(host('127.0.0.1'));
    jest.advanceTimersByTime(10_000);
    expect(asked).toEqual([]);
    watch.end();
  });

  it('does not ask before nmap reported a host, whatever nmap estimates', () => {
    const asked: number[] = [];
    const controller = new AbortController();
    const watch = new BatchWatch(attempt, controller, 60_000, async (r) => (asked.push(r), true), 1).start();
    watch.handlers.onProgress?.({ task: 'Service scan', percent: 1, remaining: 500 });
    jest.advanceTimersByTime(10_000);
    expect(asked).toEqual([]);
    expect(controller.signal.aborted).toBe(false);
    watch.handlers.onHost?.(host('127.0.0.1'));
    jest.advanceTimersByTime(2000);
    expect(asked).toHaveLength(1);
    watch.end();
  });

  it('handlersWith calls the watch and the other listener alike', () => {
    const controller = new AbortController();
    const watch = new BatchWatch(attempt, controller, 3000).start();
    const seen: string[] = [];
    const both = watch.handlersWith({ onHost: (h) => void seen.push(h.address) });
    jest.advanceTimersByTime(2000);
    both.onHost?.(host('127.0.0.3'));
    jest.advanceTimersByTime(2000);
    expect(seen).toEqual(['127.0.0.3']);
    expect(controller.signal.aborted).toBe(false); // the host counted as progress for the watch too
    watch.end();
  });
});

describe('statsEverySeconds', () => {
  it('is NMAP_STATS_EVERY, at most a fifth of the stall period and at least 1 s', () => {
    expect(statsEverySeconds({ nmapStatsEverySeconds: 2, batchStallSeconds: 600 })).toBe(2);
    expect(statsEverySeconds({ nmapStatsEverySeconds: 30, batchStallSeconds: 60 })).toBe(12);
    expect(statsEverySeconds({ nmapStatsEverySeconds: 2, batchStallSeconds: 5 })).toBe(1);
  });
});

describe('stallSeconds', () => {
  it('is BATCH_STALL_SECONDS, or five of the scan’s own --stats-every intervals when that is longer', () => {
    expect(stallSeconds(['-sT', '-p1-65535'], 600)).toBe(600);
    expect(stallSeconds(['-sT', '--stats-every=30s'], 600)).toBe(600);
    // nmap reports its progress once an hour: a quiet batch is not stalled after ten minutes.
    expect(stallSeconds(['-sT', '--stats-every=1h'], 600)).toBe(18_000);
    expect(stallSeconds(['--stats-every=5m'], 600)).toBe(1500);
    expect(stallSeconds(['--stats-every=2.5'], 10)).toBe(12.5);
    expect(stallSeconds(['--stats-every=500ms'], 1)).toBe(2.5);
  });
});

describe('BatchWatches.watch', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  /** Watches whose splitter says every batch is a straggler, and the batches it was asked about. */
  function splittingWatches() {
    const asked: number[] = [];
    const watches = new BatchWatches(
      {
        workerId: 'w1',
        workerClientId: 'local',
        batchStallSeconds: 60,
        batchSplit: true,
        batchSplitMinSeconds: 1,
      } as AppConfig,
      {
        isStraggler: async (_ref: unknown, seq: number) => {
          asked.push(seq);
          return true;
        },
      } as unknown as BatchSplitter,
      {} as never,
      {} as RunService,
      {} as Metrics,
    );
    return { watches, asked };
  }

  it('splits a straggler of a run whose nmap lists every host it scanned', async () => {
    const { watches, asked } = splittingWatches();
    const controller = new AbortController();
    const watch = watches.watch(attempt, controller, ['-sT', '-p', '80']);
    watch.handlers.onHost?.(host('127.0.0.1'));
    jest.advanceTimersByTime(2000);
    await Promise.resolve();
    expect(asked).toEqual([3]);
    expect(watch.verdict()).toMatchObject({ kind: 'split' });
    watch.end();
  });

  it('never splits a batch of an --open run: the hosts nmap did not list are not those it has left', async () => {
    const { watches, asked } = splittingWatches();
    const controller = new AbortController();
    const watch = watches.watch(attempt, controller, ['-sT', '--open', '-p', '80']);
    watch.handlers.onHost?.(host('127.0.0.1'));
    jest.advanceTimersByTime(10_000);
    await Promise.resolve();
    expect(asked).toEqual([]);
    expect(controller.signal.aborted).toBe(false);
    watch.end();
  });
});

describe('BatchWatches.verdictOf after a stall', () => {
  function stalledWatches() {
    const published: Array<Record<string, unknown>> = [];
    const watches = new BatchWatches(
      { workerId: 'w1', batchStallSeconds: 3 } as AppConfig,
      {} as BatchSplitter,
      {
        publish: async (_ref: unknown, event: Record<string, unknown>) => void published.push(event),
      } as never,
      {} as RunService,
      { batchesStalled: { inc: () => undefined } } as unknown as Metrics,
    );
    const stalled = { verdict: () => ({ kind: 'stalled', seconds: 3 }) } as unknown as BatchWatch;
    return { watches, stalled, published };
  }

  it('says the batch runs again while attempts remain', async () => {
    const { watches, stalled, published } = stalledWatches();
    await expect(watches.verdictOf(stalled, { ...attempt, final: false })).rejects.toThrow(
      'nmap reported no progress for 3 s (BATCH_STALL_SECONDS); stopped to be retried',
    );
    expect(published).toEqual([expect.objectContaining({ event: 'batch_stalled', seconds: 3, attempt: 1 })]);
  });

  it('says it is not retried after its last attempt (batch_failed has will_retry: false then)', async () => {
    const { watches, stalled } = stalledWatches();
    const error = await watches.verdictOf(stalled, { ...attempt, attempt: 3, final: true }).catch((e) => e);
    expect(error).toBeInstanceOf(BatchStalledError);
    expect(error.message).toBe(
      'nmap reported no progress for 3 s (BATCH_STALL_SECONDS); stopped and not retried: that was its last attempt',
    );
    expect(error.message).not.toMatch(/to be retried/);
  });
});
