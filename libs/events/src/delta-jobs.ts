// Hands a completed run to the delta service. Shared by the run's finalizer (worker) and the import endpoint
// (gateway), so both add the job the same way.
import { InjectQueue } from '@nestjs/bullmq';
import { Injectable } from '@nestjs/common';
import {
  DELTA_QUEUE,
  DIFF_RESULT_JOB,
  VERIFY_CHANGES_JOB,
  type DeltaJobData,
  type JobOf,
  type VerifyChangesJobData,
} from '@nso/contracts';
import type { Queue } from 'bullmq';

/** The BullMQ job id of a run's diff: one job per run, however often a caller adds it. */
export const deltaJobId = (resultId: number): string => `diff-r${resultId}`;
/** The BullMQ job id of a report's confirmation rescan: one per report. */
export const verifyJobId = (reportId: number): string => `verify-d${reportId}`;

@Injectable()
export class DeltaJobs {
  constructor(
    @InjectQueue(DELTA_QUEUE)
    private readonly queue: Queue<
      JobOf<typeof DIFF_RESULT_JOB> | JobOf<typeof VERIFY_CHANGES_JOB>,
      unknown,
      typeof DIFF_RESULT_JOB | typeof VERIFY_CHANGES_JOB
    >,
  ) {}

  /**
   * Queues DIFF_RESULT_JOB for a completed run. The job id comes from the result id, so a second add while the
   * job exists is a no-op; the delta service stores one report per (baseline, current) anyway. Retried with
   * backoff (a database or Redis blip), kept for a while after it ends so a late duplicate add is still ignored.
   */
  async enqueue(data: DeltaJobData): Promise<void> {
    await this.queue.add(DIFF_RESULT_JOB, data, {
      jobId: deltaJobId(data.resultId),
      attempts: 5,
      backoff: { type: 'exponential', delay: 1000 },
      removeOnComplete: { age: 24 * 3600, count: 10_000 },
      removeOnFail: { age: 7 * 24 * 3600 },
    });
  }

  /**
   * Queues the confirmation rescan of a report's changes, `delayMs` from now (the scan's verify_delay_seconds).
   * One job per report (job id from the report id). Retried with backoff: the scan may be running another run
   * when it is due (a rescan waits for it), and the last attempt gives the changes up as unverifiable.
   */
  async verifyLater(data: VerifyChangesJobData, delayMs: number): Promise<void> {
    await this.queue.add(VERIFY_CHANGES_JOB, data, {
      jobId: verifyJobId(data.reportId),
      delay: Math.max(0, delayMs),
      attempts: VERIFY_ATTEMPTS,
      backoff: { type: 'exponential', delay: 5000 },
      removeOnComplete: { age: 24 * 3600, count: 10_000 },
      removeOnFail: { age: 7 * 24 * 3600 },
    });
  }
}

/** Tries of a confirmation rescan's start (exponential from 5 s: about 40 minutes in all). */
export const VERIFY_ATTEMPTS = 10;
