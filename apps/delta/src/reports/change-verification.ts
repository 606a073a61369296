// Verified changes (issue 21, docs/delta.md "Verified changes"): a report with changes is not announced as the
// diff made it. After the scan's verify_delay_seconds the changed hosts and ports are rescanned (a run of trigger
// `verify`), and each change gets the rescan's verdict before anything goes out.
import { Injectable, Logger } from '@nestjs/common';
import type { VerifyChangesJobData } from '@nso/contracts';
import { judgeVerification, verificationFlags, verificationTargets, type VerificationRun } from '@nso/delta';
import {
  COUNT_OF_KIND,
  DeltaReportRepository,
  RunHistoryQueries,
  safeErrorMessage,
  type ChangeToVerify,
  type ChangeVerdict,
  type ConfirmedCounts,
  type StoredDeltaReport,
} from '@nso/persistence';
import { RunActiveError, RunService } from '@nso/runs';

/** What a step of a verification did. */
export type VerificationStep =
  | { kind: 'started'; reportId: number; verifyResultId: number }
  | { kind: 'judged'; report: StoredDeltaReport }
  | { kind: 'nothing'; why: string };

/**
 * The two steps of a report's verification: start the rescan (a VERIFY_CHANGES_JOB, delayed), and judge its
 * changes once the rescan ended (its diff job). A rescan that cannot start — out of scope now, no client covers the
 * addresses, the options refused — or that failed or was stopped makes every change `unverifiable`. Both steps are
 * idempotent: a job delivered twice starts one rescan (the report is linked to it once) and stores the verdicts once.
 */
@Injectable()
export class ChangeVerification {
  private readonly logger = new Logger(ChangeVerification.name);

  constructor(
    private readonly reports: DeltaReportRepository,
    private readonly runs: RunHistoryQueries,
    private readonly runService: RunService,
  ) {}

  /**
   * Starts the rescan of report `reportId`'s changes: the changed addresses, on the changed ports, with the
   * scan types (and -sV) of the run it confirms. Throws RunActiveError while the scan runs another run (the
   * job is retried later); on the `lastAttempt` that gives the changes up as unverifiable instead. Answers
   * `judged` (with the report, to announce) when no rescan can be made — the scan was deactivated meanwhile, the
   * scope or the clients changed, the options are refused.
   */
  async start(job: VerifyChangesJobData, lastAttempt: boolean): Promise<VerificationStep> {
    const report = await this.reports.findById(job.reportId);
    if (!report) return { kind: 'nothing', why: `report ${job.reportId} does not exist` };
    if (report.verificationStatus !== 'pending') return { kind: 'nothing', why: 'verification ended' };
    if (report.verifyResultId !== null)
      return { kind: 'nothing', why: `rescan ${report.verifyResultId} runs already` };
    const changes = await this.reports.changesToVerify(report.reportId);
    const run = await this.runs.run(report.currentResultId);
    if (changes.length === 0 || !run) return this.giveUp(report, changes, 'nothing to rescan');
    // Deactivated since its run: nothing of it is scanned any more, a rescan neither.
    if (!(await this.runs.trustSettings(report.scanId))?.isActive)
      return this.giveUp(report, changes, 'the scan is inactive');
    const targets = verificationTargets(changes);
    try {
      const started = await this.runService.startVerification({
        scanId: report.scanId,
        resultId: report.currentResultId,
        targets: targets.hosts,
        nmapFlags: verificationFlags(run.nmap_flags, targets),
      });
      if (!(await this.reports.linkVerifyRun(report.reportId, started.resultId))) {
        this.logger.warn(`report ${report.reportId}: rescan ${started.resultId} started twice`);
      }
      this.logger.log(
        `report ${report.reportId}: rescan ${started.resultId} of ${targets.hosts.length} host(s) started`,
      );
      return { kind: 'started', reportId: report.reportId, verifyResultId: started.resultId };
    } catch (error) {
      if (error instanceof RunActiveError && !lastAttempt) throw error;
      return this.giveUp(report, changes, safeErrorMessage(error as Error));
    }
  }

  /**
   * The rescan `verifyResultId` ended (any status): each change of its report is judged (judgeVerification) and
   * the verdicts and confirmed counts stored. Answers the report to announce, or `nothing` when the run is no
   * report's rescan or its verdicts were stored before.
   */
  async finish(verifyResultId: number, status: string): Promise<VerificationStep> {
    const report = await this.reports.findByVerifyRun(verifyResultId);
    if (!report) return { kind: 'nothing', why: `run ${verifyResultId} is no report's rescan` };
    if (report.verificationStatus !== 'pending') return { kind: 'nothing', why: 'verdicts stored before' };
    const changes = await this.reports.changesToVerify(report.reportId);
    const contents = await this.runs.contents(verifyResultId);
    const rescan: VerificationRun = {
      completed: status === 'completed',
      hosts: new Map(contents.hosts.map((h) => [h.address, h])),
      coverage: { scanned: contents.scanned },
    };
    const verdicts = changes.map((change) => ({
      seq: change.seq,
      kind: change.kind,
      verification: judgeVerification(change, rescan),
    }));
    return this.store(report, verdicts, `rescan ${verifyResultId} ${status}`);
  }

  private giveUp(report: StoredDeltaReport, changes: ChangeToVerify[], why: string) {
    this.logger.warn(`report ${report.reportId}: changes left unverifiable: ${why}`);
    const verdicts = changes.map((c) => ({
      seq: c.seq,
      kind: c.kind,
      verification: 'unverifiable' as const,
    }));
    return this.store(report, verdicts, why);
  }

  private async store(
    report: StoredDeltaReport,
    verdicts: Array<{ seq: number; kind: string; verification: ChangeVerdict }>,
    why: string,
  ): Promise<VerificationStep> {
    const confirmed: ConfirmedCounts = {
      new_ports_count: 0,
      closed_ports_count: 0,
      changed_services_count: 0,
      new_hosts_count: 0,
      removed_hosts_count: 0,
    };
    for (const v of verdicts) if (v.verification === 'confirmed') confirmed[COUNT_OF_KIND[v.kind]]++;
    if (!(await this.reports.recordVerdicts(report.reportId, verdicts, confirmed))) {
      return { kind: 'nothing', why: 'verdicts stored before' };
    }
    const tally = (what: ChangeVerdict) => verdicts.filter((v) => v.verification === what).length;
    this.logger.log(
      `report ${report.reportId}: ${tally('confirmed')} confirmed, ${tally('not_confirmed')} not confirmed, ` +
        `${tally('unverifiable')} unverifiable (${why})`,
    );
    return {
      kind: 'judged',
      report: { ...report, verificationStatus: 'done', confirmed },
    };
  }
}
