// The one owner of a run's lifecycle, and the door apps knock at: it starts runs (a one-off scan, a run of a
// stored scan definition by execute or schedule, an imported nmap XML file), stops them, and takes every other
// command of a run's domain, handing each to the collaborator of its concern — BatchOutcomes (what happens to
// each batch), BatchHandoff (batches moving between clients), AgentTaskIntake (what comes back from agents).
// Controllers and processors turn their input into these commands.
import { Injectable, Logger } from '@nestjs/common';
import { AgentTaskPushJobData, BatchSummary } from '@nso/contracts';
import { DeltaJobs, ScanEventPublisher } from '@nso/events';
import { definitionFlags, NmapPolicyError, validateNmapFlags } from '@nso/nmap';
import {
  BatchRepository,
  BatchResultInput,
  BatchStart,
  BatchStartInput,
  type FireInput,
  RunRepository,
  ScanRepository,
  ScanResult,
  safeErrorMessage,
  type StoreBatchResultOutcome,
} from '@nso/persistence';
import { AgentTaskIntake } from './agent-task-intake';
import { LEGACY_POOL } from './delegation';
import { AgentTasks, UndeliveredBatch } from './agent-tasks';
import { BatchHandoff } from './batch-handoff';
import { BatchOutcomes } from './batch-outcomes';
import { BatchQueue, RunPlan, runPlanOf } from './batch-queue';
import type {
  AgentResultsCommand,
  AgentResultsOutcome,
  BatchFailedCommand,
  ImportedRun,
  ImportRunCommand,
  PlannedBatch,
  RunPreview,
  RunRef,
  RunSettings,
  StartedRun,
  StartOneOffCommand,
  StartRunCommand,
  StartVerificationCommand,
} from './run-commands';
import { RunFinalizer } from './run-finalizer';
import { PreparedRun, RunPlanner } from './run-planner';
import { RunProgressStore } from './run-progress.store';
import { RunStateStore } from './run-state.store';
import { ImportStoppedError, QueueUnavailableError, RunActiveError } from './run.errors';

/** The worker_id of an imported run's batch. */
export const IMPORT_WORKER_ID = 'import';

/**
 * Every command of a run's domain (see the top of this file): the starts, the stop and the import are its own;
 * the rest it hands to the collaborator of their concern, so that apps depend on this one class.
 */
@Injectable()
export class RunService {
  private readonly logger = new Logger(RunService.name);

  constructor(
    private readonly runs: RunRepository,
    private readonly batches: BatchRepository,
    private readonly scans: ScanRepository,
    private readonly planner: RunPlanner,
    private readonly state: RunStateStore,
    private readonly queue: BatchQueue,
    private readonly events: ScanEventPublisher,
    private readonly finalizer: RunFinalizer,
    private readonly agents: AgentTasks,
    private readonly deltaJobs: DeltaJobs,
    private readonly outcomes: BatchOutcomes,
    private readonly handoff: BatchHandoff,
    private readonly intake: AgentTaskIntake,
    private readonly progress: RunProgressStore,
  ) {}

  /**
   * Validates the settings (policy, targets, scope; host names resolved here, once), stores the scan and its
   * queued run in one transaction, and enqueues the first window of batches, each on the queue of the client it
   * is delegated to (delegateTargets). Throws NmapPolicyError, TargetError, ScopeError or NoCoveringClientError
   * (nothing stored), or QueueUnavailableError (the run is stored as failed).
   */
  async startOneOff(command: StartOneOffCommand): Promise<StartedRun> {
    const prepared = await this.planner.prepare(command);
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
    return this.startOfScan(command.scanId, false, async () => {
      const scan = await this.scans.findOrFail(command.scanId);
      const settings: RunSettings = {
        targets: scan.targets,
        nmapFlags: definitionFlags(scan.nmapFlags, scan.ports),
        runner: scan.runner,
        chunkSize: scan.chunkSize,
        concurrency: scan.concurrency,
      };
      return { settings, trigger: command.trigger, fire: command.fire };
    });
  }

