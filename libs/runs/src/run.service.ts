// The one owner of a run's lifecycle: start (a one-off scan, or a run of a stored scan definition by execute or
// schedule), stop, and what happens to each of its batches (started, completed, failed, stopped), which moves the
// run's window on and ends it after its last batch. Controllers and processors turn their input into these
// commands; the tables, the queue, the run state in Redis and the events are reached through small injectables.
import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@nso/config';
import { AgentTaskPushJobData, BatchSummary, ScanEventBody } from '@nso/contracts';
import { ScanEventPublisher } from '@nso/events';
import {
  definitionFlags,
  NmapArgumentPolicy,
  parseTargets,
  resolveTargets,
  ResolvedNames,
  ScanScope,
  ScopeError,
  TargetSet,
  type TargetSpec,
} from '@nso/nmap';
import {
  AgentTaskRepository,
  BatchRepository,
  BatchResultInput,
  HostResultInput,
  OPEN_AGENT_TASK_STATUSES,
  BatchStart,
  BatchStartInput,
  ClientRepository,
  type FireInput,
  RunRepository,
  RunTrigger,
  ScanRepository,
  ScanResult,
  type ScanRunner,
  safeErrorMessage,
} from '@nso/persistence';
import { BatchQueue, RunPlan, runPlanOf } from './batch-queue';
import { AgentTasks, agentWorkerId, UndeliveredBatch } from './agent-tasks';
import { ClientBatchQueues } from './client-batch-queues';
import { DelegatedBatches, delegateTargets, DelegationPart, type PartSize } from './delegation';
import { RunFinalizer } from './run-finalizer';
import { RunReconciler } from './run-reconciler';
import { RunStateStore } from './run-state.store';
import {
  AgentResultAddressesError,
  ClientRevokedError,
  AgentTaskClosedError,
  AgentTaskNotFoundError,
  NoCoveringClientError,
  QueueUnavailableError,
  RunActiveError,
} from './run.errors';

/** How a run is cut and driven: seed 000's settings. */
export interface RunSettings {
  /** Target specs as the user gave them (addresses, ranges, CIDRs, host names). */
  targets: string[];
  /** nmap options, before the policy normalises them. */
  nmapFlags: string[];
  runner: ScanRunner;
  chunkSize: number;
  concurrency: number;
}

/** POST /api/scans/start: a scan that exists for this one run. */
export interface StartOneOffCommand extends RunSettings {
  ownerId: number;
  projectId: number;
  name: string;
}

/** A new run of a stored scan definition (`GET /api/scans/{id}/execute`, or a fire of its schedule). */
export interface StartRunCommand {
  scanId: number;
  trigger: Exclude<RunTrigger, 'api-start'>;
  /** The schedule fire behind a `schedule` run: recorded with the run, once (DuplicateFireError otherwise). */
  fire?: FireInput;
}

/** An agent's results for one task, as the gateway read them from seed 003's body. */
export interface AgentResultsCommand {
  clientId: string;
  resultId: number;
  taskId: string;
  status: 'completed' | 'failed';
  /** The error an agent gave with a failed status. */
  error?: string;
  hosts: HostResultInput[];
  /** SHA-256 of what the results mean (agentResultsDigest): a retry of the same results is recognised. */
  digest: string;
}

export interface AgentResultsOutcome {
  /** An identical retry of results taken before: nothing was stored again. */
  duplicate: boolean;
  resultId: number;
  /** Addresses given to the task. */
  taskTargets: number;
}

/** Which run a batch command is about. */
export interface RunRef {
  scanId: number;
  resultId: number;
}

/** An attempt of a batch failed (nmap exited non-zero, its XML was unreadable, the batch was refused...). */
export interface BatchFailedCommand {
  batchId: number;
  /** The batch's number within its run (`batch_id` of the events). */
  seq: number;
  /** 1-based attempt number. */
  attempt: number;
  /** The last attempt: the batch counts as failed and is not retried. */
  final: boolean;
  message: string;
  exitCode: number | null;
  /** nmap's stderr ('' when there was none). */
  stderr: string;
}

