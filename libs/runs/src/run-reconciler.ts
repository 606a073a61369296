// The database is the record of a run; Redis holds only its moving parts (the run state, the batch jobs, the event
// log). When Redis loses them (restarted without persistence, FLUSHALL, a failover that lost writes) a run would
// stay `running` forever: no job is left to run its batches, and no batch is left to end it. The reconciler
// compares every queued or running run with what Redis still holds and puts back what is missing, or ends the run
// with a reason when it cannot go on.
import { Injectable, Logger } from '@nestjs/common';
import { isRedisConnectionError } from '@nso/events';
import { BatchRepository, RunRepository, safeErrorMessage, ScanResult } from '@nso/persistence';
import { BatchQueue, RunPlan, runPlanOf } from './batch-queue';
import { RunFinalizer } from './run-finalizer';
import { RebuiltRunState, RunStateStore } from './run-state.store';

/** A run younger than this is left alone: the gateway may still be creating its state and first jobs. */
export const RECONCILE_GRACE_MS = 10_000;

/**
 * What reconciling one run found and did:
 * - `intact`: Redis holds its state and a job for every batch in flight;
 * - `requeued`: batches in flight had lost their jobs and were enqueued again;
 * - `settled`: batches split off a straggler were never made (their worker died in between) and were counted as
 *   done, the straggler's retry covering their addresses;
 * - `resumed`: the run state was gone; it was rebuilt from the batch rows and the missing batches enqueued;
 * - `completed`: every batch had finished; the run was ended (the finalizer decides how);
 * - `failed`: it could not be resumed and was ended with `scan_failed`;
 * - `skipped`: not active any more, too young, stopped, or another process is reconciling it.
 */
export type ReconcileOutcome =
  'intact' | 'requeued' | 'settled' | 'resumed' | 'completed' | 'failed' | 'skipped';

/**
 * Idempotent and safe to run in several processes at once: each run is reconciled under a Redis lock (SET NX with
 * a TTL), the run state is only rebuilt when none exists (one Lua script), and batches are enqueued under their
 * fixed job ids (adding one twice is a no-op). A batch that runs again after all is harmless: its result is
 * stored and counted once (BatchRepository.storeResult, RunStateStore.finish).
 */
@Injectable()
export class RunReconciler {
  private readonly logger = new Logger(RunReconciler.name);

  constructor(
    private readonly runs: RunRepository,
    private readonly batches: BatchRepository,
    private readonly state: RunStateStore,
    private readonly queue: BatchQueue,
    private readonly finalizer: RunFinalizer,
  ) {}

  /** Reconciles every queued or running run older than RECONCILE_GRACE_MS, oldest first. */
  async reconcileAll(): Promise<Record<ReconcileOutcome, number>> {
    const ids = await this.runs.findActiveIds(new Date(Date.now() - RECONCILE_GRACE_MS));
    const counts: Record<ReconcileOutcome, number> = {
      intact: 0,
      requeued: 0,
      settled: 0,
      resumed: 0,
      completed: 0,
      failed: 0,
      skipped: 0,
    };
    for (const id of ids) counts[await this.reconcileRun(id)]++;
    return counts;
  }

  /** Reconciles one run (see ReconcileOutcome). Redis errors propagate: nothing can be decided without it. */
  async reconcileRun(resultId: number): Promise<ReconcileOutcome> {
    const release = await this.state.lockReconcile(resultId);
    if (!release) return 'skipped';
    try {
      return await this.reconcileLocked(resultId);
    } finally {
      await release();
    }
  }

