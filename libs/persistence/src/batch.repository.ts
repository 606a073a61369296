// The batches table: every write of its rows is in this file (the hosts and ports of a stored result through
// batch-hosts.ts, in the same transaction). Each status change is one conditional UPDATE, so a retried job or a
// late worker cannot move a batch backwards, and its run's counters (RunRepository's runCounters, in the same
// transaction) change only with a real transition. The statements beside every batch's nmap go to knex (sql.ts).
import type { EntityManager } from '@mikro-orm/core';
import { HostRows, insertHosts, insertPorts, type HostResultInput } from './batch-hosts';
import { storeResultInPieces, type BatchPiecesInput } from './batch-pieces';
import { Batch, Host, type BatchStatus } from './entities';
import { runCounters } from './run.repository';
import { idOf, isUniqueViolation, json, knexOf, type Knex } from './sql';

export { PiecesStartOver, type BatchPiecesFacts, type BatchPiecesInput } from './batch-pieces';
export {
  HostRows,
  HostRowsBuilder,
  ResultValueError,
  resultValueProblems,
  STRING_COLUMN_LENGTH,
  unlistedStatesOf,
  type EncodedHost,
  type HostResultInput,
  type PortResultInput,
} from './batch-hosts';

export interface BatchStartInput {
  resultId: number;
  seq: number;
  targets: string[];
  workerId: string;
  /** When the batch started (an imported file's start time); now by default. Its run's start too, if queued. */
  startedAt?: Date;
}

/** What a worker found when it started a batch: run it, or not (and why). */
export type BatchStart =
  | { runnable: true; batchId: number }
  | { runnable: false; batchId: number; status: BatchStatus; hostsUp: number; openPorts: number };

/** What nmap left behind when an attempt of a batch failed. */
export interface BatchFailure {
  exitCode: number | null;
  stderr: string | null;
  finishedAt?: Date;
}

export interface BatchResultInput {
  batchId: number;
  workerId: string;
  exitCode: number | null;
  stderr: string | null;
  finishedAt: Date;
  hosts: HostResultInput[];
}

export interface StoreBatchResultOutcome {
  /** False when the batch had already been stored (by an earlier attempt or another worker). */
  stored: boolean;
  /** Hosts up and open ports of the batch as stored (the earlier attempt's numbers when `stored` is false). */
  hostsUp: number;
  openPorts: number;
  resultId: number;
}

/** The batch columns a completed batch is stored with. */
interface Completion {
  status: 'completed';
  worker_id: string;
  exit_code: number | null;
  stderr: string | null;
  finished_at: Date;
  hosts_up: number;
  open_ports: number;
}

interface IdRow {
  id: number | string;
}

interface BatchRow extends IdRow {
  status: BatchStatus;
  hosts_up: number;
  open_ports: number;
}

/** Provided by PersistenceModule, created after the migrations; tests construct it on a test database. */
export class BatchRepository {
  constructor(private readonly em: EntityManager) {}

  /**
   * Creates the batch's row as running on `workerId`, or takes the existing row over for this attempt, and marks
   * its run running if it was still queued. A batch that is completed or stopped is not runnable; one that failed
   * an earlier attempt is, and no longer counts as failed. In the common case (the batch's first attempt) this is
   * two statements.
   */
  async start(input: BatchStartInput): Promise<BatchStart> {
    return knexOf(this.em).transaction(async (trx) => {
      const now = new Date();
      const startedAt = input.startedAt ?? now;
      const running = { status: 'running', worker_id: input.workerId, started_at: startedAt };
      const key = { result_id: input.resultId, seq: input.seq };
      // Writes come first in the transaction (see storeResult).
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
        if (retried.length > 0) await runCounters.uncountFailed(trx, input.resultId);
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
      await runCounters.markRunning(trx, input.resultId, startedAt);
      return { runnable: true, batchId };
    });
  }

  /** An attempt failed and the batch will be retried: records what nmap left behind; the status stays. */
  async attemptFailed(batchId: number, failure: BatchFailure): Promise<void> {
    await knexOf(this.em)('batches')
      .where({ id: batchId })
      .update({ exit_code: failure.exitCode, stderr: failure.stderr });
  }