  /**
   * A confirmation rescan (trigger `verify`) of the scan: the command's targets and options, validated, scoped and
   * delegated as any run but only to the clients that scanned the confirmed run (NmapPolicyError, TargetError,
   * ScopeError, NoCoveringClientError when none of them is online: nothing started), cut with the confirmed run's
   * runner, chunk size and concurrency. It waits for every other run of the scan: RunActiveError when the scan has
   * a queued or running run (the caller tries again later). A run of the scan started while it runs does not wait
   * for it (a rescan is the system's own business: an execute or a scheduled fire is never refused for it).
   */
  async startVerification(command: StartVerificationCommand): Promise<StartedRun> {
    return this.startOfScan(command.scanId, true, async () => {
      const confirmed = await this.runs.findOrFail(command.resultId);
      const settings: RunSettings = {
        targets: command.targets,
        nmapFlags: command.nmapFlags,
        runner: confirmed.runner,
        chunkSize: confirmed.chunkSize,
        concurrency: confirmed.concurrency,
        // Through the clients that scanned the run (a run stored before delegation was the local pool's).
        clientIds: confirmed.delegation?.flatMap((part) => part.clients) ?? [LEGACY_POOL],
      };
      return { settings, trigger: 'verify' as const };
    });
  }

  /**
   * A run of stored scan `scanId` under the scan's start lock: refused with RunActiveError while another run of it
   * is active (activeRun: a rescan counts only for a `verification`), then `plan`'s settings are prepared (the
   * planner's errors propagate), the run stored with its trigger (and schedule fire) and its first window of
   * batches enqueued.
   */
  private async startOfScan(
    scanId: number,
    verification: boolean,
    plan: () => Promise<{ settings: RunSettings; trigger: StartRunCommand['trigger']; fire?: FireInput }>,
  ): Promise<StartedRun> {
    const release = await this.state.lockScanStart(scanId);
    if (!release) {
      const active = await this.activeRun(scanId, verification);
      throw new RunActiveError(scanId, active?.id ?? 0);
    }
    try {
      const active = await this.activeRun(scanId, verification);
      if (active) throw new RunActiveError(scanId, active.id);
      const { settings, trigger, fire } = await plan();
      const prepared = await this.planner.prepare(settings);
      const resultId = await this.runs.insert({
        scanId,
        trigger,
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
        fire,
      });
      await this.enqueueFirstWindow({ scanId, resultId }, settings, prepared);
      return startedRun({ scanId, resultId }, prepared);
    } finally {
      await release();
    }
  }

  /**
   * Stops every queued or running run of the scan: no batch starts afterwards, queued batches are withdrawn,
   * running nmap processes end on every worker, each run ends `stopped` with `scan_stopped`. A batch in flight
   * whose result was stored before its row was stopped, but which the stopped run no longer counted, gets its
   * `batch_complete` here, before `scan_stopped`: every batch the run's counters hold is announced once. Returns
   * the ids of the runs it stopped (none: the scan was not running).
   */
  async stop(scanId: number): Promise<number[]> {
    const active = await this.runs.findActive(scanId);
    for (const result of active) {
      const ref = { scanId, resultId: result.id };
      const inflight = await this.state.stop(result.id);
      await this.queue.withdraw(runPlanOf(ref, result), inflight);
      await this.state.announceStop(scanId, result.id);
      // From here no result is stored (BatchRepository.storeResult claims only pending and running batches),
      // and no batch of the run is counted any more (RunStateStore.finish: the run is stopped), so the in-flight
      // batches completed now are exactly those stored but never announced.
      await this.batches.stopAllOfRun(result.id);
      const unannounced = await this.batches.completedAmong(result.id, inflight);
      if (unannounced.length > 0) {
        await this.events.publishMany(
          ref,
          unannounced.map((batch) => ({
            event: 'batch_complete' as const,
            batch_id: batch.seq,
            summary: { hosts_up: batch.hostsUp, open_ports: batch.openPorts },
          })),
        );
      }
      await this.agents.cancelRun(scanId, result.id);
      await this.finalizer.stop({ scanId, resultId: result.id });
    }
    return active.map((r) => r.id);
  }

