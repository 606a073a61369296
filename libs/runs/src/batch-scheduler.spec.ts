import type { AppConfig } from '@nso/config';
import type { BatchJobData } from '@nso/contracts';
import { BatchQueue, BatchScheduler, RunPlan, runPlanOf } from './batch-scheduler';

/** A queue that records what it was given (addBulk is the only call enqueue makes). */
function recordingQueue(): {
  queue: BatchQueue;
  jobs: Array<{ data: BatchJobData; opts: { jobId?: string } }>;
} {
  const jobs: Array<{ data: BatchJobData; opts: { jobId?: string } }> = [];
  const queue = {
    addBulk: async (bulk: typeof jobs) => {
      jobs.push(...bulk);
      return [];
    },
  } as unknown as BatchQueue;
  return { queue, jobs };
}

const config = { batchAttempts: 3, jobRetentionCount: 100 } as AppConfig;

const plan = (fields: Partial<RunPlan>): RunPlan => ({
  scanId: 1,
  resultId: 7,
  targets: ['127.0.0.1'],
  resolvedNames: {},
  chunkSize: 1,
  nmapFlags: ['-sT'],
  ...fields,
});

describe('BatchScheduler.enqueue', () => {
  it('cuts disjoint batches of addresses, with the user names of the addresses in each (issue 8, B.6/B.7)', async () => {
    const { queue, jobs } = recordingQueue();
    const scheduler = new BatchScheduler(queue, config);
    const run = plan({
      targets: ['127.0.0.5', 'localhost', '127.0.0.5'],
      resolvedNames: { localhost: ['127.0.0.1'] },
    });
    await scheduler.enqueue(run, [1, 2]);
    expect(jobs.map((j) => [j.opts.jobId, j.data.targets, j.data.hostnames])).toEqual([
      ['r7-b1', ['127.0.0.1'], { '127.0.0.1': ['localhost'] }],
      ['r7-b2', ['127.0.0.5'], {}],
    ]);
  });

  it('cuts batch k of a /8 arithmetically, whatever k is', async () => {
    const { queue, jobs } = recordingQueue();
    const scheduler = new BatchScheduler(queue, config);
    await scheduler.enqueue(plan({ targets: ['127.0.0.0/8', '127.0.0.0/9'], chunkSize: 256 }), [65536]);
    expect(jobs[0].data.targets).toHaveLength(256);
    expect(jobs[0].data.targets[0]).toBe('127.255.255.0');
    expect(jobs[0].data.targets.at(-1)).toBe('127.255.255.255');
  });

  it('never resolves a name itself: a run without its resolution is refused', async () => {
    const scheduler = new BatchScheduler(recordingQueue().queue, config);
    await expect(scheduler.enqueue(plan({ resultId: 8, targets: ['localhost'] }), [1])).rejects.toThrow(
      /has not been resolved/,
    );
  });

  it('reads a stored run, a run stored before names were resolved reading as no names', () => {
    const row = { targets: ['127.0.0.1'], resolvedNames: null, chunkSize: 4, nmapFlags: ['-sT'] };
    expect(runPlanOf({ scanId: 1, resultId: 2 }, row)).toEqual({
      scanId: 1,
      resultId: 2,
      targets: ['127.0.0.1'],
      resolvedNames: {},
      chunkSize: 4,
      nmapFlags: ['-sT'],
    });
  });
});
