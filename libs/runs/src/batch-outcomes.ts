// What happens to each batch of a run: started, completed (its result stored once), failed, stopped. A finished
// batch is counted once in the run's state, announced (`batch_complete`, `batch_failed`, `progress`), refills the
// run's window with the next batch, and the last one ends the run (RunFinalizer).
import { Injectable, Logger } from '@nestjs/common';
import { BatchSummary, ScanEventBody } from '@nso/contracts';
import { ScanEventPublisher } from '@nso/events';
import {
  BatchRepository,
  BatchResultInput,
  BatchStart,
  BatchStartInput,
  ClientRepository,
  RunRepository,
} from '@nso/persistence';
import type { UndeliveredBatch } from './agent-tasks';
import { BatchHandoff } from './batch-handoff';
import { BatchQueue, RunPlan, runPlanOf } from './batch-queue';
import type { BatchFailedCommand, RunRef } from './run-commands';
import { RunFinalizer } from './run-finalizer';
import { RunProgressStore } from './run-progress.store';
import { RunReconciler } from './run-reconciler';
import { RunStateStore } from './run-state.store';
import { ClientRevokedError } from './run.errors';

/** The batch commands of RunService: each batch of a run is started, stored, failed or stopped here. */
/** Runs whose plan BatchOutcomes keeps (as BatchQueue keeps their cuts). */
const PLAN_CACHE_SIZE = 8;

@Injectable()
export class BatchOutcomes {
  private readonly logger = new Logger(BatchOutcomes.name);
  /** Plans of the runs this process enqueued batches for lately (planOf). */
  private readonly plans = new Map<number, RunPlan>();

  constructor(
    private readonly runs: RunRepository,
    private readonly batches: BatchRepository,
    private readonly clients: ClientRepository,
    private readonly state: RunStateStore,
    private readonly queue: BatchQueue,
    private readonly events: ScanEventPublisher,
    private readonly finalizer: RunFinalizer,
    private readonly reconciler: RunReconciler,
    private readonly handoff: BatchHandoff,
    private readonly progress: RunProgressStore,
  ) {}

  /**
   * A worker took a batch's job: the batch's row is created (or taken over by this attempt) and the run marked
   * running. Not runnable when the batch is completed or stopped already (see BatchRepository.start).
   */
  startBatch(input: BatchStartInput): Promise<BatchStart> {
    return this.batches.start(input);
  }

  /** The batch's nmap was ended by a stop; the run's ending is the stop's (RunService.stop). */
  async batchStopped(batchId: number): Promise<void> {
    await this.batches.stopped(batchId);
  }

  /**
   * nmap completed a batch: its result is stored (once, whatever the retries), then counted (batchFinished).
   * With `pool`, the worker pool it ran on: ClientRevokedError (nothing stored) when that pool was revoked since.
   */
  async batchCompleted(ref: RunRef, seq: number, result: BatchResultInput, pool?: string): Promise<void> {
    // Revoking a pool takes effect at once: a result that comes back after it is not stored.
    if (pool !== undefined && !(await this.clients.isApprovedPool(pool))) throw new ClientRevokedError(pool);
    const stored = await this.batches.storeResult(result);
    await this.batchFinished(ref, seq, { hosts_up: stored.hostsUp, open_ports: stored.openPorts });
  }

  /**
   * A batch whose result is stored finished: it is counted once (a retry that finds it counted sends nothing),
   * `batch_complete` and `progress` go out, the next batch is enqueued to keep the window full, and the run
   * ends after its last batch. A stopped run counts nothing; a run whose Redis state is gone is reconciled.
   */
  async batchFinished(ref: RunRef, seq: number, summary: BatchSummary): Promise<void> {
    await this.count(ref, seq, 'done', summary);
  }

  /**
   * An attempt of a batch failed: the batch row records it (the last attempt marks it failed and counts it on
   * the run), `batch_failed` says whether it will be retried, and a last attempt is counted like a finished
   * batch (a run none of whose batches succeeded ends `failed`).
   */
  async batchFailed(ref: RunRef, failure: BatchFailedCommand): Promise<void> {
    const record = { exitCode: failure.exitCode, stderr: failure.stderr || failure.message };
    if (failure.final) await this.batches.fail(failure.batchId, record);
    else await this.batches.attemptFailed(failure.batchId, record);
    await this.events.publish(ref, {
      event: 'batch_failed',
      batch_id: failure.seq,
      error: failure.message,
      exit_code: failure.exitCode,
      stderr: failure.stderr,
      attempt: failure.attempt,
      will_retry: !failure.final,
    });
    if (failure.final) await this.count(ref, failure.seq, 'failed');
  }

