// A batch's result that arrives in pieces: an imported nmap XML file of a /16 (65,536 hosts) is never one array of
// hosts in memory, its pieces are kept as the rows they are stored as (HostRows). The same rows and counts as
// BatchRepository.storeResult, through the same inserts (batch-hosts.ts), in one transaction: every piece is
// stored, or none is.
import { insertHosts, insertPorts, type HostRows } from './batch-hosts';
import type { BatchResultInput, StoreBatchResultOutcome } from './batch.repository';
import { runCounters } from './run.repository';
import type { Knex } from './sql';

/** A batch's result as BatchResultInput, its hosts given as pieces (each address in one piece only). */
export interface BatchPiecesInput extends Omit<BatchResultInput, 'hosts'> {
  /**
   * Read once, inside the transaction; may be a generator that makes each piece as it is asked for. Each piece
   * was checked when it was made (HostRows.of: ResultValueError).
   */
  hosts: Iterable<HostRows>;
}

/**
 * Stores the batch's result from pieces, exactly once, in one transaction (see BatchRepository.storeResult): claims
 * the batch (a conditional UPDATE to `completed` from pending, running or stopped), inserts each piece's hosts and
 * ports as it comes, then sets the batch's hosts_up / open_ports to what was inserted and adds them to the run's
 * counters. A batch already completed or failed is not stored again (`stored: false`, its numbers). Throws when
 * the batch does not exist; an error of the pieces' iterator (e.g. ResultValueError from a piece made as it is
 * asked for) rolls back every piece.
 */
export async function storeResultInPieces(
  knex: Knex,
  input: BatchPiecesInput,
): Promise<StoreBatchResultOutcome> {
  return knex.transaction(async (trx) => {
    // The claim is the transaction's first statement (a write: on SQLite it waits for the lock).
    const claimed: Array<{ result_id: number | string }> = await trx('batches')
      .where({ id: input.batchId })
      .whereNotIn('status', ['completed', 'failed'])
      .update(
        {
          status: 'completed',
          worker_id: input.workerId,
          exit_code: input.exitCode,
          stderr: input.stderr,
          finished_at: input.finishedAt,
          hosts_up: 0,
          open_ports: 0,
        },
        ['result_id'],
      );
    if (claimed.length === 0) return alreadyStored(trx, input.batchId);
    const resultId = Number(claimed[0].result_id);
    let hostsUp = 0;
    let openPorts = 0;
    for (const piece of input.hosts) {
      const inserted = await insertHosts(trx, resultId, input.batchId, piece, input.finishedAt);
      hostsUp += inserted.up;
      openPorts += await insertPorts(trx, resultId, input.batchId, piece, inserted.allNew);
    }
    await trx('batches').where({ id: input.batchId }).update({ hosts_up: hostsUp, open_ports: openPorts });
    await runCounters.countStored(trx, resultId, { hostsUp, openPorts, reclaimedFailed: false });
    return { stored: true, hostsUp, openPorts, resultId };
  });
}

async function alreadyStored(trx: Knex.Transaction, batchId: number): Promise<StoreBatchResultOutcome> {
  const row: { result_id: number | string; hosts_up: number; open_ports: number } | undefined = await trx(
    'batches',
  )
    .select('result_id', 'hosts_up', 'open_ports')
    .where({ id: batchId })
    .first();
  if (!row) throw new Error(`Batch ${batchId} does not exist`);
  return {
    stored: false,
    hostsUp: Number(row.hosts_up),
    openPorts: Number(row.open_ports),
    resultId: Number(row.result_id),
  };
}
