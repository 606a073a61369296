// Puts a run's batches on the shared BullMQ queue. Job ids are derived from (run, batch), so adding the same
// batch twice is a no-op and a stop can find the jobs it must withdraw.
import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@nso/config';
import { BATCH_QUEUE, BatchJobData, batchJobId } from '@nso/contracts';
import { parseTargets, ResolvedNames, TargetSet } from '@nso/nmap';
import { Queue } from 'bullmq';

export type BatchQueue = Queue<BatchJobData, unknown, 'run-batch'>;

/**
 * What it takes to cut a run's batches: its target list as given, the addresses its host names were resolved
 * to at submission (never resolved again), its flags (`-6` picks the family) and how it is chunked.
 */
export interface RunPlan {
  scanId: number;
  resultId: number;
  targets: string[];
  resolvedNames: ResolvedNames;
  chunkSize: number;
  nmapFlags: string[];
}

/** The plan of a stored run (a ScanResult row's fields). */
export function runPlanOf(
  ref: { scanId: number; resultId: number },
  result: {
    targets: string[];
    resolvedNames: ResolvedNames | null;
    chunkSize: number;
    nmapFlags: string[];
  },
): RunPlan {
  return {
    ...ref,
    targets: result.targets,
    resolvedNames: result.resolvedNames ?? {},
    chunkSize: result.chunkSize,
    nmapFlags: result.nmapFlags,
  };
}

/**
 * Target sets of the runs this process cut batches for lately (a run enqueues a batch per finished batch); at
 * most MAX_TARGET_INTERVALS intervals each.
 */
const SET_CACHE_SIZE = 8;

@Injectable()
export class BatchScheduler {
  private readonly sets = new Map<number, TargetSet>();

  constructor(
    @InjectQueue(BATCH_QUEUE) private readonly queue: BatchQueue,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * Cuts batches `seqs` out of the run's addresses and queues them. The run's targets are normalised into
   * disjoint address intervals (TargetSet), so each address is in exactly one batch; batch k is addresses
   * (k-1)·chunkSize … k·chunkSize − 1 in ascending order, cut arithmetically (a /8 is never expanded).
   */
  async enqueue(run: RunPlan, seqs: number[]): Promise<void> {
    if (seqs.length === 0) return;
    const set = this.targetSet(run);
    await this.queue.addBulk(
      seqs.map((batchSeq) => {
        const targets = set.slice((batchSeq - 1) * run.chunkSize, run.chunkSize);
        return {
          name: 'run-batch' as const,
          data: {
            scanId: run.scanId,
            resultId: run.resultId,
            batchSeq,
            targets,
            hostnames: set.namesFor(targets),
            nmapFlags: run.nmapFlags,
          },
          opts: {
            jobId: batchJobId(run.resultId, batchSeq),
            attempts: this.config.batchAttempts,
            backoff: { type: 'exponential', delay: 1000 },
            removeOnComplete: { count: this.config.jobRetentionCount },
            removeOnFail: { count: this.config.jobRetentionCount },
          },
        };
      }),
    );
  }

  private targetSet(run: RunPlan): TargetSet {
    const cached = this.sets.get(run.resultId);
    if (cached) return cached;
    const set = TargetSet.build(parseTargets(run.targets), run.nmapFlags, run.resolvedNames);
    if (this.sets.size >= SET_CACHE_SIZE) this.sets.delete(this.sets.keys().next().value as number);
    this.sets.set(run.resultId, set);
    return set;
  }

  /** Withdraws the batches of a run that no worker has taken yet; running ones are stopped by the workers. */
  async withdraw(resultId: number, seqs: number[]): Promise<number> {
    let removed = 0;
    for (const seq of seqs) {
      const job = await this.queue.getJob(batchJobId(resultId, seq));
      if (!job) continue;
      const state = await job.getState();
      if (state === 'waiting' || state === 'delayed' || state === 'prioritized') {
        // A worker may take it between getState and remove; then the worker sees the stop flag and skips it.
        removed += await job
          .remove()
          .then(() => 1)
          .catch(() => 0);
      }
    }
    return removed;
  }
}
