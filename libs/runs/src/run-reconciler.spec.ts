import { Logger } from '@nestjs/common';
import { RECONCILE_GRACE_MS, rebuiltState } from './run-reconciler';
import { newRunService } from './testing/run-fakes';

describe('rebuiltState', () => {
  it('claims the lowest unfinished batches, up to the window, and moves the cursor past the last one', () => {
    expect(rebuiltState(10, 3, [1, 2, 4], [5])).toEqual({
      total: 10,
      next: 8,
      completed: [1, 2, 4],
      failed: [5],
      inflight: [3, 6, 7],
    });
  });

  it('runs every batch again when none had finished (a run lost before its first batch ended)', () => {
    expect(rebuiltState(4, 2, [], [])).toMatchObject({ next: 3, inflight: [1, 2] });
  });

  it('claims what is left when fewer batches than the window remain', () => {
    expect(rebuiltState(4, 6, [1, 3], [])).toMatchObject({ next: 5, inflight: [2, 4] });
  });

  it('claims nothing when every batch has finished, so the run can be ended', () => {
    expect(rebuiltState(3, 2, [1, 3], [2])).toMatchObject({ next: 4, inflight: [] });
  });

  it('keeps every batch below the cursor finished or in flight, as the run state scripts expect', () => {
    const completed = [2, 3, 7, 8, 9];
    const state = rebuiltState(12, 4, completed, [5]);
    for (let seq = 1; seq < state.next; seq++) {
      expect(completed.includes(seq) || seq === 5 || state.inflight.includes(seq)).toBe(true);
    }
    expect(state.inflight).toEqual([1, 4, 6, 10]);
  });
});

