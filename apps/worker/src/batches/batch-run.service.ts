import { EntityManager } from '@mikro-orm/core';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@nso/config';
import { BatchJobData, ScanEventBody } from '@nso/contracts';
import { ScanEventPublisher } from '@nso/events';
import {
  NMAP_RUNNER,
  NmapArgumentPolicy,
  NmapRunner,
  NmapXmlError,
  parseNmapXml,
  parseTargets,
  ScanScope,
  ScopeError,
  TargetError,
  withUserHostnames,
} from '@nso/nmap';
import { Batch, BatchResultStore, markBatchFailed, ScanResult, startBatch } from '@nso/persistence';
import { BatchScheduler, RunFinalizer, RunPlan, runPlanOf, RunReconciler, RunStateStore } from '@nso/runs';
import { Job, UnrecoverableError } from 'bullmq';

type RunRef = { scanId: number; resultId: number };

/** At most this many `line` events in one publish: keeps each Lua call and pub/sub message short. */
const LINES_PER_PUBLISH = 256;

/** Why a batch's nmap run did not produce a result. */
class BatchAttemptError extends Error {
  constructor(
    message: string,
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(message);
  }
}

/**
 * Runs one batch: nmap over one chunk of a run's targets, its stdout streamed as `line` events, its XML stored
 * once, then the run's window moved on. Failures are rethrown so BullMQ retries the batch.
 */
@Injectable()
export class BatchRunService {
  private readonly logger = new Logger(BatchRunService.name);
  /** nmap processes of this worker, by run, so a stop can end them. */
  private readonly running = new Map<number, Set<AbortController>>();

  constructor(
    private readonly em: EntityManager,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(NMAP_RUNNER) private readonly nmap: NmapRunner,
    private readonly policy: NmapArgumentPolicy,
    private readonly scope: ScanScope,
    private readonly events: ScanEventPublisher,
    private readonly state: RunStateStore,
    private readonly scheduler: BatchScheduler,
    private readonly finalizer: RunFinalizer,
    private readonly reconciler: RunReconciler,
  ) {}

  cancelRun(resultId: number): void {
    for (const controller of this.running.get(resultId) ?? []) controller.abort();
  }

  async run(job: Job<BatchJobData>): Promise<void> {
    const { scanId, resultId, batchSeq, targets } = job.data;
    const ref: RunRef = { scanId, resultId };
    if (await this.state.isStopped(resultId)) return;
    const attempt = job.attemptsMade + 1;
    const lastAttempt = attempt >= (job.opts.attempts ?? 1);
    const start = { resultId, seq: batchSeq, targets, workerId: this.config.workerId };

    // The gateway checked policy and scope; a worker never trusts a job blindly. A batch holds addresses only
    // (names were resolved once, at submission), so this check resolves nothing and nmap resolves nothing.
    let flags: string[];
    try {
      const specs = parseTargets(targets);
      const names = specs.filter((spec) => spec.kind === 'hostname').map((spec) => spec.text);
      if (names.length > 0) {
        throw new TargetError(
          `batch holds host names (${names.join(', ')}); nmap is given addresses only`,
          names,
        );
      }
      await this.scope.checkSpecs(specs);
      flags = this.policy.validate(job.data.nmapFlags);
    } catch (error) {
      const { batchId } = await startBatch(this.em, start);
      await this.fail(ref, batchId, batchSeq, attempt, true, error);
      throw new UnrecoverableError((error as Error).message);
    }

    // nmap starts at once; the batch's row is written while it runs. batch_start is sent first on the
    // connection that carries the line events, so it comes before them.
    const published = this.events.publish(ref, {
      event: 'batch_start',
      batch_id: batchSeq,
      targets,
      attempt,
      worker: this.config.workerId,
    });
    const controller = new AbortController();
    const scanning = this.runNmap(ref, batchSeq, flags, targets, job.data.hostnames ?? {}, controller);
    scanning.catch(() => undefined); // awaited below; this only keeps an early failure from going unhandled
    const batch = await startBatch(this.em, start);
    // A stop that came before this process registered its nmap process is caught here.
    if (!batch.runnable || (await this.state.isStopped(resultId))) {
      controller.abort();
      await scanning.catch(() => undefined);
      // An earlier attempt stored the result and died before moving the run on.
      if (!batch.runnable && batch.status === 'completed') {
        return this.account(ref, batchSeq, 'done', { hosts_up: batch.hostsUp, open_ports: batch.openPorts });
      }
      if (!batch.runnable) return;
    }

    try {
      await published;
      const outcome = await scanning;
      if (outcome === 'stopped') {
        await this.em
          .fork()
          .nativeUpdate(Batch, { id: batch.batchId }, { status: 'stopped', finishedAt: new Date() });
        return;
      }
      const stored = await new BatchResultStore(this.em).storeBatchResult({
        batchId: batch.batchId,
        workerId: this.config.workerId,
        exitCode: outcome.exitCode,
        stderr: outcome.stderr || null,
        finishedAt: new Date(),
        hosts: outcome.hosts,
      });
      await this.account(ref, batchSeq, 'done', { hosts_up: stored.hostsUp, open_ports: stored.openPorts });
    } catch (error) {
      await this.fail(ref, batch.batchId, batchSeq, attempt, lastAttempt, error);
      throw error;
    }
  }

