import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@nso/config';
import { BATCH_JOB, JobOf } from '@nso/contracts';
import { ScanEventPublisher } from '@nso/events';
import { Metrics } from '@nso/monitoring';
import {
  NMAP_RUNNER,
  NmapArgumentPolicy,
  NmapRunner,
  NmapXmlCollector,
  NmapXmlError,
  parseTargets,
  ScanScope,
  ScopeError,
  TargetError,
  withUserHostnames,
} from '@nso/nmap';
import { safeErrorMessage, withoutStatement } from '@nso/persistence';
import { ClientRevokedError, RunProgressStore, RunRef, RunService, RunStateStore } from '@nso/runs';
import { UnrecoverableError } from 'bullmq';
import { addressCount, BatchProgressTracker } from './batch-progress';
import { BatchWatches, WatchedAttempt } from './batch-watch';

/** One batch job as the consumer hands it over: its payload and which attempt this is. */
export interface BatchAttempt {
  data: JobOf<typeof BATCH_JOB>;
  /** 1-based. */
  attempt: number;
  /** The job's last attempt: a failure is final. */
  final: boolean;
}

/**
 * At most this many `line` events in one publish: keeps each Lua call and pub/sub message short, and each fan-out
 * write to a subscriber well under SUBSCRIBER_MAX_BUFFERED_KIB's smallest settings (1,024 lines were about 200 KB
 * of WebSocket frames in one write, and the slow-subscribers e2e, at 64 KiB, dropped a subscriber that kept up).
 */
const LINES_PER_PUBLISH = 256;
/**
 * Lines are gathered for this long (ms) after the first line of a quiet spell, then published as one entry (or at
 * once when LINES_PER_PUBLISH are waiting): a wide scan's nmap writes a host's few lines per stdout read, and
 * publishing each read was one Redis round trip per ~30 lines (bench profile-wide, docs/performance.md).
 */
const LINE_GATHER_MS = 10;

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
 * Runs one batch's nmap: the policy and scope checked again, nmap over one chunk of a run's targets, its stdout
 * streamed as `line` events, its XML parsed. What becomes of the batch and its run is RunService's (started,
 * completed, failed, stopped). Failures are rethrown so BullMQ retries the batch.
 */
