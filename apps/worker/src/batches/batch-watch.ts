// Watches one attempt of a batch while its nmap runs (docs/api.md, "Stragglers and stalls"):
// - a stall: nmap reported no progress for BATCH_STALL_SECONDS — progress is something new in its XML: a host, a
//   task begun or ended, a task's percent higher than before; stdout does not count, so a silent nmap stalls
//   too. nmap is ended, `batch_stalled` goes out, nso_batches_stalled_total counts it, and the attempt fails like
//   any failed attempt (`batch_failed`, retried by BullMQ on any worker while attempts remain).
// - a straggler: every few seconds the worker asks BatchSplitter whether this batch is the run's last one with
//   more than twice the median batch time left while a worker of its pool is idle. If so nmap is ended, the hosts
//   it had reported become the batch's result and the addresses it had not go back on the queue in two halves.
// BatchRunService only hooks this in: the flags (withStats), the XML handlers, and what an ended nmap means.
import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@nso/config';
import { ScanEventPublisher } from '@nso/events';
import { Metrics } from '@nso/monitoring';
import {
  canonicalIpAddress,
  NmapHost,
  NmapTaskProgress,
  NmapXmlStreamHandlers,
  withStatsEvery,
} from '@nso/nmap';
import { BatchSplitter, RunRef, RunService, StragglerBatch } from '@nso/runs';

/** How often a running batch checks whether it is a straggler. */
const SPLIT_CHECK_MS = 2_000;

/**
 * The attempt failed because its nmap reported no progress for `seconds`. Its message goes into batch_failed's
 * `error`, the batch row's stderr and the worker's log, so it says whether the batch runs again: not after its
 * `final` attempt (batch_failed's `will_retry: false`).
 */
export class BatchStalledError extends Error {
  constructor(
    readonly seconds: number,
    readonly final = false,
  ) {
    super(
      `nmap reported no progress for ${seconds} s (BATCH_STALL_SECONDS); stopped ` +
        (final ? 'and not retried: that was its last attempt' : 'to be retried'),
    );
  }
}

/** The attempt a watch follows. */
export interface WatchedAttempt {
  ref: RunRef;
  seq: number;
  /** The addresses nmap was handed. */
  targets: string[];
  attempt: number;
  /** The job's last attempt: a stall is not retried. */
  final?: boolean;
}

/** What ended an nmap that was cancelled: a stop of the run, a stall, or a split (with the hosts reported). */
export type WatchVerdict =
  { kind: 'stopped' } | { kind: 'stalled'; seconds: number } | { kind: 'split'; hosts: NmapHost[] };

/**
 * One attempt's watch: feed it nmap's XML events through `handlers` (pass them to the NmapXmlCollector), `start`
 * it when nmap starts, `end` it when nmap exits. When it decides (a stall, a split) it aborts `controller`.
 */
export class BatchWatch {
  readonly handlers: NmapXmlStreamHandlers;
  private readonly startedAt = Date.now();
  private lastProgressAt = Date.now();
  private readonly percents = new Map<string, number>();
  /** The addresses reported, and the hosts as nmap wrote them (one listed twice is merged when stored). */
  private readonly reported = new Set<string>();
  private readonly hosts: NmapHost[] = [];
  private readonly targets: ReadonlySet<string>;
  private nmapRemaining?: number;
  private decided?: WatchVerdict;
  private timer?: NodeJS.Timeout;
  private lastSplitCheck = Date.now();
  private checking = false;

  constructor(
    private readonly attempt: WatchedAttempt,
    private readonly controller: AbortController,
    private readonly stallMs: number,
    /** Asked every SPLIT_CHECK_MS with nmap's remaining seconds by estimate; undefined: never split. */
    private readonly isStraggler?: (remainingSeconds: number) => Promise<boolean>,
    private readonly splitMinSeconds = 10,
  ) {
    this.targets = new Set(attempt.targets.map(canonical));
    this.handlers = {
      onHost: (host) => {
        if (this.decided) return; // what nmap writes after a split is not the batch's result
        // The parser hands over addresses in canonical text already (toHost): no second parse per host.
        const address = host.address;
        if (!this.reported.has(address)) this.progressed();
        this.reported.add(address);
        this.hosts.push(host);
      },
      onProgress: (progress) => this.onProgress(progress),
      onTask: () => this.progressed(),
    };
  }