  /** Records a failed attempt and tells subscribers; the last attempt counts the batch as failed. */
  private async fail(
    ref: RunRef,
    batchId: number,
    batchSeq: number,
    attempt: number,
    final: boolean,
    error: unknown,
  ): Promise<void> {
    const failure = this.describeFailure(error);
    const record = { exitCode: failure.exitCode, stderr: failure.stderr || failure.message };
    if (final) await markBatchFailed(this.em.fork(), batchId, record);
    else await this.em.fork().nativeUpdate(Batch, { id: batchId }, record);
    await this.events.publish(ref, {
      event: 'batch_failed',
      batch_id: batchSeq,
      error: failure.message,
      exit_code: failure.exitCode,
      stderr: failure.stderr,
      attempt,
      will_retry: !final,
    });
    if (final) await this.account(ref, batchSeq, 'failed');
  }

  private async runNmap(
    ref: RunRef,
    batchSeq: number,
    flags: string[],
    targets: string[],
    userNames: Record<string, string[]>,
    controller: AbortController,
  ) {
    const mine = this.running.get(ref.resultId) ?? new Set<AbortController>();
    this.running.set(ref.resultId, mine.add(controller));
    const published: Promise<unknown>[] = [];
    // The lines of one stdout read arrive together; they go out as one publish (one round trip, consecutive
    // seqs) at the end of that read, so nothing waits for a timer. Published without waiting: one connection
    // sends them in order, and order within a batch is the point.
    let lines: ScanEventBody[] = [];
    const flush = () => {
      if (lines.length === 0) return;
      published.push(this.events.publishMany(ref, lines));
      lines = [];
    };
    try {
      const run = await this.nmap.run({
        nmapPath: this.config.nmapPath,
        flags,
        targets,
        signal: controller.signal,
        killGraceMs: 1000,
        onLine: (line) => {
          if (controller.signal.aborted) return;
          if (lines.length === 0) queueMicrotask(flush);
          lines.push({ event: 'line', batch_id: batchSeq, line });
          if (lines.length >= LINES_PER_PUBLISH) flush();
        },
      });
      flush();
      await Promise.all(published);
      if (run.cancelled) return 'stopped' as const;
      if (run.exitCode !== 0) {
        throw new BatchAttemptError(
          `nmap exited with code ${run.exitCode ?? run.signal}`,
          run.exitCode,
          run.stderr,
        );
      }
      const parsed = await parseNmapXml(run.xml);
      // nmap saw addresses only: the names the user gave come back as the hosts' names of type "user".
      return {
        exitCode: run.exitCode,
        stderr: run.stderr,
        hosts: withUserHostnames(parsed.hosts, userNames),
      };
    } finally {
      mine.delete(controller);
      if (mine.size === 0) this.running.delete(ref.resultId);
    }
  }

  /** Counts the batch once, tells subscribers, keeps the window full, and ends the run after its last batch. */
  private async account(
    ref: RunRef,
    batchSeq: number,
    kind: 'done' | 'failed',
    summary?: { hosts_up: number; open_ports: number },
  ): Promise<void> {
    const finish = await this.state.finish(ref.resultId, batchSeq, kind);
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
      // The run's counters in the database moved with the batch row (BatchResultStore, markBatchFailed).
      const progress: ScanEventBody = {
        event: 'progress',
        percent: Math.floor(((finish.done + finish.failed) * 100) / finish.total),
        batches_done: finish.done,
        batches_failed: finish.failed,
        batches_total: finish.total,
      };
      const complete: ScanEventBody[] =
        kind === 'done'
          ? [
              {
                event: 'batch_complete',
                batch_id: batchSeq,
                summary: summary ?? { hosts_up: 0, open_ports: 0 },
              },
            ]
          : [];
      // Not awaited before moving on: the finalizer's terminal event goes out on the same connection, after
      // these, so the order holds while the database work overlaps the round trip.
      published = this.events.publishMany(ref, [...complete, progress]);
      published.catch(() => undefined); // awaited below; this only keeps an early failure from going unhandled
      if (finish.nextSeq !== undefined)
        await this.scheduler.enqueue(await this.planOf(ref), [finish.nextSeq]);
    }
    if (finish.done + finish.failed === finish.total) await this.finalizer.complete(ref);
    await published;
  }

  private async planOf(ref: RunRef): Promise<RunPlan> {
    return runPlanOf(ref, await this.em.fork().findOneOrFail(ScanResult, ref.resultId));
  }

  private describeFailure(error: unknown): { message: string; exitCode: number | null; stderr: string } {
    if (error instanceof BatchAttemptError) {
      return { message: error.message, exitCode: error.exitCode, stderr: error.stderr };
    }
    if (error instanceof NmapXmlError)
      return { message: `nmap XML unreadable: ${error.message}`, exitCode: 0, stderr: '' };
    const message = error instanceof Error ? error.message : String(error);
    if (!(error instanceof ScopeError)) this.logger.error(`batch failed: ${message}`);
    return { message, exitCode: null, stderr: '' };
  }
}
