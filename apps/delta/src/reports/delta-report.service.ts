// Makes the delta report of one run: finds its baseline, diffs the two, stores the report once and announces it.
import { setTimeout as sleep } from 'node:timers/promises';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@nso/config';
import type { DeltaJobData, DeltaReportCounts } from '@nso/contracts';
import { deltaChangeRows, diffResults, summarizeDelta, scanOptionsOf, type DeltaRun } from '@nso/delta';
import { Notifier, ScanEventPublisher } from '@nso/events';
import {
  DeltaReportRepository,
  RunHistoryQueries,
  safeErrorMessage,
  type RunFacts,
  type StoredDeltaReport,
} from '@nso/persistence';
import { WebhookJobs } from '@nso/webhooks';

/** What made the report, in delta_data.scanner. Bump `version` when the diff's rules change. */
export const DELTA_SCANNER = { name: 'nso-delta', version: 1 } as const;

/** What generate() did: stored a new report, found it stored, or skipped the run (and why). */
export type DeltaOutcome =
  | { kind: 'stored' | 'exists'; reportId: number; counts: DeltaReportCounts }
  | { kind: 'skipped'; why: string };

/**
 * The delta report of a completed run: reads the runs through RunHistoryQueries, stores the report and its change
 * rows through DeltaReportRepository, and announces a report with changes (event, webhooks, the owner).
 */
@Injectable()
export class DeltaReportService {
  private readonly logger = new Logger(DeltaReportService.name);