@Injectable()
export class BatchRunService {
  private readonly logger = new Logger(BatchRunService.name);
  /** nmap processes of this worker, by run, so a stop can end them. */
  private readonly running = new Map<number, Set<AbortController>>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(NMAP_RUNNER) private readonly nmap: NmapRunner,
    private readonly policy: NmapArgumentPolicy,
    private readonly scope: ScanScope,
    private readonly events: ScanEventPublisher,
    private readonly state: RunStateStore,
    private readonly runs: RunService,
    private readonly metrics: Metrics,
    private readonly watches: BatchWatches,
    private readonly progressStore: RunProgressStore,
  ) {}

  /** Ends this worker's nmap processes of the run (a stop from any gateway). */
  cancelRun(resultId: number): void {
    for (const controller of this.running.get(resultId) ?? []) controller.abort();
  }

  async run({ data, attempt, final }: BatchAttempt): Promise<void> {
    const { scanId, resultId, batchSeq, targets } = data;
    const ref: RunRef = { scanId, resultId };
    if (await this.state.isStopped(resultId)) return;
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
      flags = this.policy.validate(data.nmapFlags);
    } catch (error) {
      const { batchId } = await this.runs.startBatch(start);
      await this.runs.batchFailed(ref, {
        batchId,
        seq: batchSeq,
        attempt,
        final: true,
        ...this.describe(error),
      });
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
    const watched = { ref, seq: batchSeq, targets, attempt, final };
    const scanning = this.runNmap(watched, flags, data.hostnames ?? {}, controller);
    scanning.catch(() => undefined); // awaited below; this only keeps an early failure from going unhandled
    const batch = await this.runs.startBatch(start);
    // A stop that came before this process registered its nmap process is caught here.
    if (!batch.runnable || (await this.state.isStopped(resultId))) {
      controller.abort();
      await scanning.catch(() => undefined);
      // An earlier attempt stored the result and died before moving the run on.
      if (!batch.runnable && batch.status === 'completed') {
        const summary = { hosts_up: batch.hostsUp, open_ports: batch.openPorts };
        return this.runs.batchFinished(ref, batchSeq, summary);
      }
      if (!batch.runnable) return;
    }

    try {
      await published;
      const outcome = await scanning;
      if (outcome === 'stopped') return await this.runs.batchStopped(batch.batchId);
      if ('split' in outcome && outcome.split) {
        const straggler = { batchId: batch.batchId, seq: batchSeq, targets, hostnames: data.hostnames ?? {} };
        // The straggler now covers only the hosts it reported (its halves count their own addresses).
        const reported = outcome.split.length;
        const narrowed = { percent: 100, hostsDone: reported, hostsTotal: reported, at: Date.now() };
        await this.progressStore.report(resultId, batchSeq, narrowed).catch(() => undefined);
        return await this.watches.splitOff(ref, straggler, outcome.split);
      }
      await this.runs.batchCompleted(
        ref,
        batchSeq,
        {
          batchId: batch.batchId,
          workerId: this.config.workerId,
          exitCode: outcome.exitCode,
          stderr: outcome.stderr || null,
          finishedAt: new Date(),
          hosts: outcome.hosts,
        },
        this.config.workerClientId,
      );
    } catch (error) {
      // A revoked pool's batch is not retried on its queue: it fails with the reason.
      const revoked = error instanceof ClientRevokedError;
      const failure = {
        batchId: batch.batchId,
        seq: batchSeq,
        attempt,
        final: final || revoked,
        ...this.describe(error),
      };
      await this.runs.batchFailed(ref, failure);
      throw revoked ? new UnrecoverableError(error.message) : withoutStatement(error);
    }
  }

  private async runNmap(
    watched: WatchedAttempt,
    flags: string[],
    userNames: Record<string, string[]>,
    controller: AbortController,
  ) {
    const { ref, seq: batchSeq, targets } = watched;
    const mine = this.running.get(ref.resultId) ?? new Set<AbortController>();
    this.running.set(ref.resultId, mine.add(controller));
    const published: Promise<unknown>[] = [];
    // Lines go out as one entry (one round trip, one message, consecutive seqs; the gateway hands them out one
    // `line` event each) LINE_GATHER_MS after the first of them, or once LINES_PER_PUBLISH wait, and at the end.
    // Published without waiting: one connection sends them in order, and order within a batch is the point.
    // An entry Redis refuses (an outage) is lost, not fatal: nmap carries on and the results reach the database
    // either way (deployment.md, Outages). It is caught at once: a rejection left for the Promise.all below would
    // be unhandled while nmap runs, and end the process.
    let lines: string[] = [];
    let gathering: NodeJS.Timeout | undefined;
    let lost = 0;
    let firstLoss = '';
    const flush = () => {
      if (gathering !== undefined) clearTimeout(gathering);
      gathering = undefined;
      if (lines.length === 0) return;
      published.push(
        this.events.publishLines(ref, batchSeq, lines).catch((error: Error) => {
          if (lost++ === 0) firstLoss = error.message;
        }),
      );
      lines = [];
    };
    // The XML is parsed as nmap writes it, never held whole (a /16 batch's is tens of megabytes). A parse error
    // is kept by the collector and thrown by result(), after the exit code had its say, as before.
    // nmap's progress reports (--stats-every) become `progress` events and the run's live progress; the watch
    // (stalls, stragglers) reads the same XML.
    const progress = new BatchProgressTracker({
      store: this.progressStore,
      events: this.events,
      ref,
      seq: batchSeq,
      hostsTotal: addressCount(targets),
    });
    progress.start();
    const watch = this.watches.watch(watched, controller, flags);
    const xml = new NmapXmlCollector(watch.handlersWith(progress.handlers));
    try {
      const run = await this.nmap.run({
        nmapPath: this.config.nmapPath,
        flags: this.watches.withStats(flags),
        targets,
        signal: controller.signal,
        killGraceMs: 1000,
        keepXml: false,
        // The lines go out as events; the run's stdout is not kept as well (a wide batch's is about half a MB).
        maxStdoutChars: 0,
        onXml: (chunk) => {
          try {
            xml.write(chunk);
          } catch {
            // The parser refuses everything after its first error, and result() throws that error.
          }
        },
        onLine: (line) => {
          if (controller.signal.aborted) return;
          progress.onLine(line);
          if (lines.length === 0) gathering = setTimeout(flush, LINE_GATHER_MS);
          lines.push(line);
          if (lines.length >= LINES_PER_PUBLISH) flush();
        },
      });
      this.metrics.observeNmapRun(run);
      flush();
      await Promise.all(published);
      if (lost > 0) {
        this.logger.warn(
          `run ${ref.resultId} batch ${batchSeq}: nmap output lines not sent (${lost} entries lost): ${firstLoss}`,
        );
      }
      if (run.cancelled) {
        const verdict = await this.watches.verdictOf(watch, watched);
        return verdict === 'stopped' ? verdict : { split: withUserHostnames(verdict.split, userNames) };
      }
      if (run.exitCode !== 0) {
        throw new BatchAttemptError(
          `nmap exited with code ${run.exitCode ?? run.signal}`,
          run.exitCode,
          run.stderr,
        );
      }
      const parsed = xml.result();
      // nmap saw addresses only: the names the user gave come back as the hosts' names of type "user".
      return {
        exitCode: run.exitCode,
        stderr: run.stderr,
        hosts: withUserHostnames(parsed.hosts, userNames),
      };
    } finally {
      // Lines still gathering when nmap's run failed go out too, as they did before it failed.
      if (gathering !== undefined) flush();
      watch.end();
      await progress.close();
      mine.delete(controller);
      if (mine.size === 0) this.running.delete(ref.resultId);
    }
  }

  /** What the events and the batch row say about a failed attempt. */
  private describe(error: unknown): { message: string; exitCode: number | null; stderr: string } {
    if (error instanceof BatchAttemptError) {
      return { message: error.message, exitCode: error.exitCode, stderr: error.stderr };
    }
    if (error instanceof NmapXmlError)
      return { message: `nmap XML unreadable: ${error.message}`, exitCode: 0, stderr: '' };
    // The message goes into the batch_failed event and the batch row: a database error's statement never does.
    const message = safeErrorMessage(error);
    if (!(error instanceof ScopeError)) this.logger.error(`batch failed: ${message}`);
    return { message, exitCode: null, stderr: '' };
  }
}
