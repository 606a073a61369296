// The producer side of the worker pools' batch queues: puts each batch of a run on the queue of the pool it is
// delegated to, withdraws them, and tells whether one is still pending. Job ids are derived from (run, batch), so
// adding the same batch twice is a no-op and a stop can find the jobs it must withdraw.
import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@nso/config';
import { BATCH_JOB, batchJobId } from '@nso/contracts';
import { parseTargets, ResolvedNames, TargetSet } from '@nso/nmap';
import { BatchSplitRepository } from '@nso/persistence';
import { AgentTasks, UndeliveredBatch } from './agent-tasks';
import { ClientBatchQueues } from './client-batch-queues';
import { DelegatedBatches, DelegationPart } from './delegation';
import { RunStateStore } from './run-state.store';

export type { BatchBullQueue } from './client-batch-queues';

/** One job as addBulk takes it. */
type BatchJob = Parameters<ReturnType<ClientBatchQueues['queue']>['addBulk']>[0][number];

/** Job states in which a batch will still run without help. */
const PENDING_JOB_STATES = new Set(['waiting', 'active', 'delayed', 'prioritized', 'waiting-children']);

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
  /** Which clients scan which addresses (delegation.ts); null for a run stored before delegation. */
  delegation: DelegationPart[] | null;
}

/** The plan of a stored run (a ScanResult row's fields). */
export function runPlanOf(
  ref: { scanId: number; resultId: number },
  result: {
    targets: string[];
    resolvedNames: ResolvedNames | null;
    chunkSize: number;
    nmapFlags: string[];
    delegation?: DelegationPart[] | null;
  },
): RunPlan {
  return {
    ...ref,
    targets: result.targets,
    resolvedNames: result.resolvedNames ?? {},
    chunkSize: result.chunkSize,
    nmapFlags: result.nmapFlags,
    delegation: result.delegation ?? null,
  };
}

/**
 * Batch cuts of the runs this process enqueued batches for lately (a run enqueues a batch per finished batch); at
 * most MAX_TARGET_INTERVALS intervals each.
 */
const CUT_CACHE_SIZE = 8;

@Injectable()
export class BatchQueue {
  private readonly cuts = new Map<number, DelegatedBatches>();

  constructor(
    private readonly queues: ClientBatchQueues,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly agents: AgentTasks,
    private readonly state: RunStateStore,
    private readonly splits: BatchSplitRepository,
  ) {}

  /**
   * Cuts batches `seqs` out of the run's addresses and queues each on the queue of the worker pool it is
   * delegated to, or pushes it to its HTTP agent as a task (AgentTasks). The run's targets are normalised into
   * disjoint address intervals (TargetSet) and split by its delegation into parts cut one after the other
   * (DelegatedBatches), so each address is in exactly one batch, cut arithmetically (a /8 is never expanded).
   * Returns the batches an agent could not take: the caller hands them on (RunService).
   */
  async enqueue(run: RunPlan, seqs: number[]): Promise<UndeliveredBatch[]> {
    if (seqs.length === 0) return [];
    const cut = this.cutOf(run);
    const byClient = new Map<string, BatchJob[]>();
    const undelivered: UndeliveredBatch[] = [];
    for (const batchSeq of seqs) {
      if (batchSeq > cut.total) {
        // A batch split off a straggler (batch-split.ts): its addresses are its row's, its pool the one it ran on.
        const targets = await this.splitTargets(run, batchSeq);
        const clientId = (await this.state.movedTo(run.resultId, batchSeq)) ?? cut.clientOf(cut.total);
        byClient.set(clientId, [...(byClient.get(clientId) ?? []), this.job(run, batchSeq, targets)]);
        continue;
      }
      const batch = cut.batch(batchSeq);
      const moved = await this.state.movedTo(run.resultId, batchSeq);
      if (moved === undefined && batch.agent) {
        const failed = await this.agents.dispatch(run, batchSeq, batch.clientId, batch.targets);
        if (failed) undelivered.push(failed);
        continue;
      }
      const clientId = moved ?? batch.clientId;
      byClient.set(clientId, [...(byClient.get(clientId) ?? []), this.job(run, batchSeq, batch)]);
    }
    for (const [clientId, jobs] of byClient) await this.queues.queue(clientId).addBulk(jobs);
    return undelivered;
  }

  /**
   * Queues batch `seq` on worker pool `clientId`'s queue, whatever the run's delegation says, and remembers the
   * move (its agent could not take it, or its pool was revoked).
   */
  async enqueueTo(run: RunPlan, seq: number, clientId: string): Promise<void> {
    await this.state.moveBatch(run.resultId, seq, clientId);
    const cut = this.cutOf(run);
    const batch = seq > cut.total ? await this.splitTargets(run, seq) : cut.batch(seq);
    await this.queues.queue(clientId).addBulk([this.job(run, seq, batch)]);
  }