  constructor(
    private readonly reports: DeltaReportRepository,
    private readonly runs: RunHistoryQueries,
    private readonly events: ScanEventPublisher,
    private readonly webhooks: WebhookJobs,
    private readonly notifier: Notifier,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * The report of run `resultId` against its baseline. Skipped when the run is not completed (stopped and failed
   * runs are not diffed) or has no baseline (the first completed run of its scan). Idempotent: the insert is
   * ignored when the (baseline, current) report exists, so a job run twice, or re-run after the process was
   * killed mid-job, leaves one report; its change rows go in with it, in one transaction. A report with changes is
   * then announced (see announce); one whose announcement is still owed — the job failed or died after storing
   * it — is announced by the retry. Errors propagate (the BullMQ job is retried).
   */
  async generate(job: DeltaJobData): Promise<DeltaOutcome> {
    const current = await this.runs.run(job.resultId);
    if (!current) return { kind: 'skipped', why: `result ${job.resultId} does not exist` };
    if (current.status !== 'completed') {
      return { kind: 'skipped', why: `result ${job.resultId} is ${current.status}, not completed` };
    }
    const baseline = await this.runs.baselineOf(current.scan_id, current.result_id);
    if (!baseline) return { kind: 'skipped', why: `result ${job.resultId} is the first completed run` };
    const existing = await this.reports.findByRuns(baseline.result_id, current.result_id);
    if (existing) {
      if (!existing.announced) await this.announce(existing);
      return { kind: 'exists', reportId: existing.reportId, counts: existing.counts };
    }

    this.logger.log(`diffing result ${current.result_id} against ${baseline.result_id}`);
    const started = performance.now();
    const [before, after] = await Promise.all([this.load(baseline), this.load(current)]);
    const loaded = performance.now();
    const delta = diffResults(before, after);
    const diffed = performance.now();
    const summary = summarizeDelta(delta);
    const counts: DeltaReportCounts = {
      new_ports_count: summary.new_ports_count,
      closed_ports_count: summary.closed_ports_count,
      changed_services_count: summary.changed_services_count,
      new_hosts_count: summary.new_hosts_count,
      removed_hosts_count: summary.removed_hosts_count,
      has_changes: summary.has_changes,
    };
    // The lists go to delta_changes; delta_data keeps what is small (docs/delta.md "Storage").
    const deltaData = {
      scanner: DELTA_SCANNER,
      baseline: runView(baseline, before),
      current: runView(current, after),
      delta: { comparable: delta.comparable, differences: delta.differences },
      summary,
    };
    if (this.config.deltaHoldMs > 0) await sleep(this.config.deltaHoldMs);

    // The report row and its change rows in one transaction: a process killed mid-insert leaves neither, and
    // a job run twice finds the report (the insert is ignored) and writes no second set of rows. A report with
    // changes is stored as owing its announcement, until announce() has made it.
    const createdAt = new Date();
    const reportId = await this.reports.insert(
      {
        scan_id: current.scan_id,
        baseline_result_id: baseline.result_id,
        current_result_id: current.result_id,
        ...counts,
        delta_data: deltaData,
        created_at: createdAt,
        announced_at: counts.has_changes ? null : createdAt,
      },
      deltaChangeRows(delta),
    );
    if (reportId === undefined) {
      const found = await this.reports.findByRuns(baseline.result_id, current.result_id);
      if (!found) throw new Error(`report of ${baseline.result_id} → ${current.result_id} vanished`);
      return { kind: 'exists', reportId: found.reportId, counts: found.counts };
    }
    const ms = (a: number, b: number) => Math.round(b - a);
    this.logger.log(
      `report ${reportId}: result ${current.result_id} against ${baseline.result_id} ` +
        `(load ${ms(started, loaded)} ms, diff ${ms(loaded, diffed)} ms, store ${ms(diffed, performance.now())} ms)`,
    );
    if (counts.has_changes) {
      await this.announce({
        reportId,
        scanId: current.scan_id,
        baselineResultId: baseline.result_id,
        currentResultId: current.result_id,
        counts,
      });
    }
    return { kind: 'stored', reportId, counts };
  }

  /**
   * Announces a stored report with changes, then marks it announced (`announced_at`): the `delta_report` event on
   * the scan's stream, its webhook deliveries queued (job ids per rule and report, so never twice), the owner told
   * on /api/stream (best effort: a failure there is logged). The event or the queueing failing rejects, and the
   * report stays owed: the job's retry, or the start-up sweep (`announceOwed`), announces it again. At least once:
   * a report whose announcement failed half-way may send its event twice, never none.
   */
  async announce(report: StoredReport): Promise<void> {
    await this.events.publish(
      { scanId: report.scanId, resultId: report.currentResultId },
      {
        event: 'delta_report',
        scan_id: report.scanId,
        report_id: report.reportId,
        baseline_result_id: report.baselineResultId,
        current_result_id: report.currentResultId,
        summary: report.counts,
      },
    );
    await this.webhooks.reportStored({ reportId: report.reportId, scanId: report.scanId });
    await this.notifyOwner(report.scanId, report.reportId, report.counts).catch((error: Error) =>
      this.logger.warn(`report ${report.reportId}: owner not notified: ${safeErrorMessage(error)}`),
    );
    await this.reports.markAnnounced(report.reportId);
  }

  /**
   * Announces the reports whose announcement is still owed and older than `graceMs` (so a job announcing right
   * now is left alone): what a job that ran out of retries left, e.g. while Redis was away. At most
   * BACKFILL_LIMIT, oldest first; returns how many were announced. Errors propagate.
   */
  async announceOwed(now = new Date(), graceMs = 60_000): Promise<number> {
    const owed = await this.reports.findOwed(new Date(now.getTime() - graceMs), OWED_LIMIT);
    for (const report of owed) await this.announce(report);
    return owed.length;
  }

  /** The scan's owner is told on /api/stream that its latest run changed something (issue 12). */
  private async notifyOwner(scanId: number, reportId: number, counts: DeltaReportCounts): Promise<void> {
    const scan = await this.runs.scanOwner(scanId);
    if (!scan) return;
    const parts = [
      [counts.new_ports_count, 'new ports'],
      [counts.closed_ports_count, 'closed ports'],
      [counts.changed_services_count, 'changed services'],
      [counts.new_hosts_count, 'new hosts'],
      [counts.removed_hosts_count, 'hosts gone'],
    ]
      .filter(([count]) => Number(count) > 0)
      .map(([count, what]) => `${count} ${what}`);
    await this.notifier.notifyUser(scan.ownerId, {
      message: `Scan "${scan.name}" (#${scanId}) changed: ${parts.join(', ')} (report ${reportId})`,
      type: 'warning',
    });
  }

  /** Hosts, ports and coverage of a run, for diffResults. */
  private async load(run: RunFacts): Promise<DeltaRun> {
    const { hosts, scanned, failed } = await this.runs.contents(run.result_id);
    return { hosts, coverage: { scanned, failed }, options: scanOptionsOf(run.nmap_flags) };
  }
}

/** Reports announced by one start-up sweep at most. */
const OWED_LIMIT = 1000;

/** A stored report, as announce() needs it. */
export type StoredReport = Pick<
  StoredDeltaReport,
  'reportId' | 'scanId' | 'baselineResultId' | 'currentResultId' | 'counts'
>;

/** A run as delta_data shows it: its facts and what it looked at. */
function runView(facts: RunFacts, run: DeltaRun) {
  const options = scanOptionsOf(facts.nmap_flags);
  return {
    ...facts,
    port_selection: options.portSpec,
    scan_types: options.scanTypes.map((t) => `-s${t}`),
    version_detection: options.versionDetection,
    addresses_scanned: run.coverage.scanned.size,
    addresses_failed: run.coverage.failed.size,
  };
}
