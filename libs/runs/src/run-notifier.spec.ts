import { runEndedNotification } from './run-notifier';
import { newRunService } from './testing/run-fakes';

describe('runEndedNotification', () => {
  const scan = { id: 4, name: 'lab' };

  it('says how the run ended, as seed 003 alert types', () => {
    expect(runEndedNotification(scan, 'completed')).toEqual({
      message: 'Scan "lab" (#4) completed',
      type: 'success',
    });
    expect(runEndedNotification(scan, 'stopped')).toEqual({
      message: 'Scan "lab" (#4) was stopped',
      type: 'warning',
    });
    expect(runEndedNotification(scan, 'failed', 'all 2 batches failed')).toEqual({
      message: 'Scan "lab" (#4) failed: all 2 batches failed',
      type: 'error',
    });
  });
});

describe('RunFinalizer tells the owner once per run', () => {
  async function twoBatchRun() {
    const system = newRunService();
    const resultId = await system.runs.insert({
      scanId: 3,
      trigger: 'execute',
      targets: ['127.0.0.1-2'],
      resolvedNames: {},
      nmapFlags: ['-sT'],
      runner: 'asyncio',
      chunkSize: 1,
      concurrency: 2,
      targetsTotal: 2,
      batchesTotal: 2,
      delegation: [{ clients: ['local'], ranges: ['127.0.0.0/8'] }],
      unassignedTargets: [],
    });
    for (const seq of [1, 2])
      await system.batches.start({ resultId, seq, targets: [`127.0.0.${seq}`], workerId: 'w' });
    return { ...system, ref: { scanId: 3, resultId } };
  }

  it('reports a completion once when the last batch is finished twice at the same time', async () => {
    const { finalizer, batches, notifier, ref } = await twoBatchRun();
    batches.rows.forEach((row) => (row.status = 'completed'));
    await Promise.all([finalizer.complete(ref), finalizer.complete(ref)]);
    expect(notifier.ended).toEqual([{ scanId: 3, outcome: 'completed' }]);
  });

  it('reports a failure with its reason, and a stop once however often it is asked', async () => {
    const failed = await twoBatchRun();
    failed.batches.rows.forEach((row) => (row.status = 'failed'));
    await failed.finalizer.complete(failed.ref);
    expect(failed.notifier.ended).toEqual([{ scanId: 3, outcome: 'failed', error: 'all 2 batches failed' }]);

    const stopped = await twoBatchRun();
    await stopped.finalizer.stop(stopped.ref);
    await stopped.finalizer.stop(stopped.ref);
    await stopped.finalizer.complete(stopped.ref);
    expect(stopped.notifier.ended).toEqual([{ scanId: 3, outcome: 'stopped' }]);
  });
});
