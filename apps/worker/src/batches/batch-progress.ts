// One batch attempt's progress as its nmap reports it: `--stats-every` makes nmap write a <taskprogress> to its
// XML and a "Stats: … N hosts completed" line to stdout every NMAP_STATS_EVERY seconds; each <host> it writes is an
// address done. The tracker keeps the batch's figures, stores them in Redis (RunProgressStore, where any gateway
// reads the run's progress) and publishes `progress` events, at most one per batch per second.
import { Logger } from '@nestjs/common';
import { ScanEventPublisher } from '@nso/events';
import { NmapTaskProgress, NmapXmlStreamHandlers, parseNmapProgressLine, parseTarget } from '@nso/nmap';
import { batchPercent, BatchProgressReport, RunProgressStore, RunRef } from '@nso/runs';

/** At most one `progress` event per batch in this many milliseconds (the latest report goes out at its end). */
export const PROGRESS_EVENT_INTERVAL_MS = 1000;

/** What a tracker needs: where to store and publish, which batch, and its address count. */
export interface BatchProgressDeps {
  store: Pick<RunProgressStore, 'report'>;
  events: Pick<ScanEventPublisher, 'publish'>;
  ref: RunRef;
  seq: number;
  hostsTotal: number;
  intervalMs?: number;
  now?: () => number;
}

/**
 * Follows one attempt of one batch. Events go out on nmap's reports only (every NMAP_STATS_EVERY seconds), so a
 * batch shorter than that sends none and its batch_complete says it all. Feed it nmap's reports (onTaskProgress from the XML parser's onProgress,
 * onHost for each host it writes, onLine for each stdout line); `start()` registers the batch as running at 0 %,
 * `close()` stops it and waits for what it sent (call it before the batch's outcome is stored, so that its
 * `progress` events come before `batch_complete`). A failure to store or publish is logged, never thrown: progress
 * is never a reason for a batch to fail.
 */
export class BatchProgressTracker {
  private readonly logger = new Logger(BatchProgressTracker.name);
  private readonly intervalMs: number;
  private readonly now: () => number;
  private task?: NmapTaskProgress;
  private percent = 0;
  private xmlHosts = 0;
  private statsHosts = 0;
  /** Hosts in nmap's current task (host group), from its last "Stats:" line. */
  private undergoing?: number;
  private lastSentAt = -Infinity;
  private timer?: NodeJS.Timeout;
  private closed = false;
  /** Reports go out one after the other, so the last one stored is the latest. */
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly deps: BatchProgressDeps) {
    this.intervalMs = deps.intervalMs ?? PROGRESS_EVENT_INTERVAL_MS;
    this.now = deps.now ?? Date.now;
  }

  /** The XML parser's handlers this tracker reads (`<taskprogress>`, `<host>`). */
  readonly handlers: NmapXmlStreamHandlers = {
    onProgress: (progress) => this.onTaskProgress(progress),
    onHost: () => this.onHost(),
  };

  /** The batch is running: stored at 0 % (so its addresses are known to the run), no event. */
  start(): void {
    this.enqueue(false);
  }

  /** A `<taskprogress>` of nmap's XML. */
  onTaskProgress(progress: NmapTaskProgress): void {
    this.task = progress;
    this.changed();
  }

  /** nmap wrote a host to its XML: one more address done (told with nmap's next report, not on its own). */
  onHost(): void {
    this.xmlHosts += 1;
  }

  /**
   * A stdout line: a "Stats:" line tells how many hosts nmap completed (down ones too, which the XML omits) and how
   * many its current task is on; the "Timing: About" line after it is the same report as the XML's <taskprogress>.
   */
  onLine(line: string): void {
    if (!line.startsWith('Stats: ') && !line.includes(' Timing: About ')) return;
    const report = parseNmapProgressLine(line);
    if (report?.kind === 'stats') {
      this.statsHosts = Math.max(this.statsHosts, report.hostsCompleted);
      this.undergoing = report.undergoing;
    } else if (report?.kind === 'progress') {
      this.onTaskProgress({ task: report.task, percent: report.percent, remaining: report.remaining });
    }
  }

  /** The batch's report now (what Redis stores). */
  report(): BatchProgressReport {
    const hostsDone = Math.min(this.deps.hostsTotal, Math.max(this.xmlHosts, this.statsHosts));
    const { hostsTotal } = this.deps;
    this.percent = batchPercent(this.percent, {
      task: this.task?.task,
      taskPercent: this.task?.percent,
      hostsDone,
      hostsTotal,
      undergoing: this.undergoing,
    });
    return {
      ...(this.task && { task: this.task.task, taskPercent: this.task.percent }),
      ...(this.task?.remaining !== undefined && { remaining: this.task.remaining }),
      percent: Math.round(this.percent * 100) / 100,
      hostsDone,
      hostsTotal,
      at: this.now(),
    };
  }

  /** No more reports: a pending one is dropped, what was sent is awaited. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.chain;
  }

  /** Sends now when the last event is older than the interval, else once it is (the latest figures then). */
  private changed(): void {
    if (this.closed || this.timer) return;
    const wait = this.lastSentAt + this.intervalMs - this.now();
    if (wait <= 0) return this.enqueue(true);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.closed) this.enqueue(true);
    }, wait);
    this.timer.unref?.();
  }

  private enqueue(publish: boolean): void {
    if (publish) this.lastSentAt = this.now();
    const report = this.report();
    this.chain = this.chain.then(() => this.send(report, publish));
  }

  private async send(report: BatchProgressReport, publish: boolean): Promise<void> {
    const { ref, seq } = this.deps;
    try {
      const run = await this.deps.store.report(ref.resultId, seq, report);
      if (!publish || !run) return;
      await this.deps.events.publish(ref, {
        event: 'progress',
        batch_id: seq,
        percent: run.percent,
        batches_done: run.batches_done,
        batches_failed: run.batches_failed,
        batches_total: run.batches_total,
        hosts_done: run.hosts_done,
        hosts_total: run.hosts_total,
        eta_seconds: run.eta_seconds,
        batch: {
          task: report.task ?? null,
          task_percent: report.taskPercent ?? null,
          percent: report.percent,
          remaining_seconds: report.remaining ?? null,
          hosts_done: report.hostsDone,
          hosts_total: report.hostsTotal,
        },
      });
    } catch (error) {
      this.logger.warn(`run ${ref.resultId} batch ${seq}: progress not sent: ${(error as Error).message}`);
    }
  }
}

/**
 * How many addresses a batch's targets hold: 1 for each single address (a batch's usual target: its addresses
 * as the queue cut them), the size of each range or CIDR (IPv4 ranges: the product of their octets' values).
 * Cheap on purpose: a /16 batch's 65,536 addresses are counted without parsing each.
 */
export function addressCount(targets: readonly string[]): number {
  let count = 0;
  for (const target of targets) {
    if (/^[\d.]+$/.test(target) || (target.includes(':') && !target.includes('/'))) {
      count += 1;
      continue;
    }
    const spec = parseTarget(target);
    if (spec.kind === 'ipv4-range') count += spec.octets.reduce((n, values) => n * values.length, 1);
    else if (spec.kind === 'ipv4-cidr') count += 2 ** (32 - spec.prefix);
    else if (spec.kind === 'ipv6-cidr') count += 2 ** (128 - spec.prefix);
  }
  return count;
}