  private async reconcileLocked(resultId: number): Promise<ReconcileOutcome> {
    const run = await this.runs.find(resultId);
    if (!run || (run.status !== 'queued' && run.status !== 'running')) return 'skipped';
    const plan: RunPlan = runPlanOf({ scanId: run.scan.id, resultId }, run);
    const progress = await this.state.progress(resultId);
    if (!progress) return this.resume(run, plan);
    if (progress.stopped) return 'skipped';
    if (progress.done + progress.failed >= progress.total) {
      await this.finalizer.complete(plan);
      return 'completed';
    }
    const lost: number[] = [];
    const unmade: number[] = [];
    for (const seq of await this.state.inflight(resultId)) {
      if (await this.queue.isPending(plan, seq)) continue;
      // Its job may have finished just now, moving the batch out of the window: then it is not lost.
      if (!(await this.state.isInflight(resultId, seq))) continue;
      if (seq <= run.batchesTotal) {
        lost.push(seq);
        continue;
      }
      // Above the run's batches in the database: claimed by a straggler's split (BatchSplitter) whose rows, made
      // right after the claim with the run's total, never were. Left alone while that may still happen.
      const claimedAt = await this.state.splitClaimedAt(resultId, seq);
      if (claimedAt === undefined || Date.now() - claimedAt >= RECONCILE_GRACE_MS) unmade.push(seq);
    }
    if (unmade.length > 0) {
      const ended = await this.settleUnmadeSplit(plan, unmade);
      if (ended) return 'completed';
    }
    if (lost.length === 0) return unmade.length > 0 ? 'settled' : 'intact';
    await this.queue.requeue(plan, lost);
    this.logger.warn(
      `run ${resultId}: batches ${lost.join(', ')} had no job in the queue; enqueued them again`,
    );
    return 'requeued';
  }

  /**
   * Batches split off a straggler whose worker died between claiming their numbers and making their rows: nothing
   * holds their addresses, and nothing needs to, since the straggler's job was never finished and its retry scans
   * every address of it (a batch is split once). Each is counted as done, with no result of its own; the run ends
   * when that was all it waited for. Returns whether this ended the run.
   */
  private async settleUnmadeSplit(plan: RunPlan, seqs: number[]): Promise<boolean> {
    let last: { done: number; failed: number; total: number } | undefined;
    for (const seq of seqs) {
      const finish = await this.state.finish(plan.resultId, seq, 'done');
      if (finish.outcome === 'stopped' || finish.outcome === 'lost') return false;
      last = finish;
    }
    this.logger.warn(
      `run ${plan.resultId}: batches ${seqs.join(', ')} were split off a straggler whose worker stopped before ` +
        `queueing them; the straggler's retry scans their addresses, so they count as done`,
    );
    if (!last || last.done + last.failed < last.total) return false;
    await this.finalizer.complete(plan);
    return true;
  }

  /** The run state is gone: rebuild it from the batch rows and enqueue the first window of unfinished batches. */
  private async resume(run: ScanResult, plan: RunPlan): Promise<ReconcileOutcome> {
    const { completed, failed } = await this.batches.finishedSeqs(run.id);
    const state = rebuiltState(run.batchesTotal, run.concurrency, completed, failed);
    try {
      if (!(await this.state.rebuild(run.id, state))) return 'skipped';
      if (state.inflight.length === 0) {
        await this.finalizer.complete(plan);
        return 'completed';
      }
      await this.queue.requeue(plan, state.inflight);
    } catch (error) {
      if (isRedisError(error)) throw error;
      // The run's own plan no longer cuts into batches (or the like): it cannot go on, and says why.
      const reason = `the queue state of this run was lost and it could not be resumed: ${safeErrorMessage(error)}`;
      await this.finalizer.fail(plan, reason);
      this.logger.error(`run ${run.id}: ${reason}`);
      return 'failed';
    }
    this.logger.warn(
      `run ${run.id}: Redis had lost its state; resumed from the database with ${completed.length + failed.length} ` +
        `of ${run.batchesTotal} batches finished, enqueued batches ${state.inflight.join(', ')} again`,
    );
    return 'resumed';
  }
}

/**
 * The state a run would have in Redis, from its batch rows: every batch not stored as completed or failed runs
 * (again), the first `window` of them now, lowest numbers first; the cursor moves past the last one claimed, so
 * every batch below it is finished or in flight, as RunStateStore's scripts expect. Pure: tested on fixtures.
 */
export function rebuiltState(
  total: number,
  window: number,
  completed: number[],
  failed: number[],
): RebuiltRunState {
  const finished = new Set([...completed, ...failed]);
  const inflight: number[] = [];
  for (let seq = 1; seq <= total && inflight.length < window; seq++) {
    if (!finished.has(seq)) inflight.push(seq);
  }
  const next = inflight.length > 0 ? inflight[inflight.length - 1] + 1 : total + 1;
  return { total, next, completed, failed, inflight };
}

/** Redis failed or refused: nothing about the run itself, so the next reconciliation tries again. */
function isRedisError(error: unknown): boolean {
  return isRedisConnectionError(error) || (error as Error | undefined)?.name === 'ReplyError';
}