  /**
   * The last attempt failed: marks the batch failed with what nmap left behind, and counts it on its run.
   * Returns false (and changes nothing) when the batch is already completed, failed or stopped, or unknown.
   */
  async fail(batchId: number, failure: BatchFailure): Promise<boolean> {
    return knexOf(this.em).transaction(async (trx) => {
      const failed: Array<{ result_id: number | string }> = await trx('batches')
        .where({ id: batchId })
        .whereIn('status', ['pending', 'running'])
        .update(
          {
            status: 'failed',
            exit_code: failure.exitCode,
            stderr: failure.stderr,
            finished_at: failure.finishedAt ?? new Date(),
          },
          ['result_id'],
        );
      if (failed.length === 0) return false;
      await runCounters.countFailed(trx, Number(failed[0].result_id));
      return true;
    });
  }

  /** The batch's nmap was ended by a stop. */
  async stopped(batchId: number): Promise<void> {
    await knexOf(this.em)('batches')
      .where({ id: batchId })
      .update({ status: 'stopped', finished_at: new Date() });
  }

  /** The run was stopped: its pending and running batches are stopped. */
  async stopAllOfRun(resultId: number): Promise<void> {
    await knexOf(this.em)('batches')
      .where({ result_id: resultId })
      .whereIn('status', ['pending', 'running'])
      .update({ status: 'stopped', finished_at: new Date() });
  }

  /**
   * Stores what one nmap batch found, exactly once: a retried batch, or two workers racing on the same batch,
   * write hosts and ports a single time. In one transaction: claims the batch (a conditional UPDATE to
   * `completed`, which only one caller can win), writes its hosts and ports, and adds its numbers to the run's
   * counters. The numbers are what the batch stored: hosts up among the rows it inserted, open ports among the
   * port rows it inserted, so the batch's summary and the run's counters always equal the rows. A host another
   * batch of the run already stored keeps its row (and is not counted again) and gains this batch's new ports;
   * batches are cut disjoint, so this is a defence, not a path. Four statements in the common case (claim, hosts,
   * ports, run counters), whatever the batch's size: the rows go as one JSON parameter each (batch-hosts.ts). Throws when
   * the batch does not exist, and ResultValueError (before any write) for values no column holds.
   */
  async storeResult(input: BatchResultInput): Promise<StoreBatchResultOutcome> {
    const rows = HostRows.of(input.hosts);
    const hostsUp = rows.up;
    const openPorts = rows.openPorts;
    const completion: Completion = {
      status: 'completed',
      worker_id: input.workerId,
      exit_code: input.exitCode,
      stderr: input.stderr,
      finished_at: input.finishedAt,
      hosts_up: hostsUp,
      open_ports: openPorts,
    };
    const knex = knexOf(this.em);
    try {
      return await knex.transaction(async (trx) => {
        // The claim is the transaction's first statement: on SQLite a write first waits for the lock, where a
        // read first would fail with SQLITE_BUSY once another process had written in between.
        let reclaimedFailed = false;
        let claim = await claimBatch(trx, input.batchId, completion, 'unfinished');
        if (!claim) {
          claim = await claimBatch(trx, input.batchId, completion, 'failed');
          reclaimedFailed = claim !== undefined;
        }
        if (!claim) return (await alreadyStored(trx, input.batchId)).outcome;

        const resultId = claim;
        const inserted = await insertHosts(trx, resultId, input.batchId, rows, input.finishedAt);
        const openStored = await insertPorts(trx, resultId, input.batchId, rows, inserted.allNew);
        const counted = { hostsUp: inserted.up, openPorts: openStored };
        if (counted.hostsUp !== hostsUp || counted.openPorts !== openPorts) {
          await trx('batches')
            .where({ id: input.batchId })
            .update({ hosts_up: counted.hostsUp, open_ports: counted.openPorts });
        }
        await runCounters.countStored(trx, resultId, { ...counted, reclaimedFailed });
        return { stored: true, ...counted, resultId };
      });
    } catch (error) {
      // Defensive: after losing the claim a caller never inserts, and conflicting rows are skipped. Should a
      // unique violation surface anyway, a batch that is completed now was stored once, by someone else.
      if (isUniqueViolation(error)) {
        const stored = await alreadyStored(knex, input.batchId);
        if (stored.completed) return stored.outcome;
      }
      throw error;
    }
  }

