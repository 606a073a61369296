// Queues the diff of every recently completed run that has no report, when the delta service starts: a worker
// that died between ending a run and queueing its diff, or a Redis that lost the queue, costs a delay, never a
// report. Jobs are keyed by result id, so a run whose job is still queued (or recently done) is not queued twice;
// one diffed before (a first run, a report deleted by its user) is looked at again and skipped. Reports stored but
// still owing their announcement (a job that ran out of retries while Redis was away) are announced, and
// verifications left pending by a lost job are resumed (docs/delta.md "Verified changes").
import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { DeltaJobs } from '@nso/events';
import { DeltaReportRepository, logSafeError, RunHistoryQueries } from '@nso/persistence';
import { DeltaReportService } from './delta-report.service';

/** How far back the start-up sweep looks, and how many runs it queues at most. */
export const BACKFILL_WINDOW_MS = 7 * 24 * 3600 * 1000;
export const BACKFILL_LIMIT = 1000;

/** The delta service's start-up sweep: diffs owed by runs without a report, announcements owed by reports. */
@Injectable()
export class DeltaBackfill implements OnApplicationBootstrap {
  private readonly logger = new Logger(DeltaBackfill.name);

  constructor(
    private readonly runs: RunHistoryQueries,
    private readonly jobs: DeltaJobs,
    private readonly reports: DeltaReportService,
    private readonly stored: DeltaReportRepository,
  ) {}

  onApplicationBootstrap(): void {
    // In the background: the service is ready without it, and a failure is logged, not fatal.
    void this.sweep().catch((error) => this.logger.warn(`backfill failed: ${logSafeError(error)}`));
    void this.resumeVerifications().catch((error) =>
      this.logger.warn(`resuming verifications failed: ${logSafeError(error)}`),
    );
    void this.reports
      .announceOwed()
      .then(
        (count) => count > 0 && this.logger.log(`announced ${count} report(s) whose announcement was owed`),
      )
      .catch((error) => this.logger.warn(`announcing owed reports failed: ${logSafeError(error)}`));
  }

  /** Queues a diff for each completed run of the window without a report as current run; returns how many. */
  async sweep(now = new Date()): Promise<number> {
    const since = new Date(now.getTime() - BACKFILL_WINDOW_MS);
    const runs = await this.runs.completedWithoutReport(since, BACKFILL_LIMIT);
    for (const run of runs) await this.jobs.enqueue({ scanId: run.scanId, resultId: run.resultId });
    if (runs.length > 0) this.logger.log(`backfill: ${runs.length} completed run(s) without a report queued`);
    return runs.length;
  }

  /**
   * Pending verifications whose job was lost: a report without a rescan gets its verify-changes job again (due
   * now), a report whose rescan ended gets that run's diff job again (which judges the changes). Job ids are per
   * report and per run, so a job still queued or running is not doubled. Returns how many were queued.
   */
  async resumeVerifications(): Promise<number> {
    let queued = 0;
    for (const pending of await this.stored.pendingVerifications(BACKFILL_LIMIT)) {
      if (pending.verifyResultId === null) {
        await this.jobs.verifyLater({ scanId: pending.scanId, reportId: pending.reportId }, 0);
        queued++;
      } else if (pending.rescanStatus !== null && !['queued', 'running'].includes(pending.rescanStatus)) {
        await this.jobs.enqueue({ scanId: pending.scanId, resultId: pending.verifyResultId });
        queued++;
      }
    }
    if (queued > 0) this.logger.log(`backfill: ${queued} pending verification(s) resumed`);
    return queued;
  }
}
