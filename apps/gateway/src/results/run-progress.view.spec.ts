import type { RunProgressSnapshot, RunProgressStore } from '@nso/runs';
import { RunProgressReader } from './run-progress.view';

const row = {
  id: 7,
  status: 'running' as const,
  batchesDone: 1,
  batchesFailed: 0,
  batchesTotal: 4,
  targetsTotal: 1024,
};

function reader(live: RunProgressSnapshot | undefined) {
  const store = { snapshot: jest.fn(async () => live) };
  return { reader: new RunProgressReader(store as unknown as RunProgressStore), store };
}

describe('RunProgressReader', () => {
  it('answers a running run from Redis, with its running batches in order', async () => {
    const { reader: progress } = reader({
      percent: 40.62,
      batches_done: 1,
      batches_failed: 0,
      batches_total: 4,
      hosts_done: 256,
      hosts_total: null,
      eta_seconds: 14,
      running: new Map([
        [3, { percent: 0, hostsDone: 0, hostsTotal: 256, at: 1 }],
        [
          2,
          {
            task: 'Connect Scan',
            taskPercent: 62.5,
            remaining: 4,
            percent: 62.5,
            hostsDone: 0,
            hostsTotal: 256,
            at: 1,
          },
        ],
      ]),
    });
    expect(await progress.of(row, 256)).toEqual({
      percent: 40.62,
      batches_done: 1,
      batches_failed: 0,
      batches_total: 4,
      hosts_done: 256,
      // Redis lost the run's address count: the row has it.
      hosts_total: 1024,
      eta_seconds: 14,
      running_batches: [
        {
          batch_id: 2,
          task: 'Connect Scan',
          task_percent: 62.5,
          percent: 62.5,
          remaining_seconds: 4,
          hosts_done: 0,
          hosts_total: 256,
        },
        {
          batch_id: 3,
          task: null,
          task_percent: null,
          percent: 0,
          remaining_seconds: null,
          hosts_done: 0,
          hosts_total: 256,
        },
      ],
    });
  });

  it('answers an ended run (or one Redis no longer holds) from its row', async () => {
    const { reader: progress, store } = reader(undefined);
    const completed = { ...row, status: 'completed' as const, batchesDone: 4 };
    expect(await progress.of(completed, 1024)).toEqual({
      percent: 100,
      batches_done: 4,
      batches_failed: 0,
      batches_total: 4,
      hosts_done: 1024,
      hosts_total: 1024,
      eta_seconds: 0,
      running_batches: [],
    });
    expect(store.snapshot).not.toHaveBeenCalled();
    const stopped = { ...row, status: 'stopped' as const, batchesDone: 1, batchesFailed: 1 };
    expect(await progress.of(stopped, 256)).toMatchObject({
      percent: 50,
      hosts_done: 256,
      eta_seconds: null,
    });
    expect(await progress.of(row, 256)).toMatchObject({ percent: 25, eta_seconds: null });
  });
});
