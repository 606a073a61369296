// Handing batches between clients: a batch its client could not take (an unreachable agent, a revoked client)
// goes to another approved, online client that covers all its addresses, or is recorded as unassigned. What
// becomes of a batch no one takes (it fails, and is counted) is BatchOutcomes': this class never counts.
import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@nso/config';
import { ScanEventPublisher } from '@nso/events';
import { parseTargets, TargetSet } from '@nso/nmap';
import {
  AgentTaskRepository,
  BatchRepository,
  ClientRepository,
  OPEN_AGENT_TASK_STATUSES,
  RunRepository,
} from '@nso/persistence';
import { AgentTasks, UndeliveredBatch } from './agent-tasks';
import { BatchQueue, RunPlan, runPlanOf } from './batch-queue';
import { ClientBatchQueues } from './client-batch-queues';
import { delegateTargets } from './delegation';
import type { BatchFailedCommand, RunRef } from './run-commands';

/** A batch taken back from a client (BatchHandoff.takeBack), to be handed on within its run. */
export interface TakenBackBatch {
  ref: RunRef;
  plan: RunPlan;
  batch: UndeliveredBatch;
}

/** Moves batches between scanner clients (never counts one: see BatchOutcomes.handOn). */
@Injectable()
export class BatchHandoff {
  private readonly logger = new Logger(BatchHandoff.name);

  constructor(
    private readonly runs: RunRepository,
    private readonly batches: BatchRepository,
    private readonly tasks: AgentTaskRepository,
    private readonly clients: ClientRepository,
    private readonly queue: BatchQueue,
    private readonly agents: AgentTasks,
    private readonly poolQueues: ClientBatchQueues,
    private readonly events: ScanEventPublisher,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * Gives a batch its client could not take to another approved, online client that covers all its addresses
   * (most specific first; a pool gets it on its queue, an agent as a pushed task, which may fail in turn). When
   * none is left, the batch's row exists (created as `server`'s if it never started), its addresses are added to
   * the run's unassigned_targets and announced with `targets_unassigned`, and the failure to count is returned
   * (BatchOutcomes.batchFailed); undefined when the batch went elsewhere.
   */
  async place(ref: RunRef, plan: RunPlan, batch: UndeliveredBatch): Promise<BatchFailedCommand | undefined> {
    const tried = new Set([batch.clientId]);
    let current: UndeliveredBatch | undefined = batch;
    while (current) {
      const next = await this.coveringClient(plan, current.targets, tried);
      if (!next) break;
      tried.add(next.clientId);
      if (next.kind === 'pool') {
        await this.queue.enqueueTo(plan, current.seq, next.clientId);
        this.logger.log(
          `run ${ref.resultId} batch ${current.seq}: ${current.reason}; moved to ${next.clientId}`,
        );
        current = undefined;
      } else {
        const failed = await this.agents.dispatch(plan, current.seq, next.clientId, current.targets);
        current = failed ? { ...failed, reason: `${current.reason}; ${failed.reason}` } : undefined;
      }
    }
    if (!current) return undefined;
    const batchId =
      current.batchId ??
      (await this.batches.start({ ...ref, seq: current.seq, targets: current.targets, workerId: 'server' }))
        .batchId;
    const unassigned = TargetSet.build(parseTargets(current.targets), plan.nmapFlags, {}).toCidrs();
    await this.runs.addUnassigned(ref.resultId, unassigned);
    await this.events.publish(ref, {
      event: 'targets_unassigned',
      targets: unassigned,
      clients_triggered: 0,
    });
    return {
      batchId,
      seq: current.seq,
      attempt: 1,
      final: true,
      message: `${current.reason}; no other approved, online client covers its targets`,
      exitCode: null,
      stderr: '',
    };
  }

  /**
   * Takes a revoked client's work back, one batch at a time as the caller hands each on: an agent's open tasks
   * fail with `reason` (late results are refused), and the batches waiting on a pool's queue are withdrawn (a
   * job a worker took meanwhile runs there). Yields those of runs still queued or running.
   */
  async *takeBack(clientId: string, reason: string): AsyncGenerator<TakenBackBatch> {
    for (const task of await this.tasks.findOpenOfClient(clientId)) {
      if (!(await this.tasks.transition(task.id, OPEN_AGENT_TASK_STATUSES, 'failed', { error: reason })))
        continue;
      const run = await this.runs.find(task.result.id);
      if (!run || (run.status !== 'queued' && run.status !== 'running')) continue;
      const ref = { scanId: task.scanId, resultId: run.id };
      const batch = {
        seq: task.seq,
        batchId: task.batchId ?? undefined,
        clientId,
        targets: task.targets,
        reason,
      };
      yield { ref, plan: runPlanOf(ref, run), batch };
    }
    const queue = this.poolQueues.queue(clientId);
    for (const job of await queue.getJobs(['waiting', 'delayed', 'prioritized'])) {
      const removed = await job
        .remove()
        .then(() => true)
        .catch(() => false); // taken by a worker meanwhile: it runs there
      if (!removed) continue;
      const run = await this.runs.find(job.data.resultId);
      if (!run || (run.status !== 'queued' && run.status !== 'running')) continue;
      const ref = { scanId: job.data.scanId, resultId: run.id };
      const batch = { seq: job.data.batchSeq, clientId, targets: job.data.targets, reason };
      yield { ref, plan: runPlanOf(ref, run), batch };
    }
  }

  /** An approved, online client other than `tried` that covers every address, the most specific first. */
  private async coveringClient(plan: RunPlan, targets: string[], tried: ReadonlySet<string>) {
    const all = await this.clients.findDelegable(new Date(), this.config.clients.offlineAfterMs, [
      'pool',
      'agent',
    ]);
    const others = all.filter((c) => !tried.has(c.clientId));
    const set = TargetSet.build(parseTargets(targets), plan.nmapFlags, {});
    const { parts, unassigned } = delegateTargets(set, others);
    if (unassigned.length > 0 || parts.length !== 1) return undefined;
    const clientId = parts[0].clients[0];
    return { clientId, kind: parts[0].agents?.includes(clientId) ? ('agent' as const) : ('pool' as const) };
  }
}