  /**
   * The watch's handlers and `others` (e.g. a progress tracker's) both called, the watch's first: for a collector
   * that more than one listener reads.
   */
  handlersWith(others: NmapXmlStreamHandlers): NmapXmlStreamHandlers {
    const mine = this.handlers;
    return {
      ...others,
      onHost: (host) => (mine.onHost?.(host), others.onHost?.(host)),
      onProgress: (progress) => (mine.onProgress?.(progress), others.onProgress?.(progress)),
      onTask: (task) => (mine.onTask?.(task), others.onTask?.(task)),
    };
  }

  /** Starts the timer; checks twice a stall period at least, and once a second at most. */
  start(): this {
    const every = Math.max(100, Math.min(1000, Math.floor(this.stallMs / 2)));
    this.timer = setInterval(() => this.tick(), every);
    this.timer.unref();
    return this;
  }

  end(): void {
    clearInterval(this.timer);
  }

  /** Why the cancelled nmap ended: the watch's decision, else a stop of the run. */
  verdict(): WatchVerdict {
    return this.decided ?? { kind: 'stopped' };
  }

  /**
   * Seconds nmap still needs by estimate: the time per reported host so far times the addresses not reported;
   * before the first host, at least as long again as it ran, or nmap's own `remaining` when that is more.
   */
  remainingSeconds(now = Date.now()): number {
    const elapsed = (now - this.startedAt) / 1000;
    const done = this.reported.size;
    const left = Math.max(0, this.targets.size - done);
    if (done > 0) return (elapsed * left) / done;
    return Math.max(elapsed, this.nmapRemaining ?? 0);
  }

  private onProgress(progress: NmapTaskProgress): void {
    if (progress.remaining !== undefined) this.nmapRemaining = progress.remaining;
    const before = this.percents.get(progress.task);
    if (before === undefined || progress.percent > before) {
      this.percents.set(progress.task, progress.percent);
      this.progressed();
    }
  }

  private progressed(): void {
    this.lastProgressAt = Date.now();
  }

  private tick(): void {
    if (this.decided || this.controller.signal.aborted) return;
    const now = Date.now();
    if (now - this.lastProgressAt >= this.stallMs) {
      this.decide({ kind: 'stalled', seconds: Math.round((now - this.lastProgressAt) / 1000) });
      return;
    }
    if (!this.isStraggler || this.checking || now - this.lastSplitCheck < SPLIT_CHECK_MS) return;
    this.lastSplitCheck = now;
    // Not before nmap reported a host: the estimate has nothing to go on, and a split would throw away all nmap did
    // (each half starts over). With -sV a slow host holds its whole host group's report, so the halves would
    // straggle in turn: split after split, each restarting the slow host (a /22 run 4× slower than unsplit).
    if (this.reported.size === 0) return;
    const remaining = this.remainingSeconds(now);
    if (this.targets.size - this.reported.size < 2 || remaining < this.splitMinSeconds) return;
    this.checking = true;
    this.isStraggler(remaining)
      .then((straggler) => {
        if (straggler && !this.decided && !this.controller.signal.aborted) {
          this.decide({ kind: 'split', hosts: [...this.hosts] });
        }
      })
      .catch(() => undefined) // a check that could not be made is made again at the next tick
      .finally(() => (this.checking = false));
  }

  private decide(verdict: WatchVerdict): void {
    this.decided = verdict;
    this.controller.abort();
  }
}

/**
 * Makes the watches of this worker's batches and acts on their verdicts (publishes `batch_stalled`, counts the
 * metrics, splits a straggler through BatchSplitter and stores what it had reported).
 */
@Injectable()
export class BatchWatches {
  private readonly logger = new Logger(BatchWatches.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly splitter: BatchSplitter,
    private readonly events: ScanEventPublisher,
    private readonly runs: RunService,
    private readonly metrics: Metrics,
  ) {}

  /**
   * The flags with `--stats-every` added when the scan gave none, so nmap reports its tasks' progress in its XML
   * while it runs (otherwise a batch of one slow host reports nothing until it ends; the reports are also the
   * `progress` events, BatchProgressTracker): every NMAP_STATS_EVERY seconds (2), and at least five times a
   * stall period (1 s when BATCH_STALL_SECONDS is under 10), so a long task shows its percent rising. The scan's
   * own is kept.
   */
  withStats(flags: string[]): string[] {
    return withStatsEvery(flags, statsEverySeconds(this.config));
  }