  /**
   * Batches `seqs` of a stored run as its queue cuts them (BatchQueue.cutOf): the client each was delegated to
   * and its addresses, whether or not it started. A batch handed on to another client (its agent could not take
   * it, its pool was revoked) ran elsewhere: its row's worker_id says where. Batches split off a straggler
   * (numbered above the plan) are left out.
   */
  plannedBatches(run: ScanResult, seqs: readonly number[]): PlannedBatch[] {
    const cut = this.queue.cutOf(runPlanOf({ scanId: run.scan.id, resultId: run.id }, run));
    // A batch split off a straggler (batch-split.ts) was not cut from the plan: its row says all there is.
    return seqs
      .filter((seq) => seq <= cut.total)
      .map((seq) => {
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
  preview(settings: RunSettings): Promise<RunPreview> {
    return this.planner.preview(settings);
  }

  /**
   * The scan's queued or running run, if any — one a new run waits for: a confirmation rescan (trigger `verify`)
   * only counts for `verification` (another rescan waits for it; a run of the scan does not).
   */
  async activeRun(scanId: number, verification = false): Promise<ScanResult | null> {
    const active = await this.runs.findActive(scanId);
    return (verification ? active[0] : active.find((run) => run.trigger !== 'verify')) ?? null;
  }

  /**
   * Stores an nmap XML file as a completed run of the stored scan (trigger `import`) and queues its diff, like
   * any completed run. The run is made like any other and moves through the same conditional updates: stored
   * queued (RunRepository.insertImported, the scan's own runner), started by its one batch (worker_id `import`),
   * the batch's result stored from its pieces in one transaction as they come (BatchRepository.storeResultInPieces:
   * ResultValueError for values no column holds), with the file's facts once its pieces ended — its targets, its
   * options (without the file's, the scan's as a run of it stores them: scanRunFlags) and its start and finish
   * times —, and completed at the file's finish time. No scan event or notification goes out: nothing ran. When
   * any step fails (the pieces' own errors included: a file refused after its first pieces were stored, or a stop
   * of the scan that ended the run meanwhile) the run's rows are deleted and the error thrown. Throws the scan
   * repository's not-found error for an unknown scan (the caller checked its owner).
   */
  async importRun(command: ImportRunCommand): Promise<ImportedRun> {
    const scan = await this.scans.findOrFail(command.scanId);
    const scanFlags = scanRunFlags(scan);
    // Targets, options and times are the file's facts, known at its end: written then, in the store's transaction.
    const resultId = await this.runs.insertImported({
      scanId: scan.id,
      runner: scan.runner,
      nmapFlags: scanFlags,
      targets: [],
    });
    const datedAt = command.datedAt ?? new Date();
    let finishedAt = datedAt;
    let stored: StoreBatchResultOutcome;
    try {
      const start = { resultId, seq: 1, targets: [], workerId: IMPORT_WORKER_ID, startedAt: datedAt };
      const { batchId } = await this.batches.start(start);
      stored = await this.batches.storeResultInPieces({
        batchId,
        workerId: IMPORT_WORKER_ID,
        exitCode: 0,
        stderr: null,
        finishedAt: datedAt,
        hosts: command.hosts,
        facts: async () => {
          const facts = await command.facts();
          finishedAt = facts.finishedAt;
          return { ...facts, nmapFlags: facts.nmapFlags ?? scanFlags };
        },
      });
      if (!(await this.runs.complete(resultId, finishedAt))) {
        throw new ImportStoppedError(scan.id, resultId);
      }
    } catch (error) {
      // Nothing half-imported stays behind: the run's rows go with it.
      await this.runs.remove(resultId);
      throw error;
    }
    await this.deltaJobs.enqueue({ scanId: scan.id, resultId });
    return { resultId, hostsUp: stored.hostsUp, openPorts: stored.openPorts };
  }

  // The batch commands: BatchOutcomes'.

  /** A worker took a batch's job (BatchOutcomes.startBatch). */
  startBatch(input: BatchStartInput): Promise<BatchStart> {
    return this.outcomes.startBatch(input);
  }

  /** The batch's nmap was ended by a stop (BatchOutcomes.batchStopped). */
  batchStopped(batchId: number): Promise<void> {
    return this.outcomes.batchStopped(batchId);
  }

  /** nmap completed a batch: stored once, then counted (BatchOutcomes.batchCompleted; ClientRevokedError). */
  batchCompleted(ref: RunRef, seq: number, result: BatchResultInput, pool?: string): Promise<void> {
    return this.outcomes.batchCompleted(ref, seq, result, pool);
  }

  /** A batch whose result is stored finished: counted once (BatchOutcomes.batchFinished). */
  batchFinished(ref: RunRef, seq: number, summary: BatchSummary): Promise<void> {
    return this.outcomes.batchFinished(ref, seq, summary);
  }

  /** An attempt of a batch failed; a last one is counted (BatchOutcomes.batchFailed). */
  batchFailed(ref: RunRef, failure: BatchFailedCommand): Promise<void> {
    return this.outcomes.batchFailed(ref, failure);
  }

  // What comes back from agents' tasks: AgentTaskIntake's.

  /** A worker's turn to push an agent's task (AgentTaskIntake.agentTaskPush). */
  agentTaskPush(job: AgentTaskPushJobData): Promise<void> {
    return this.intake.agentTaskPush(job);
  }

  /** A task's deadline passed (AgentTaskIntake.agentTaskTimedOut). */
  agentTaskTimedOut(taskRowId: number): Promise<void> {
    return this.intake.agentTaskTimedOut(taskRowId);
  }

  /**
   * An agent's results for one of its tasks (AgentTaskIntake.agentResults): AgentTaskNotFoundError,
   * AgentTaskClosedError, AgentResultAddressesError, or the outcome.
   */
  agentResults(command: AgentResultsCommand): Promise<AgentResultsOutcome> {
    return this.intake.agentResults(command);
  }

  /**
   * An admin revoked, disabled or deleted the client, or an agent moved and lost its approval (`reason` says which):
   * it gets no new work (delegation only counts approved clients), an agent's open tasks fail (late results are
   * refused), and batches waiting on a pool's queue are withdrawn (BatchHandoff.takeBack). Either kind of batch
   * goes to another approved, online client that covers it, or fails with the reason (BatchOutcomes.handOn).
   */
  async clientRevoked(clientId: string, reason = `client ${clientId} was revoked`): Promise<void> {
    for await (const taken of this.handoff.takeBack(clientId, reason)) {
      await this.outcomes.handOn(taken.ref, taken.plan, [taken.batch]);
    }
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
      // The run's address count and start, for the hosts and the ETA of its progress (RunProgressStore).
      await this.progress.begin(ref.resultId, prepared.targetsTotal);
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
    if (undelivered.length > 0) await this.outcomes.handOn(ref, plan, undelivered);
  }
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

/**
 * The options a run of the stored scan stores (RunService.start): its scan_arguments with its ports (`-p`), in
 * the policy's normal form; as written when the policy refuses them now (its rules changed since it was saved).
 */
function scanRunFlags(scan: { nmapFlags: string[]; ports?: string | null }): string[] {
  const flags = definitionFlags(scan.nmapFlags, scan.ports);
  try {
    return validateNmapFlags(flags);
  } catch (error) {
    if (error instanceof NmapPolicyError) return flags;
    throw error;
  }
}