export interface StartedRun {
  scanId: number;
  resultId: number;
  /** Addresses delegated to clients (the ones this run scans). */
  targetsTotal: number;
  batchesTotal: number;
  /** How many clients got at least one batch. */
  clientsTriggered: number;
  /** Addresses no client covers, as CIDRs (a single address bare): not scanned by this run. */
  unassignedTargets: string[];
}

/** One batch of a run as delegation cut it (RunService.plannedBatches). */
export interface PlannedBatch {
  /** 1-based number of the batch within its run (`batch_id` of the events). */
  seq: number;
  /** The scanner client it was delegated to. */
  clientId: string;
  /** Whether that client is an HTTP agent (the batch is pushed as a task). */
  agent: boolean;
  /** Its addresses, in scan order. */
  targets: string[];
}

/**
 * A start tried without storing or enqueueing anything (RunService.preview): what the run would scan, how it
 * would be cut and delegated, and what would keep it from starting.
 */
export interface RunPreview {
  /** The options as the policy normalised them (what nmap would get). */
  nmapFlags: string[];
  /** Each host name among the targets with the addresses it resolved to now. */
  resolvedNames: ResolvedNames;
  /** Distinct addresses of the in-scope targets. */
  addresses: number;
  /** Addresses delegated to clients (scanned). */
  targetsTotal: number;
  batchesTotal: number;
  /** The parts by client group, in batch order: their addresses (as CIDRs and counted), batches and batch size. */
  delegation: PartSize[];
  /** Clients that would get at least one batch. */
  clientsTriggered: string[];
  /** In-scope addresses no approved, online client covers (CIDRs; a single address bare). */
  unassignedTargets: string[];
  /** Target texts outside the scan scope (a start refuses them all with a 400). */
  outOfScope: string[];
  /** Why a start with these settings would be refused now (ScopeError, NoCoveringClientError), if it would. */
  refusal?: ScopeError | NoCoveringClientError;
}

/** What validation of a run's settings yields: what the run stores and how its batches are cut. */
interface PreparedRun {
  flags: string[];
  resolvedNames: ResolvedNames;
  targetsTotal: number;
  batchesTotal: number;
  delegation: DelegationPart[];
  unassignedTargets: string[];
  clientsTriggered: number;
}

@Injectable()
export class RunService {
  private readonly logger = new Logger(RunService.name);

  constructor(
    private readonly runs: RunRepository,
    private readonly batches: BatchRepository,
    private readonly scans: ScanRepository,
    private readonly policy: NmapArgumentPolicy,
    private readonly scope: ScanScope,
    private readonly state: RunStateStore,
    private readonly queue: BatchQueue,
    private readonly events: ScanEventPublisher,
    private readonly finalizer: RunFinalizer,
    private readonly reconciler: RunReconciler,
    private readonly clients: ClientRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly agents: AgentTasks,
    private readonly tasks: AgentTaskRepository,
    private readonly poolQueues: ClientBatchQueues,
  ) {}

  /**
   * Validates the settings (policy, targets, scope; host names resolved here, once), stores the scan and its
   * queued run in one transaction, and enqueues the first window of batches, each on the queue of the client it
   * is delegated to (delegateTargets). Throws NmapPolicyError, TargetError, ScopeError or NoCoveringClientError
   * (nothing stored), or QueueUnavailableError (the run is stored as failed).
   */
  async startOneOff(command: StartOneOffCommand): Promise<StartedRun> {
    const prepared = await this.prepare(command);
    const { scanId, resultId } = await this.runs.insertOneOff({
      ownerId: command.ownerId,
      projectId: command.projectId,
      name: command.name,
      targets: command.targets,
      resolvedNames: prepared.resolvedNames,
      nmapFlags: prepared.flags,
      runner: command.runner,
      chunkSize: command.chunkSize,
      concurrency: command.concurrency,
      targetsTotal: prepared.targetsTotal,
      batchesTotal: prepared.batchesTotal,
      delegation: prepared.delegation,
      unassignedTargets: prepared.unassignedTargets,
    });
    await this.enqueueFirstWindow({ scanId, resultId }, command, prepared);
    return startedRun({ scanId, resultId }, prepared);
  }