  /**
   * storeResult for a result whose hosts arrive in pieces (an imported file): the same rows and counts, one
   * transaction (batch-pieces.ts).
   */
  storeResultInPieces(input: BatchPiecesInput): Promise<StoreBatchResultOutcome> {
    return storeResultInPieces(knexOf(this.em), input);
  }

  /** The numbers of the run's batches stored as completed, and as failed (after their last attempt). */
  async finishedSeqs(resultId: number): Promise<{ completed: number[]; failed: number[] }> {
    const rows = await this.em
      .fork()
      .find(
        Batch,
        { result: resultId, status: { $in: ['completed', 'failed'] } },
        { fields: ['seq', 'status'] },
      );
    return {
      completed: rows.filter((row) => row.status === 'completed').map((row) => row.seq),
      failed: rows.filter((row) => row.status === 'failed').map((row) => row.seq),
    };
  }

  /**
   * Of the run's batches numbered `seqs`, those stored as completed, in order, with what each stored (its
   * `batch_complete` summary: hosts up, open ports). Empty for no `seqs`.
   */
  async completedAmong(
    resultId: number,
    seqs: readonly number[],
  ): Promise<Array<{ seq: number; hostsUp: number; openPorts: number }>> {
    if (seqs.length === 0) return [];
    const rows: Array<{ seq: number | string; hosts_up: number | string; open_ports: number | string }> =
      await knexOf(this.em)('batches')
        .select('seq', 'hosts_up', 'open_ports')
        .where({ result_id: resultId, status: 'completed' })
        .whereIn('seq', [...seqs])
        .orderBy('seq');
    return rows.map((row) => ({
      seq: Number(row.seq),
      hostsUp: Number(row.hosts_up),
      openPorts: Number(row.open_ports),
    }));
  }

  /** The run's batches in order, each with its hosts and their ports (the legacy runner's whole result). */
  async findWithHosts(resultId: number): Promise<Array<{ batch: Batch; hosts: Host[] }>> {
    const em = this.em.fork();
    const batches = await em.find(Batch, { result: resultId }, { orderBy: { seq: 'asc' } });
    const hosts = await em.find(
      Host,
      { batch: { $in: batches.map((b) => b.id) } },
      { populate: ['ports'], orderBy: { id: 'asc' } },
    );
    return batches.map((batch) => ({ batch, hosts: hosts.filter((h) => h.batch.id === batch.id) }));
  }
}

/**
 * Moves the batch to `completed` if it is in one of the given states; returns its run's id when it did.
 * `unfinished` is pending or running. A stopped batch is not claimed: once the run's stop marked it stopped, the
 * run counts and announces nothing more of it (no `batch_complete`), so a result its nmap finished meanwhile
 * is not stored either, and the run's counters stay the sums of the batches it announced.
 */
async function claimBatch(
  trx: Knex.Transaction,
  batchId: number,
  completion: Completion,
  from: 'unfinished' | 'failed',
): Promise<number | undefined> {
  const query = trx('batches').where({ id: batchId });
  if (from === 'failed') query.andWhere({ status: 'failed' });
  else query.whereIn('status', ['pending', 'running']);
  const rows: Array<{ result_id: number | string }> = await query.update(completion, ['result_id']);
  return rows.length > 0 ? Number(rows[0].result_id) : undefined;
}

async function alreadyStored(
  knex: Knex,
  batchId: number,
): Promise<{ outcome: StoreBatchResultOutcome; completed: boolean }> {
  const row:
    { status: string; result_id: number | string; hosts_up: number; open_ports: number } | undefined =
    await knex('batches')
      .select('status', 'result_id', 'hosts_up', 'open_ports')
      .where({ id: batchId })
      .first();
  if (!row) throw new Error(`Batch ${batchId} does not exist`);
  return {
    outcome: {
      stored: false,
      hostsUp: Number(row.hosts_up),
      openPorts: Number(row.open_ports),
      resultId: Number(row.result_id),
    },
    completed: row.status === 'completed',
  };
}