  /**
   * Queues batch `seq`, split off a straggler (BatchSplitter), on pool `clientId`'s queue with its own addresses
   * and the names the user gave for them; its number is above the run's planned batches (BatchQueue.cutOf).
   */
  async enqueueSplit(
    run: RunPlan,
    seq: number,
    clientId: string,
    targets: string[],
    hostnames: Record<string, string[]>,
  ): Promise<void> {
    await this.queues.queue(clientId).addBulk([this.job(run, seq, { targets, hostnames })]);
  }

  /** A split batch's addresses as its row holds them, with the names the user gave for them. */
  private async splitTargets(run: RunPlan, seq: number) {
    const targets = await this.splits.targetsOf(run.resultId, seq);
    if (!targets) throw new Error(`batch ${seq} of run ${run.resultId} is beyond its plan and has no row`);
    const set = TargetSet.build(parseTargets(run.targets), run.nmapFlags, run.resolvedNames);
    return { targets, hostnames: set.namesFor(targets) };
  }

  private job(
    run: RunPlan,
    batchSeq: number,
    batch: { targets: string[]; hostnames: Record<string, string[]> },
  ) {
    return {
      name: BATCH_JOB,
      data: {
        scanId: run.scanId,
        resultId: run.resultId,
        batchSeq,
        targets: batch.targets,
        hostnames: batch.hostnames,
        nmapFlags: run.nmapFlags,
      },
      opts: {
        jobId: batchJobId(run.resultId, batchSeq),
        attempts: this.config.batchAttempts,
        backoff: { type: 'exponential', delay: 1000 },
        removeOnComplete: { count: this.config.jobRetentionCount },
        removeOnFail: { count: this.config.jobRetentionCount },
      },
    } satisfies BatchJob;
  }

  /** The run's batches as cut by its delegation (batch count, client and addresses of each). */
  cutOf(run: RunPlan): DelegatedBatches {
    const cached = this.cuts.get(run.resultId);
    if (cached) return cached;
    const set = TargetSet.build(parseTargets(run.targets), run.nmapFlags, run.resolvedNames);
    const cut = new DelegatedBatches(set, run.delegation, run.chunkSize);
    if (this.cuts.size >= CUT_CACHE_SIZE) this.cuts.delete(this.cuts.keys().next().value as number);
    this.cuts.set(run.resultId, cut);
    return cut;
  }

  /** Withdraws the batches of a run that no worker has taken yet; running ones are stopped by the workers. */
  async withdraw(run: RunPlan, seqs: number[]): Promise<number> {
    let removed = 0;
    for (const seq of seqs) {
      const job = await this.jobOf(run, seq);
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

  /**
   * Enqueues batches again (the reconciler found them lost), first removing finished jobs of the same ids that
   * would make adding them a no-op.
   */
  async requeue(run: RunPlan, seqs: number[]): Promise<void> {
    for (const seq of seqs) {
      const job = await this.jobOf(run, seq);
      if (job && !PENDING_JOB_STATES.has(await job.getState())) await job.remove().catch(() => undefined);
    }
    await this.enqueue(run, seqs);
  }

  /**
   * Whether the batch's job is still to run, or running: waiting, active, delayed or prioritized; for a batch
   * with an HTTP agent, whether its task still waits for results.
   */
  async isPending(run: RunPlan, seq: number): Promise<boolean> {
    const moved = await this.state.movedTo(run.resultId, seq);
    if (moved === undefined && this.isPlannedAgentBatch(run, seq))
      return this.agents.isOpen(run.resultId, seq);
    const job = await this.jobOf(run, seq);
    return job !== undefined && PENDING_JOB_STATES.has(await job.getState());
  }

  /** The batch's job on the queue of the pool it went to (undefined for an agent's batch: it has no job). */
  private async jobOf(run: RunPlan, seq: number) {
    const moved = await this.state.movedTo(run.resultId, seq);
    if (moved === undefined && this.isPlannedAgentBatch(run, seq)) return undefined;
    const cut = this.cutOf(run);
    const clientId = moved ?? cut.clientOf(Math.min(seq, cut.total));
    return this.queues.queue(clientId).getJob(batchJobId(run.resultId, seq));
  }

  /** Whether planned batch `seq` is an agent's (a batch split off a straggler never is: it ran on a pool). */
  private isPlannedAgentBatch(run: RunPlan, seq: number): boolean {
    const cut = this.cutOf(run);
    return seq <= cut.total && cut.isAgentBatch(seq);
  }
}