describe('RunReconciler', () => {
  beforeEach(() => {
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
  });
  afterEach(() => jest.restoreAllMocks());

  /** A one-off run of 4 batches, 2 at a time, whose batch 1 is stored as completed. */
  async function runningRun() {
    const system = newRunService();
    const { scanId, resultId } = await system.service.startOneOff({
      ownerId: 1,
      projectId: 1,
      name: 'Scan of 127.0.0.1-4',
      targets: ['127.0.0.1-4'],
      nmapFlags: ['-sT'],
      runner: 'asyncio',
      chunkSize: 1,
      concurrency: 2,
    });
    const ref = { scanId, resultId };
    const { batchId } = await system.service.startBatch({ resultId, seq: 1, targets: [], workerId: 'w' });
    const stored = { batchId, workerId: 'w', exitCode: 0, stderr: null, finishedAt: new Date(), hosts: [] };
    await system.service.batchCompleted(ref, 1, stored);
    return { ...system, ref };
  }

  it('leaves a run alone whose state and jobs are all there', async () => {
    const { reconciler, ref, queue } = await runningRun();
    await expect(reconciler.reconcileRun(ref.resultId)).resolves.toBe('intact');
    expect(queue.requeued).toEqual([]);
  });

  it('enqueues again a batch in flight whose job is gone', async () => {
    const { reconciler, ref, queue } = await runningRun();
    queue.lost.add(`r${ref.resultId}-b3`);
    await expect(reconciler.reconcileRun(ref.resultId)).resolves.toBe('requeued');
    expect(queue.requeued).toEqual([{ resultId: ref.resultId, seq: 3 }]);
  });

  it('counts as done the batches of a split whose worker died before making them, once they are old enough', async () => {
    const { reconciler, ref, queue, state, runs } = await runningRun();
    // Every planned batch is claimed; batch 3 was split: numbers 5 and 6 claimed, no row, no job.
    queue.lost.add(`r${ref.resultId}-b5`).add(`r${ref.resultId}-b6`);
    await state.finish(ref.resultId, 2, 'done');
    const young = state.claimSplit(ref.resultId, 2);
    expect(young).toEqual([5, 6]);
    // Just claimed: its worker may be making them now.
    await expect(reconciler.reconcileRun(ref.resultId)).resolves.toBe('intact');
    for (const seq of young) state.splitClaims.set(`${ref.resultId}:${seq}`, Date.now() - RECONCILE_GRACE_MS);
    await expect(reconciler.reconcileRun(ref.resultId)).resolves.toBe('settled');
    expect(await state.progress(ref.resultId)).toEqual({ done: 4, failed: 0, total: 6, stopped: false });
    expect(queue.requeued).toEqual([]);
    expect(runs.row(ref.resultId).status).toBe('running');
  });

  it('ends the run when the unmade batches of a split were all it waited for', async () => {
    const { reconciler, ref, queue, state, runs, events } = await runningRun();
    for (const seq of [2, 3, 4]) await state.finish(ref.resultId, seq, 'done');
    queue.lost.add(`r${ref.resultId}-b5`);
    state.claimSplit(ref.resultId, 1, Date.now() - 2 * RECONCILE_GRACE_MS);
    await expect(reconciler.reconcileRun(ref.resultId)).resolves.toBe('completed');
    expect(await state.progress(ref.resultId)).toMatchObject({ done: 5, total: 5 });
    expect(runs.row(ref.resultId).status).toBe('completed');
    expect(events.namesOf(ref.resultId).at(-1)).toBe('scan_complete');
  });

  it('rebuilds a lost state from the batch rows, once, and enqueues the unfinished window', async () => {
    const { reconciler, ref, queue, state } = await runningRun();
    state.lose();
    const outcomes = await Promise.all([
      reconciler.reconcileRun(ref.resultId),
      reconciler.reconcileRun(ref.resultId),
    ]);
    expect(outcomes.sort()).toEqual(['resumed', 'skipped']);
    expect(await state.progress(ref.resultId)).toEqual({ done: 1, failed: 0, total: 4, stopped: false });
    expect(queue.requeued).toEqual([
      { resultId: ref.resultId, seq: 2 },
      { resultId: ref.resultId, seq: 3 },
    ]);
    expect(state.locks.size).toBe(0);
  });

  it('ends a run whose every batch had finished when its state was lost', async () => {
    const { reconciler, ref, state, batches, runs, events } = await runningRun();
    for (const seq of [2, 3, 4]) {
      await batches.start({ resultId: ref.resultId, seq, targets: [], workerId: 'w' });
    }
    batches.rows.forEach((row) => (row.status = 'completed'));
    state.lose();
    await expect(reconciler.reconcileRun(ref.resultId)).resolves.toBe('completed');
    expect(runs.row(ref.resultId).status).toBe('completed');
    expect(events.namesOf(ref.resultId).at(-1)).toBe('scan_complete');
  });

  it('fails a run that cannot be resumed, with the reason', async () => {
    const { reconciler, ref, state, queue, runs, events } = await runningRun();
    state.lose();
    queue.failNext = new Error('host name localhost has not been resolved');
    await expect(reconciler.reconcileRun(ref.resultId)).resolves.toBe('failed');
    expect(runs.row(ref.resultId)).toMatchObject({ status: 'failed' });
    expect(events.events.at(-1)).toMatchObject({
      event: 'scan_failed',
      error: expect.stringMatching(
        /^the queue state of this run was lost and it could not be resumed: host name/,
      ),
    });
  });

  it('skips stopped, ended and too young runs, counting every outcome', async () => {
    const { reconciler, ref, service, runs } = await runningRun();
    expect(await reconciler.reconcileAll()).toMatchObject({ intact: 1 });
    runs.row(ref.resultId).createdAt = new Date(Date.now() - RECONCILE_GRACE_MS / 2);
    expect(await reconciler.reconcileAll()).toMatchObject({ intact: 0, skipped: 0 });
    runs.row(ref.resultId).createdAt = new Date(0);
    await service.stop(ref.scanId);
    await expect(reconciler.reconcileRun(ref.resultId)).resolves.toBe('skipped');
  });
});