  /**
   * A new run of the stored scan `scanId` (its owner was checked by the caller). The definition's targets and
   * options are validated again (the scope or a name's address may have changed since it was saved). Throws
   * RunActiveError when the scan has a queued or running run, besides the errors of startOneOff.
   */
  async start(command: StartRunCommand): Promise<StartedRun> {
    const release = await this.state.lockScanStart(command.scanId);
    if (!release) {
      const active = await this.activeRun(command.scanId);
      throw new RunActiveError(command.scanId, active?.id ?? 0);
    }
    try {
      const scan = await this.scans.findOrFail(command.scanId);
      const active = await this.activeRun(scan.id);
      if (active) throw new RunActiveError(scan.id, active.id);
      const settings: RunSettings = {
        targets: scan.targets,
        nmapFlags: definitionFlags(scan.nmapFlags, scan.ports),
        runner: scan.runner,
        chunkSize: scan.chunkSize,
        concurrency: scan.concurrency,
      };
      const prepared = await this.prepare(settings);
      const resultId = await this.runs.insert({
        scanId: scan.id,
        trigger: command.trigger,
        targets: settings.targets,
        resolvedNames: prepared.resolvedNames,
        nmapFlags: prepared.flags,
        runner: settings.runner,
        chunkSize: settings.chunkSize,
        concurrency: settings.concurrency,
        targetsTotal: prepared.targetsTotal,
        batchesTotal: prepared.batchesTotal,
        delegation: prepared.delegation,
        unassignedTargets: prepared.unassignedTargets,
        fire: command.fire,
      });
      await this.enqueueFirstWindow({ scanId: scan.id, resultId }, settings, prepared);
      return startedRun({ scanId: scan.id, resultId }, prepared);
    } finally {
      await release();
    }
  }

  /**
   * Stops every queued or running run of the scan: no batch starts afterwards, queued batches are withdrawn,
   * running nmap processes end on every worker, each run ends `stopped` with `scan_stopped`. Returns the ids of
   * the runs it stopped (none: the scan was not running).
   */
  async stop(scanId: number): Promise<number[]> {
    const active = await this.runs.findActive(scanId);
    for (const result of active) {
      const inflight = await this.state.stop(result.id);
      await this.queue.withdraw(runPlanOf({ scanId, resultId: result.id }, result), inflight);
      await this.state.announceStop(scanId, result.id);
      await this.batches.stopAllOfRun(result.id);
      await this.agents.cancelRun(scanId, result.id);
      await this.finalizer.stop({ scanId, resultId: result.id });
    }
    return active.map((r) => r.id);
  }

  /**
   * Batches `seqs` of a stored run as its queue cuts them (BatchQueue.cutOf): the client each was delegated to
   * and its addresses, whether or not it started. A batch handed on to another client (its agent could not take
   * it, its pool was revoked) ran elsewhere: its row's worker_id says where.
   */
  plannedBatches(run: ScanResult, seqs: readonly number[]): PlannedBatch[] {
    const cut = this.queue.cutOf(runPlanOf({ scanId: run.scan.id, resultId: run.id }, run));
    return seqs.map((seq) => {
      const batch = cut.batch(seq);
      return { seq, clientId: batch.clientId, agent: batch.agent, targets: batch.targets };
    });
  }

  /**
   * A dry run of startOneOff: the same validation, name resolution, scope check and delegation, with nothing
   * stored or enqueued. A refused option or a malformed target throws as a start would (NmapPolicyError,
   * TargetError); targets outside the scope and addresses no client covers are reported instead of thrown, with
   * the plan of the rest, and `refusal` holds the error a start would throw for them.
   */
  async preview(settings: RunSettings): Promise<RunPreview> {
    const flags = this.policy.validate(settings.nmapFlags);
    let specs: TargetSpec[] = parseTargets(settings.targets);
    const outOfScope: string[] = [];
    let resolvedNames: ResolvedNames = {};
    // A name may resolve elsewhere on the second try: at most as many rounds as there are targets.
    for (let round = 0; specs.length > 0; round++) {
      try {
        resolvedNames = await resolveTargets(specs, flags, this.scope);
        break;
      } catch (error) {
        if (!(error instanceof ScopeError) || round >= settings.targets.length) throw error;
        outOfScope.push(...error.outOfScope);
        const outside = new Set(error.outOfScope);
        specs = specs.filter((spec) => !outside.has(spec.text));
      }
    }
    const set = TargetSet.build(specs, flags, resolvedNames);
    const { parts, unassigned, cut } = await this.delegate(set, settings.chunkSize);
    const uncovered = parts.length === 0 && set.count > 0;
    const outside = [...new Set(outOfScope)];
    const refusal = outside.length
      ? new ScopeError(`targets outside the scan scope: ${listTargets(outside)}`, outside)
      : uncovered
        ? new NoCoveringClientError(unassigned)
        : undefined;
    return {
      nmapFlags: flags,
      resolvedNames,
      addresses: set.count,
      targetsTotal: cut.targets,
      batchesTotal: cut.total,
      delegation: cut.partSizes(),
      clientsTriggered: cut.clientsTriggered(),
      unassignedTargets: unassigned,
      outOfScope: outside,
      ...(refusal ? { refusal } : {}),
    };
  }

