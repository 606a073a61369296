// Status changes of a batch outside of storing its result. Each is one conditional UPDATE, so a retried job
// or a late worker cannot move a batch backwards, and the run's counters change only with a real transition.
import { raw, type EntityManager } from '@mikro-orm/core';
import { Batch, ScanResult, type BatchStatus } from './entities';
import { idOf, json, knexOf } from './sql';

export interface BatchStartInput {
  resultId: number;
  seq: number;
  targets: string[];
  workerId: string;
}

/** What a worker found when it started a batch: run it, or not (and why). */
export type BatchStart =
  | { runnable: true; batchId: number }
  | { runnable: false; batchId: number; status: BatchStatus; hostsUp: number; openPorts: number };

/**
 * Creates the batch's row as running on `workerId`, or takes the existing row over for this attempt, and marks
 * its run running if it was still queued. A batch that is completed or stopped is not runnable; one that failed
 * an earlier attempt is, and no longer counts as failed. In the common case (the batch's first attempt) this is
 * two statements, through knex (sql.ts): it runs beside every batch's nmap.
 */
export async function startBatch(em: EntityManager, input: BatchStartInput): Promise<BatchStart> {
  return knexOf(em).transaction(async (trx) => {
    const now = new Date();
    const running = { status: 'running', worker_id: input.workerId, started_at: now };
    const key = { result_id: input.resultId, seq: input.seq };
    // Writes come first in the transaction (see BatchResultStore).
    const created: IdRow[] = await trx('batches')
      .insert({ ...key, targets: json(input.targets), ...running, attempts: 1, created_at: now }, ['id'])
      .onConflict(['result_id', 'seq'])
      .ignore();
    let batchId = created.length > 0 ? idOf(created[0]) : undefined;
    if (batchId === undefined) {
      const takeOver = (from: BatchStatus[]) =>
        trx('batches')
          .where(key)
          .whereIn('status', from)
          .update({ ...running, attempts: trx.raw('attempts + 1') }, ['id']) as Promise<IdRow[]>;
      // `running` again is allowed: a worker killed mid-batch leaves it so, and the job then runs elsewhere.
      const resumed = await takeOver(['pending', 'running']);
      const retried = resumed.length > 0 ? [] : await takeOver(['failed']);
      const taken = resumed[0] ?? retried[0];
      batchId = taken === undefined ? undefined : idOf(taken);
      if (retried.length > 0) {
        await trx('scan_results')
          .where({ id: input.resultId })
          .update({ batches_failed: trx.raw('batches_failed - 1') });
      }
    }
    if (batchId === undefined) {
      const row: BatchRow = await trx('batches')
        .select('id', 'status', 'hosts_up', 'open_ports')
        .where(key)
        .first();
      return {
        runnable: false,
        batchId: idOf(row),
        status: row.status,
        hostsUp: Number(row.hosts_up),
        openPorts: Number(row.open_ports),
      };
    }
    await trx('scan_results')
      .where({ id: input.resultId, status: 'queued' })
      .update({ status: 'running', started_at: now });
    return { runnable: true, batchId };
  });
}

interface IdRow {
  id: number | string;
}

interface BatchRow extends IdRow {
  status: BatchStatus;
  hosts_up: number;
  open_ports: number;
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
