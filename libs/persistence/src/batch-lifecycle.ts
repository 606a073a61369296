// Status changes of a batch outside of storing its result. Each is one conditional UPDATE, so a retried job
// or a late worker cannot move a batch backwards, and the run's counters change only with a real transition.
import { raw, type EntityManager } from '@mikro-orm/core';
import { Batch, ScanResult } from './entities';

/**
 * Marks the batch running on `workerId` (counting the attempt) and its run running if it was still queued.
 * Returns false when the batch must not run: it is completed or stopped, or does not exist.
 */
export async function markBatchRunning(
  em: EntityManager,
  batchId: number,
  workerId: string,
): Promise<boolean> {
  return em.transactional(async (tx) => {
    const now = new Date();
    // A function: a raw() fragment is consumed by the query it is used in.
    const start = () => ({
      status: 'running' as const,
      workerId,
      startedAt: now,
      attempts: raw('attempts + 1'),
    });
    // Writes come first in the transaction (see BatchResultStore). `running` again is allowed: a worker
    // killed mid-batch leaves it so, and the job then runs again elsewhere.
    const started = await tx.nativeUpdate(
      Batch,
      { id: batchId, status: { $in: ['pending', 'running'] } },
      start(),
    );
    const retried =
      started === 0 && (await tx.nativeUpdate(Batch, { id: batchId, status: 'failed' }, start())) === 1;
    if (started === 0 && !retried) {
      return false;
    }
    const resultId = await findResultId(tx, batchId);
    if (retried) {
      await tx.nativeUpdate(ScanResult, { id: resultId }, { batchesFailed: raw('batches_failed - 1') });
    }
    await tx.nativeUpdate(
      ScanResult,
      { id: resultId, status: 'queued' },
      { status: 'running', startedAt: now },
    );
    return true;
  });
}

/**
 * Marks the batch failed with what nmap left behind, and counts it on its run. Returns false (and changes
 * nothing) when the batch is already completed, failed or stopped.
 */
export async function markBatchFailed(
  em: EntityManager,
  batchId: number,
  failure: { exitCode: number | null; stderr: string | null; finishedAt?: Date },
): Promise<boolean> {
  return em.transactional(async (tx) => {
    const failed = await tx.nativeUpdate(
      Batch,
      { id: batchId, status: { $in: ['pending', 'running'] } },
      {
        status: 'failed',
        exitCode: failure.exitCode,
        stderr: failure.stderr,
        finishedAt: failure.finishedAt ?? new Date(),
      },
    );
    if (failed === 0) {
      return false;
    }
    const resultId = await findResultId(tx, batchId);
    await tx.nativeUpdate(ScanResult, { id: resultId }, { batchesFailed: raw('batches_failed + 1') });
    return true;
  });
}

async function findResultId(em: EntityManager, batchId: number): Promise<number> {
  const batch = await em.findOneOrFail(Batch, batchId, { fields: ['result'], disableIdentityMap: true });
  return batch.result.id;
}
