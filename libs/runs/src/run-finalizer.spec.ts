import { newRunService } from './testing/run-fakes';

/** A run of two batches (its rows created), its state and events in the fakes. */
async function twoBatchRun(runner: 'asyncio' | 'multiprocessing' = 'asyncio') {
  const system = newRunService();
  const { runs, batches } = system;
  const resultId = await runs.insert({
    scanId: 3,
    trigger: 'execute',
    targets: ['127.0.0.1-2'],
    resolvedNames: {},
    nmapFlags: ['-sT'],
    runner,
    chunkSize: 1,
    concurrency: 2,
    targetsTotal: 2,
    batchesTotal: 2,
    delegation: [{ clients: ['local'], ranges: ['127.0.0.0/8'] }],
    unassignedTargets: [],
  });
  for (const seq of [1, 2])
    await batches.start({ resultId, seq, targets: [`127.0.0.${seq}`], workerId: 'w' });
  return { ...system, ref: { scanId: 3, resultId } };
}

describe('RunFinalizer', () => {
  it('ends a run once when its last batch is finished twice at the same time', async () => {
    const { finalizer, batches, runs, events, ref } = await twoBatchRun();
    batches.rows.forEach((row) => (row.status = 'completed'));
    await Promise.all([finalizer.complete(ref), finalizer.complete(ref)]);
    expect(events.namesOf(ref.resultId)).toEqual(['scan_complete']);
    expect(runs.row(ref.resultId).status).toBe('completed');
  });

  it('queues the diff of a completed run once, and of a failed run never', async () => {
    const completed = await twoBatchRun();
    completed.batches.rows.forEach((row) => (row.status = 'completed'));
    await Promise.all([
      completed.finalizer.complete(completed.ref),
      completed.finalizer.complete(completed.ref),
    ]);
    expect(completed.deltaJobs.queued).toEqual([completed.ref]);

    const failed = await twoBatchRun();
    failed.batches.rows.forEach((row) => (row.status = 'failed'));
    await failed.finalizer.complete(failed.ref);
    expect(failed.deltaJobs.queued).toEqual([]);
  });

  it('fails a run none of whose batches succeeded', async () => {
    const { finalizer, batches, runs, events, ref } = await twoBatchRun();
    batches.rows.forEach((row) => (row.status = 'failed'));
    await finalizer.complete(ref);
    expect(runs.row(ref.resultId).status).toBe('failed');
    expect(events.events).toEqual([
      { event: 'scan_failed', scan_id: 3, error: 'all 2 batches failed', result_id: ref.resultId },
    ]);
  });

  it('lists every batch, stopped ones as stopped, in legacy_scan_complete', async () => {
    const { finalizer, batches, events, ref } = await twoBatchRun('multiprocessing');
    Object.assign(batches.rows[0], { status: 'completed', exitCode: 0, hostsUp: 1, openPorts: 2 });
    batches.rows[1].status = 'stopped';
    await finalizer.complete(ref);
    expect(events.events).toEqual([
      expect.objectContaining({
        event: 'legacy_scan_complete',
        results: [
          expect.objectContaining({
            batch_id: 1,
            status: 'completed',
            summary: { hosts_up: 1, open_ports: 2 },
          }),
          expect.objectContaining({ batch_id: 2, targets: ['127.0.0.2'], status: 'stopped' }),
        ],
      }),
    ]);
  });

  it('stops or fails only a run that has not ended, and says so once', async () => {
    const { finalizer, runs, events, ref } = await twoBatchRun();
    await expect(finalizer.stop(ref)).resolves.toBe(true);
    await expect(finalizer.stop(ref)).resolves.toBe(false);
    await expect(finalizer.fail(ref, 'lost')).resolves.toBe(false);
    await finalizer.complete(ref);
    expect(runs.row(ref.resultId).status).toBe('stopped');
    expect(events.namesOf(ref.resultId)).toEqual(['scan_stopped']);
  });
});