  /**
   * A started watch of one attempt; `end()` it once nmap has exited. `flags` are the nmap options of the batch:
   * their own `--stats-every` may lengthen the stall period (stallSeconds).
   */
  watch(attempt: WatchedAttempt, controller: AbortController, flags: readonly string[] = []): BatchWatch {
    // With --open nmap lists only the hosts that have an open port: the addresses it has not listed are not those
    // it has left to scan, so the estimate a split rests on would be wrong (re-queueing addresses nmap had
    // scanned, a batch whose hosts have nothing open looking endless). Such a batch is never split.
    const isStraggler =
      this.config.batchSplit && !flags.includes('--open')
        ? (remaining: number) =>
            this.splitter.isStraggler(attempt.ref, attempt.seq, this.config.workerClientId, remaining)
        : undefined;
    return new BatchWatch(
      attempt,
      controller,
      stallSeconds(flags, this.config.batchStallSeconds) * 1000,
      isStraggler,
      this.config.batchSplitMinSeconds,
    ).start();
  }

  /**
   * What a cancelled nmap means: `stopped` (the run was stopped) or the hosts of a split; a stall is announced
   * (`batch_stalled`, the metric) and thrown as BatchStalledError, so the attempt fails and is retried (unless it
   * was the last).
   */
  async verdictOf(watch: BatchWatch, attempt: WatchedAttempt): Promise<'stopped' | { split: NmapHost[] }> {
    const verdict = watch.verdict();
    if (verdict.kind === 'stopped') return 'stopped';
    if (verdict.kind === 'split') return { split: verdict.hosts };
    this.metrics.batchesStalled.inc();
    const stalled = new BatchStalledError(verdict.seconds, attempt.final === true);
    this.logger.warn(`run ${attempt.ref.resultId} batch ${attempt.seq}: ${stalled.message}`);
    await this.events.publish(attempt.ref, {
      event: 'batch_stalled',
      batch_id: attempt.seq,
      seconds: verdict.seconds,
      attempt: attempt.attempt,
      worker: this.config.workerId,
    });
    throw stalled;
  }

  /**
   * Splits the straggler (BatchSplitter.split) and stores the hosts it had reported as its result. A run stopped
   * meanwhile stops the batch; a split the run's state refuses (it changed since the check) fails the attempt,
   * so the batch runs again whole.
   */
  async splitOff(
    ref: RunRef,
    batch: Omit<StragglerBatch, 'pool' | 'workerId'>,
    hosts: NmapHost[],
  ): Promise<void> {
    const straggler = { ...batch, pool: this.config.workerClientId, workerId: this.config.workerId };
    const outcome = await this.splitter.split(ref, straggler, hosts);
    if (outcome.outcome === 'stopped') return this.runs.batchStopped(batch.batchId);
    if (outcome.outcome === 'refused') throw new Error('the straggler could not be split; it runs again');
    this.metrics.batchesSplit.inc();
    await this.runs.batchCompleted(
      ref,
      batch.seq,
      {
        batchId: batch.batchId,
        workerId: this.config.workerId,
        exitCode: null,
        stderr: `split: ${outcome.seqs.length > 0 ? `batches ${outcome.seqs.join(', ')} scan the rest` : 'nothing left'}`,
        finishedAt: new Date(),
        hosts,
      },
      this.config.workerClientId,
    );
  }
}

function canonical(address: string): string {
  return canonicalIpAddress(address) ?? address;
}

const STATS_UNIT_SECONDS: Readonly<Record<string, number>> = { ms: 0.001, s: 1, m: 60, h: 3600 };

/**
 * The stall period of a batch, seconds: BATCH_STALL_SECONDS, or five of the scan's own `--stats-every` intervals
 * when that is longer. nmap reports a task's progress only that often, and the worker's own interval is at most a
 * fifth of the stall period for the same reason (statsEverySeconds): a scan that asks for a report an hour must
 * not have its quiet batches stopped as stalled after ten minutes. `flags` are the policy's normal form
 * (`--stats-every=<time>`, a time as 500ms, 30s, 5m, 1h or plain seconds).
 */
export function stallSeconds(flags: readonly string[], batchStallSeconds: number): number {
  let own: number | undefined;
  for (const flag of flags) {
    const m = /^--stats-every=(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(flag);
    if (m) own = Number(m[1]) * STATS_UNIT_SECONDS[m[2] ?? 's'];
  }
  return own === undefined ? batchStallSeconds : Math.max(batchStallSeconds, 5 * own);
}

/** nmap's `--stats-every` interval, seconds: NMAP_STATS_EVERY, at most a fifth of BATCH_STALL_SECONDS (at least 1). */
export function statsEverySeconds(
  config: Pick<AppConfig, 'nmapStatsEverySeconds' | 'batchStallSeconds'>,
): number {
  return Math.min(config.nmapStatsEverySeconds, Math.max(1, Math.floor(config.batchStallSeconds / 5)));
}
