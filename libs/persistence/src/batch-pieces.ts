// A batch's result that arrives in pieces: an imported nmap XML file of a /16 (65,536 hosts) is never one array of
// hosts in memory, its pieces are kept as the rows they are stored as (HostRows), and they may be stored while the
// rest of the file is still being read. The same rows and counts as BatchRepository.storeResult, through the same
// inserts (batch-hosts.ts), in one transaction: every piece is stored, or none is.
import { insertHosts, insertPorts, type HostRows } from './batch-hosts';
import type { BatchResultInput, StoreBatchResultOutcome } from './batch.repository';
import { runCounters } from './run.repository';
import { json, type Knex } from './sql';

/** A batch's result as BatchResultInput, its hosts given as pieces (each address in one piece only). */
export interface BatchPiecesInput extends Omit<BatchResultInput, 'hosts'> {
  /**
   * Read once, inside the transaction, as they come: an array, a generator that makes each piece as it is asked
   * for, or an async iterable of pieces still being made. Each piece was checked when it was made (HostRows.of:
   * ResultValueError). It may throw PiecesStartOver: the pieces stored so far are dropped and the error's pieces
   * stored instead. Any other error rolls every piece back.
   */
  hosts: Iterable<HostRows> | AsyncIterable<HostRows>;
  /**
   * Facts known only once every piece was read (an imported file's targets, times and options: its last element
   * holds its finish time), asked for after the last piece and written in the same transaction. `finishedAt`
   * above is then the time the hosts are dated with meanwhile; they are dated again when the facts' differs.
   */
  facts?: () => BatchPiecesFacts | Promise<BatchPiecesFacts>;
}

/** What BatchPiecesInput.facts gives: the batch's and its run's columns known only at the end. */
export interface BatchPiecesFacts {
  /** The batch's and the run's targets (also the run's targets_total and chunk_size: one batch holds them all). */
  targets: string[];
  /** The run's options. */
  nmapFlags: string[];
  /** The batch's and the run's start. */
  startedAt: Date;
  /** The batch's finish, and its hosts' created_at. */
  finishedAt: Date;
}

/**
 * Thrown by the pieces of a BatchPiecesInput that must start over (an imported file found out of address order
 * after some of its pieces were handed over): what was stored of them is dropped (rolled back to a savepoint),
 * and `pieces`, every host of the batch, stored instead.
 */
export class PiecesStartOver extends Error {
  override readonly name = 'PiecesStartOver';
  constructor(readonly pieces: Iterable<HostRows> | AsyncIterable<HostRows>) {
    super('The pieces start over');
  }
}

/**
 * Stores the batch's result from pieces, exactly once, in one transaction (see BatchRepository.storeResult): claims
 * the batch (a conditional UPDATE to `completed` from pending, running or stopped), inserts each piece's hosts and
 * ports as it comes (PiecesStartOver: dropped and inserted again from the new pieces), then sets the batch's
 * hosts_up / open_ports to what was inserted (and the facts, when given) and adds them to the run's counters. A
 * batch already completed or failed is not stored again (`stored: false`, its numbers; the pieces are not read).
 * Throws when the batch does not exist; an error of the pieces' iterator (e.g. ResultValueError from a piece made
 * as it is asked for, or a refusal of the file they come from) rolls back every piece.
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
    let pieces = input.hosts;
    let counts: { hostsUp: number; openPorts: number };
    for (;;) {
      try {
        // A savepoint: what a start-over drops.
        counts = await trx.transaction((attempt) =>
          insertPieces(attempt, resultId, input.batchId, pieces, input.finishedAt),
        );
        break;
      } catch (error) {
        if (!(error instanceof PiecesStartOver)) throw error;
        pieces = error.pieces;
      }
    }
    const { hostsUp, openPorts } = counts;
    const facts = await input.facts?.();
    await trx('batches')
      .where({ id: input.batchId })
      .update({
        hosts_up: hostsUp,
        open_ports: openPorts,
        ...(facts && {
          targets: json(facts.targets),
          started_at: facts.startedAt,
          finished_at: facts.finishedAt,
        }),
      });
    if (facts) {
      if (facts.finishedAt.getTime() !== input.finishedAt.getTime()) {
        await trx('hosts').where({ batch_id: input.batchId }).update({ created_at: facts.finishedAt });
      }
      await runCounters.importedFacts(trx, resultId, facts);
    }
    await runCounters.countStored(trx, resultId, { hostsUp, openPorts, reclaimedFailed: false });
    return { stored: true, hostsUp, openPorts, resultId };
  });
}

/** Inserts the pieces' hosts and ports; gives the hosts up and open ports inserted. */
async function insertPieces(
  trx: Knex.Transaction,
  resultId: number,
  batchId: number,
  pieces: Iterable<HostRows> | AsyncIterable<HostRows>,
  createdAt: Date,
): Promise<{ hostsUp: number; openPorts: number }> {
  let hostsUp = 0;
  let openPorts = 0;
  for await (const piece of pieces) {
    const inserted = await insertHosts(trx, resultId, batchId, piece, createdAt);
    hostsUp += inserted.up;
    openPorts += await insertPorts(trx, resultId, batchId, piece, inserted.allNew);
  }
  return { hostsUp, openPorts };
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