  /** The scan's queued or running run, if any. */
  async activeRun(scanId: number): Promise<ScanResult | null> {
    return (await this.runs.findActive(scanId))[0] ?? null;
  }

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

  /** nmap completed a batch: its result is stored (once, whatever the retries), then counted (batchFinished). */
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

  /** Counts the batch once, tells subscribers, keeps the window full, and ends the run after its last batch. */
  private async count(ref: RunRef, seq: number, kind: 'done' | 'failed', summary?: BatchSummary) {
    const finish = await this.state.finish(ref.resultId, seq, kind);
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
      const progress: ScanEventBody = {
        event: 'progress',
        percent: Math.floor(((finish.done + finish.failed) * 100) / finish.total),
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

  private async planOf(ref: RunRef): Promise<RunPlan> {
    return runPlanOf(ref, await this.runs.findOrFail(ref.resultId));
  }

  private async prepare(settings: RunSettings): Promise<PreparedRun> {
    const flags = this.policy.validate(settings.nmapFlags);
    const specs = parseTargets(settings.targets);
    const resolvedNames = await resolveTargets(specs, flags, this.scope);
    // Each address once: overlapping targets and names resolving to listed addresses are merged.
    const set = TargetSet.build(specs, flags, resolvedNames);
    const { parts, unassigned, cut } = await this.delegate(set, settings.chunkSize);
    if (parts.length === 0) throw new NoCoveringClientError(unassigned);
    return {
      flags,
      resolvedNames,
      targetsTotal: cut.targets,
      batchesTotal: cut.total,
      delegation: parts,
      unassignedTargets: unassigned,
      clientsTriggered: cut.clientsTriggered().length,
    };
  }

  /**
   * The run's addresses split among the approved, online clients (delegateTargets) and cut into batches; parts of
   * agents only take AGENT_TASK_TARGETS addresses a batch when set.
   */
  private async delegate(set: TargetSet, chunkSize: number) {
    const clients = await this.clients.findDelegable(new Date(), this.config.clients.offlineAfterMs, [
      'pool',
      'agent',
    ]);
    const delegation = delegateTargets(set, clients);
    // Agents' tasks may hold more addresses than a pool's batch (AGENT_TASK_TARGETS), stored with the part.
    const taskTargets = this.config.clients.agentTaskTargets;
    const parts = delegation.parts.map((part) =>
      taskTargets > 0 && part.agents?.length === part.clients.length
        ? { ...part, chunkSize: taskTargets }
        : part,
    );
    return { parts, unassigned: delegation.unassigned, cut: new DelegatedBatches(set, parts, chunkSize) };
  }

  private async enqueueFirstWindow(ref: RunRef, settings: RunSettings, prepared: PreparedRun): Promise<void> {
    let undelivered: UndeliveredBatch[] = [];
    let plan: RunPlan | undefined;
    try {
      // The scan's seq counter exists before any worker publishes (see ScanEventPublisher.ensureCounter).
      await this.events.ensureCounter(ref.scanId);
      plan = {
        ...ref,
        targets: settings.targets,
        resolvedNames: prepared.resolvedNames,
        chunkSize: settings.chunkSize,
        nmapFlags: prepared.flags,
        delegation: prepared.delegation,
      };
      if (prepared.unassignedTargets.length > 0) {
        await this.events.publish(ref, {
          event: 'targets_unassigned',
          targets: prepared.unassignedTargets,
          clients_triggered: prepared.clientsTriggered,
        });
      }
      const window = await this.state.start(ref.resultId, prepared.batchesTotal, settings.concurrency);
      undelivered = await this.queue.enqueue(plan, window);
    } catch (error) {
      // Nothing half-done stays behind as "queued": the run is marked failed and the caller told to retry.
      this.logger.error(
        `could not enqueue run ${ref.resultId} of scan ${ref.scanId}: ${safeErrorMessage(error)}`,
      );
      await this.runs.fail(ref.resultId, 'could not enqueue', null);
      throw new QueueUnavailableError(error);
    }
    if (undelivered.length > 0) await this.handOn(ref, plan, undelivered);
  }

  /** Enqueues batches of a running run, handing on those an agent could not take. */
  private async enqueue(ref: RunRef, plan: RunPlan, seqs: number[]): Promise<void> {
    const undelivered = await this.queue.enqueue(plan, seqs);
    if (undelivered.length > 0) await this.handOn(ref, plan, undelivered);
  }

  /**
   * Batches their client could not take (an unreachable agent, a revoked client): each goes to another approved,
   * online client that covers all its addresses (most specific first), or fails with the reason, its addresses
   * then added to the run's unassigned_targets (and announced with targets_unassigned).
   */
  private async handOn(ref: RunRef, plan: RunPlan, undelivered: UndeliveredBatch[]): Promise<void> {
    for (const batch of undelivered) {
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
      if (!current) continue;
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
      await this.batchFailed(ref, {
        batchId,
        seq: current.seq,
        attempt: 1,
        final: true,
        message: `${current.reason}; no other approved, online client covers its targets`,
        exitCode: null,
        stderr: '',
      });
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

  /**
   * A worker's turn to push an agent's task (AGENT_TASK_PUSH_JOB, queued by AgentTasks.dispatch): a task the agent
   * cannot take goes to another approved, online client that covers it, or fails (handOn), while its run is
   * queued or running.
   */
  async agentTaskPush(job: AgentTaskPushJobData): Promise<void> {
    const undelivered = await this.agents.pushTask(job);
    if (!undelivered) return;
    const run = await this.runs.find(job.resultId);
    if (!run || (run.status !== 'queued' && run.status !== 'running')) return;
    const ref = { scanId: job.scanId, resultId: run.id };
    await this.handOn(ref, runPlanOf(ref, run), [undelivered]);
  }

  /**
   * A task's deadline passed (AGENT_TASK_TIMEOUT, a BullMQ delayed job): if it still has no results it fails,
   * and its batch counts as failed, so the run ends without it (partially). Nothing when it ended before.
   */
  async agentTaskTimedOut(taskRowId: number): Promise<void> {
    const task = await this.tasks.findById(taskRowId);
    if (!task || !OPEN_AGENT_TASK_STATUSES.includes(task.status)) return;
    const seconds = Math.round(this.config.clients.agentTaskTimeoutMs / 1000);
    const error = `agent ${task.clientId} sent no results within AGENT_TASK_TIMEOUT (${seconds} s)`;
    if (!(await this.tasks.transition(task.id, OPEN_AGENT_TASK_STATUSES, 'failed', { error }))) return;
    const ref = { scanId: task.scanId, resultId: task.result.id };
    if (task.batchId === null) return;
    await this.batchFailed(ref, {
      batchId: task.batchId,
      seq: task.seq,
      attempt: 1,
      final: true,
      message: error,
      exitCode: null,
      stderr: '',
    });
  }

  /**
   * An agent's results for one of its tasks (`POST /api/clients/{id}/results`; the caller checked the agent's
   * approval and address). Taken only for a task given to this client for this run (AgentTaskNotFoundError),
   * still waiting for results (AgentTaskClosedError; an identical retry of the accepted results is answered
   * again without storing twice), and only for the task's addresses (AgentResultAddressesError: nothing
   * stored). Results are stored in the batch's host and port rows and counted like a worker's batch.
   */
  async agentResults(command: AgentResultsCommand): Promise<AgentResultsOutcome> {
    const task = await this.tasks.findByTaskId(command.taskId);
    if (!task || task.clientId !== command.clientId || task.result.id !== command.resultId) {
      throw new AgentTaskNotFoundError();
    }
    const ref = { scanId: task.scanId, resultId: task.result.id };
    const outcome = (duplicate: boolean): AgentResultsOutcome => ({
      duplicate,
      resultId: ref.resultId,
      taskTargets: task.targets.length,
    });
    if (task.status === 'completed' && task.resultsDigest === command.digest) return outcome(true);
    if (!OPEN_AGENT_TASK_STATUSES.includes(task.status)) throw new AgentTaskClosedError(task.status);
    const given = new Set(task.targets);
    const outside = command.hosts.map((h) => h.address).filter((address) => !given.has(address));
    if (outside.length > 0) throw new AgentResultAddressesError([...new Set(outside)]);
    if (task.batchId === null) throw new AgentTaskClosedError(task.status);
    if (command.status === 'failed') {
      const error = command.error ?? `agent ${command.clientId} reported the task failed`;
      if (!(await this.tasks.transition(task.id, OPEN_AGENT_TASK_STATUSES, 'failed', { error }))) {
        throw new AgentTaskClosedError('failed');
      }
      await this.batchFailed(ref, {
        batchId: task.batchId,
        seq: task.seq,
        attempt: 1,
        final: true,
        message: error,
        exitCode: null,
        stderr: '',
      });
      return outcome(false);
    }
    const taken = await this.tasks.transition(task.id, OPEN_AGENT_TASK_STATUSES, 'completed', {
      resultsDigest: command.digest,
    });
    if (!taken) {
      // Another post of the same task got there first.
      const now = await this.tasks.findById(task.id);
      if (now?.status === 'completed' && now.resultsDigest === command.digest) return outcome(true);
      throw new AgentTaskClosedError(now?.status ?? 'gone');
    }
    try {
      await this.batchCompleted(ref, task.seq, {
        batchId: task.batchId,
        workerId: agentWorkerId(command.clientId),
        exitCode: 0,
        stderr: null,
        finishedAt: new Date(),
        hosts: command.hosts,
      });
    } catch (error) {
      // Not stored: the task goes back to its agent (running, its deadline in force), so that a retry is taken
      // rather than answered as a duplicate of results that were never stored.
      await this.tasks.release(task.id, command.digest);
      throw error;
    }
    return outcome(false);
  }

  /**
   * An admin revoked, disabled or deleted the client, or an agent moved and lost its approval (`reason` says which):
   * it gets no new work (delegation only counts approved clients), an agent's
   * open tasks fail (late results are refused), and batches waiting on a pool's queue are withdrawn. Either kind
   * of batch goes to another approved, online client that covers it, or fails with the reason.
   */
  async clientRevoked(clientId: string, reason = `client ${clientId} was revoked`): Promise<void> {
    for (const task of await this.tasks.findOpenOfClient(clientId)) {
      if (!(await this.tasks.transition(task.id, OPEN_AGENT_TASK_STATUSES, 'failed', { error: reason })))
        continue;
      const run = await this.runs.find(task.result.id);
      if (!run || (run.status !== 'queued' && run.status !== 'running')) continue;
      const ref = { scanId: task.scanId, resultId: run.id };
      await this.handOn(ref, runPlanOf(ref, run), [
        { seq: task.seq, batchId: task.batchId ?? undefined, clientId, targets: task.targets, reason },
      ]);
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
      await this.handOn(ref, runPlanOf(ref, run), [
        { seq: job.data.batchSeq, clientId, targets: job.data.targets, reason },
      ]);
    }
  }
}

/** Up to 20 targets, then how many more (as ScopeError's own message lists them). */
function listTargets(targets: string[]): string {
  return targets.slice(0, 20).join(', ') + (targets.length > 20 ? ` and ${targets.length - 20} more` : '');
}

function startedRun(ref: RunRef, prepared: PreparedRun): StartedRun {
  return {
    ...ref,
    targetsTotal: prepared.targetsTotal,
    batchesTotal: prepared.batchesTotal,
    clientsTriggered: prepared.clientsTriggered,
    unassignedTargets: prepared.unassignedTargets,
  };
}