  /**
   * Batches their client could not take (an unreachable agent, a revoked client), one after the other: each goes
   * to another approved, online client that covers it (BatchHandoff.place), or fails with the reason and is
   * counted, its addresses then added to the run's unassigned_targets.
   */
  async handOn(ref: RunRef, plan: RunPlan, undelivered: readonly UndeliveredBatch[]): Promise<void> {
    for (const batch of undelivered) {
      const failure = await this.handoff.place(ref, plan, batch);
      if (failure) await this.batchFailed(ref, failure);
    }
  }

  /** Counts the batch once, tells subscribers, keeps the window full, and ends the run after its last batch. */
  private async count(ref: RunRef, seq: number, kind: 'done' | 'failed', summary?: BatchSummary) {
    const counting = this.state.finish(ref.resultId, seq, kind);
    // Sent right behind the count on the same Redis connection, so Redis runs it after the count and both take
    // one round trip: waiting for it after the count let another process count the run's last batch and publish
    // scan_complete before this batch's batch_complete and progress went out. The batch leaves the running ones
    // of the live progress (once: a repeat finds nothing to remove); percent, hosts and ETA count the other
    // batches' nmap reports too.
    const living = this.progress.finish(ref.resultId, seq, kind).catch((error: unknown) => {
      this.logger.warn(`run ${ref.resultId}: progress not updated: ${(error as Error).message}`);
      return undefined;
    });
    const finish = await counting;
    if (finish.outcome === 'stopped') return;
    if (finish.outcome === 'lost') {
      // Redis lost the run's state (this batch is stored already): rebuild it from the database and go on now,
      // rather than at the next periodic reconciliation.
      this.logger.warn(`run ${ref.resultId}: its state is gone from Redis; reconciling it with the database`);
      await this.reconciler.reconcileRun(ref.resultId);
      return;
    }
    // 'duplicate': counted by an earlier attempt that died here; the run may still need its ending.
    let published: Promise<unknown> = Promise.resolve();
    if (finish.outcome === 'counted') {
      // The run's counters in the database moved with the batch row (BatchRepository).
      const live = await living;
      const progress: ScanEventBody = {
        event: 'progress',
        percent: Math.floor(((finish.done + finish.failed) * 100) / finish.total),
        ...(live && {
          percent: live.percent,
          hosts_done: live.hosts_done,
          hosts_total: live.hosts_total,
          eta_seconds: live.eta_seconds,
        }),
        batches_done: finish.done,
        batches_failed: finish.failed,
        batches_total: finish.total,
      };
      const complete: ScanEventBody[] =
        kind === 'done'
          ? [{ event: 'batch_complete', batch_id: seq, summary: summary ?? { hosts_up: 0, open_ports: 0 } }]
          : [];
      // Not awaited before moving on: the finalizer's terminal event goes out on the same connection, after
      // these, so the order holds while the database work overlaps the round trip.
      published = this.events.publishMany(ref, [...complete, progress]);
      published.catch(() => undefined); // awaited below; this only keeps an early failure from going unhandled
      if (finish.nextSeq !== undefined) await this.enqueue(ref, await this.planOf(ref), [finish.nextSeq]);
    }
    if (finish.done + finish.failed === finish.total) await this.finalizer.complete(ref);
    await published;
  }

  /** The run's plan, read once per run lately enqueued for (a plan does not change once the run is started). */
  private async planOf(ref: RunRef): Promise<RunPlan> {
    const known = this.plans.get(ref.resultId);
    if (known) return known;
    const plan = runPlanOf(ref, await this.runs.findOrFail(ref.resultId));
    if (this.plans.size >= PLAN_CACHE_SIZE) this.plans.delete(this.plans.keys().next().value as number);
    this.plans.set(ref.resultId, plan);
    return plan;
  }

  /** Enqueues batches of a running run, handing on those an agent could not take. */
  private async enqueue(ref: RunRef, plan: RunPlan, seqs: number[]): Promise<void> {
    const undelivered = await this.queue.enqueue(plan, seqs);
    if (undelivered.length > 0) await this.handOn(ref, plan, undelivered);
  }
}
