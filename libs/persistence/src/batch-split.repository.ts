// The rows of a straggler's split (docs/api.md, "Stragglers"): the batches cut from the addresses a running batch
// had not reported yet are created `pending` with their addresses, and the run's batch total grows with them, in
// one transaction; and the two reads the split needs: how long the run's batches took, and a split batch's
// addresses (a split batch is not cut from the run's plan, so its row is where its addresses are kept).
import type { EntityManager } from '@mikro-orm/core';
import { Batch } from './entities';
import { runCounters } from './run.repository';
import { json, knexOf } from './sql';

/** One batch cut from a straggler: its number in the run (above every planned batch) and its addresses. */
export interface SplitBatchInput {
  seq: number;
  targets: string[];
}

/** Provided by PersistenceModule; the only writer of split batches' rows. */
export class BatchSplitRepository {
  constructor(private readonly em: EntityManager) {}

  /**
   * Creates the split batches' rows (`pending`, their addresses, no worker yet), adds their number to the run's
   * `batches_total`, and narrows the straggler's row (`straggler.batchId`) to the addresses it keeps
   * (`straggler.targets`: those nmap had reported), in one transaction: every address of the run then belongs to
   * one batch row, so the addresses of completed batches (the results summary, the run's progress) add up to the
   * run's. A row that exists already (a split retried after a crash) is left as it is and not counted again.
   * Returns how many rows it created.
   */
  async splitOff(
    resultId: number,
    batches: readonly SplitBatchInput[],
    straggler: { batchId: number; targets: string[] },
  ): Promise<number> {
    if (batches.length === 0) return 0;
    return knexOf(this.em).transaction(async (trx) => {
      await trx('batches')
        .where({ id: straggler.batchId, result_id: resultId })
        .update({ targets: json(straggler.targets) });
      const now = new Date();
      const rows = batches.map((b) => ({
        result_id: resultId,
        seq: b.seq,
        targets: json(b.targets),
        status: 'pending',
        attempts: 0,
        created_at: now,
      }));
      const created: unknown[] = await trx('batches')
        .insert(rows, ['id'])
        .onConflict(['result_id', 'seq'])
        .ignore();
      if (created.length > 0) await runCounters.growTotal(trx, resultId, created.length);
      return created.length;
    });
  }

  /**
   * Seconds from start to finish of each of the run's completed batches (rows without both times are left out),
   * ascending. A /8 run has 65,536 batches: only asked once the rest of a run is done (BatchSplitter).
   */
  async completedDurations(resultId: number): Promise<number[]> {
    const rows = await this.em
      .fork()
      .find(
        Batch,
        { result: resultId, status: 'completed', startedAt: { $ne: null }, finishedAt: { $ne: null } },
        { fields: ['startedAt', 'finishedAt'] },
      );
    return rows
      .map((row) => ((row.finishedAt as Date).getTime() - (row.startedAt as Date).getTime()) / 1000)
      .sort((a, b) => a - b);
  }

  /** The addresses of batch `seq` of the run as its row holds them; undefined when it has no row. */
  async targetsOf(resultId: number, seq: number): Promise<string[] | undefined> {
    const row = await this.em.fork().findOne(Batch, { result: resultId, seq }, { fields: ['targets'] });
    return row?.targets;
  }
}
