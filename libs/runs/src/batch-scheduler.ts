// Puts a run's batches on the shared BullMQ queue. Job ids are derived from (run, batch), so adding the same
// batch twice is a no-op and a stop can find the jobs it must withdraw.
import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@nso/config';
import { BATCH_QUEUE, BatchJobData, batchJobId } from '@nso/contracts';
import { parseTargets, sliceTargets } from '@nso/nmap';
import { Queue } from 'bullmq';

export type BatchQueue = Queue<BatchJobData, unknown, 'run-batch'>;

/** What it takes to cut a run's batches: its target list as given, and how it is chunked. */
export interface RunPlan {
  scanId: number;
  resultId: number;
  targets: string[];
  chunkSize: number;
  nmapFlags: string[];
}

@Injectable()
export class BatchScheduler {
  constructor(
    @InjectQueue(BATCH_QUEUE) private readonly queue: BatchQueue,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Cuts batches `seqs` out of the run's targets (arithmetically: a /8 is never expanded) and queues them. */
  async enqueue(run: RunPlan, seqs: number[]): Promise<void> {
    if (seqs.length === 0) return;
    const specs = parseTargets(run.targets);
    await this.queue.addBulk(
      seqs.map((batchSeq) => ({
        name: 'run-batch' as const,
        data: {
          scanId: run.scanId,
          resultId: run.resultId,
          batchSeq,
          targets: sliceTargets(specs, (batchSeq - 1) * run.chunkSize, run.chunkSize),
          nmapFlags: run.nmapFlags,
        },
        opts: {
          jobId: batchJobId(run.resultId, batchSeq),
          attempts: this.config.batchAttempts,
          backoff: { type: 'exponential', delay: 1000 },
          removeOnComplete: { count: this.config.jobRetentionCount },
          removeOnFail: { count: this.config.jobRetentionCount },
        },
      })),
    );
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
