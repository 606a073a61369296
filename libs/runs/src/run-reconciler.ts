// The database is the record of a run; Redis holds only its moving parts (the run state, the batch jobs, the event
// log). When Redis loses them (restarted without persistence, FLUSHALL, a failover that lost writes) a run would
// stay `running` forever: no job is left to run its batches, and no batch is left to end it. The reconciler
// compares every queued or running run with what Redis still holds and puts back what is missing, or ends the run
// with a reason when it cannot go on.
import { EntityManager } from '@mikro-orm/core';
import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { BATCH_QUEUE, batchJobId } from '@nso/contracts';
import { isRedisConnectionError, REDIS_CLIENT, REDIS_KEYS, RedisKeys } from '@nso/events';
import { Batch, ScanResult } from '@nso/persistence';
import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { BatchQueue, BatchScheduler, RunPlan, runPlanOf } from './batch-scheduler';
import { RunFinalizer } from './run-finalizer';
import { RebuiltRunState, RunStateStore } from './run-state.store';

/** A run younger than this is left alone: the gateway may still be creating its state and first jobs. */
export const RECONCILE_GRACE_MS = 10_000;
/** How long one process may hold a run's reconcile lock (released as soon as it is done). */
const LOCK_MS = 60_000;
/** Job states in which a batch will still run without help. */
const PENDING_JOB_STATES = new Set(['waiting', 'active', 'delayed', 'prioritized', 'waiting-children']);

const RELEASE_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`;

/**
 * What reconciling one run found and did:
 * - `intact`: Redis holds its state and a job for every batch in flight;
 * - `requeued`: batches in flight had lost their jobs and were enqueued again;
 * - `resumed`: the run state was gone; it was rebuilt from the batch rows and the missing batches enqueued;
 * - `completed`: every batch had finished; the run was ended (the finalizer decides how);
 * - `failed`: it could not be resumed and was ended with `scan_failed`;
 * - `skipped`: not active any more, too young, stopped, or another process is reconciling it.
 */
export type ReconcileOutcome = 'intact' | 'requeued' | 'resumed' | 'completed' | 'failed' | 'skipped';

/**
 * Idempotent and safe to run in several processes at once: each run is reconciled under a Redis lock (SET NX with
 * a TTL), the run state is only rebuilt when none exists (one Lua script), and batches are enqueued under their
 * fixed job ids (adding one twice is a no-op). A batch that runs again after all is harmless: its result is
 * stored and counted once (BatchResultStore, RunStateStore.finish).
 */
@Injectable()
export class RunReconciler {
  private readonly logger = new Logger(RunReconciler.name);

  constructor(
    private readonly em: EntityManager,
    private readonly state: RunStateStore,
    private readonly scheduler: BatchScheduler,
    private readonly finalizer: RunFinalizer,
    @InjectQueue(BATCH_QUEUE) private readonly queue: BatchQueue,
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    @Inject(REDIS_KEYS) private readonly keys: RedisKeys,
  ) {}

  /** Reconciles every queued or running run older than RECONCILE_GRACE_MS, oldest first. */
  async reconcileAll(): Promise<Record<ReconcileOutcome, number>> {
    const runs = await this.em.fork().find(
      ScanResult,
      {
        status: { $in: ['queued', 'running'] },
        createdAt: { $lt: new Date(Date.now() - RECONCILE_GRACE_MS) },
      },
      { fields: ['id'], orderBy: { id: 'asc' } },
    );
    const counts: Record<ReconcileOutcome, number> = {
      intact: 0,
      requeued: 0,
      resumed: 0,
      completed: 0,
      failed: 0,
      skipped: 0,
    };
    for (const run of runs) counts[await this.reconcileRun(run.id)]++;
    return counts;
  }

  /** Reconciles one run (see ReconcileOutcome). Redis errors propagate: nothing can be decided without it. */
  async reconcileRun(resultId: number): Promise<ReconcileOutcome> {
    const lock = this.keys.runReconcileLock(resultId);
    const token = randomBytes(8).toString('hex');
    if ((await this.redis.set(lock, token, 'PX', LOCK_MS, 'NX')) !== 'OK') return 'skipped';
    try {
      return await this.reconcileLocked(resultId);
    } finally {
      await this.redis.eval(RELEASE_LUA, 1, lock, token).catch(() => undefined);
    }
  }

  private async reconcileLocked(resultId: number): Promise<ReconcileOutcome> {
    const run = await this.em.fork().findOne(ScanResult, resultId);
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
    for (const seq of await this.state.inflight(resultId)) {
      if (await this.jobPending(resultId, seq)) continue;
      // Its job may have finished just now, moving the batch out of the window: then it is not lost.
      if (await this.state.isInflight(resultId, seq)) lost.push(seq);
    }
    if (lost.length === 0) return 'intact';
    await this.enqueue(plan, lost);
    this.logger.warn(
      `run ${resultId}: batches ${lost.join(', ')} had no job in the queue; enqueued them again`,
    );
    return 'requeued';
  }

  /** The run state is gone: rebuild it from the batch rows and enqueue the first window of unfinished batches. */
  private async resume(run: ScanResult, plan: RunPlan): Promise<ReconcileOutcome> {
    const rows = await this.em
      .fork()
      .find(
        Batch,
        { result: run.id, status: { $in: ['completed', 'failed'] } },
        { fields: ['seq', 'status'] },
      );
    const completed = rows.filter((row) => row.status === 'completed').map((row) => row.seq);
    const failed = rows.filter((row) => row.status === 'failed').map((row) => row.seq);
    const state = rebuiltState(run.batchesTotal, run.concurrency, completed, failed);
    try {
      if (!(await this.state.rebuild(run.id, state))) return 'skipped';
      if (state.inflight.length === 0) {
        await this.finalizer.complete(plan);
        return 'completed';
      }
      await this.enqueue(plan, state.inflight);
    } catch (error) {
      if (isRedisError(error)) throw error;
      // The run's own plan no longer cuts into batches (or the like): it cannot go on, and says why.
      const reason = `the queue state of this run was lost and it could not be resumed: ${(error as Error).message}`;
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

  /** Enqueues batches, first removing finished jobs that would make adding them under the same id a no-op. */
  private async enqueue(plan: RunPlan, seqs: number[]): Promise<void> {
    for (const seq of seqs) {
      const job = await this.queue.getJob(batchJobId(plan.resultId, seq));
      if (job && !PENDING_JOB_STATES.has(await job.getState())) await job.remove().catch(() => undefined);
    }
    await this.scheduler.enqueue(plan, seqs);
  }

  private async jobPending(resultId: number, seq: number): Promise<boolean> {
    const job = await this.queue.getJob(batchJobId(resultId, seq));
    return job !== undefined && PENDING_JOB_STATES.has(await job.getState());
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
