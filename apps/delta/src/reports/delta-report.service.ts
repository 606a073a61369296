// Makes the delta report of one run: finds its baseline, diffs the two, stores the report once and announces it.
import { setTimeout as sleep } from 'node:timers/promises';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@nso/config';
import type { DeltaJobData, DeltaReportCounts, VerifyChangesJobData } from '@nso/contracts';
import {
  deltaChangeRows,
  diffResults,
  judgeExposure,
  judgeFlapping,
  portScanned,
  summarizeDelta,
  scanOptionsOf,
  type Delta,
  type DeltaChangeRow,
  type DeltaRun,
  type ExpectedPorts,
} from '@nso/delta';
import { DeltaJobs, Notifier, ScanEventPublisher } from '@nso/events';
import {
  COUNT_OF_KIND,
  DeltaReportRepository,
  RunHistoryQueries,
  safeErrorMessage,
  type ConfirmedCounts,
  type DeltaChangeInsert,
  type RunFacts,
  type StoredDeltaReport,
  type TrustSettings,
} from '@nso/persistence';
import { WebhookJobs } from '@nso/webhooks';
import { ChangeVerification } from './change-verification';

/**
 * What made the report, in delta_data.scanner. Bump `version` when the diff's rules change. 2: the baseline is
 * read as its rescan saw it, changes carry verification, flapping and exposure (issue 21).
 */
export const DELTA_SCANNER = { name: 'nso-delta', version: 2 } as const;

/**
 * What generate() did: stored a new report, found it stored, judged the changes of a report with its rescan
 * (`verified`: the run was a confirmation rescan), or skipped the run (and why).
 */
export type DeltaOutcome =
  | { kind: 'stored' | 'exists'; reportId: number; counts: DeltaReportCounts }
  | { kind: 'verified'; reportId: number; confirmed: ConfirmedCounts }
  | { kind: 'skipped'; why: string };

/** A scan's settings when the scan row is gone (the columns' defaults). */
const DEFAULT_TRUST: TrustSettings = {
  isActive: false,
  verifyChanges: true,
  verifyDelaySeconds: 30,
  announceUnconfirmed: false,
  flapWindow: 10,
  flapThreshold: 3,
  expectedPorts: null,
};

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
    private readonly verification: ChangeVerification,
    private readonly deltaJobs: DeltaJobs,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * The report of run `resultId` against its baseline. Skipped when the run is not completed (stopped and failed
   * runs are not diffed) or has no baseline (the first completed run of its scan); a confirmation rescan (trigger
   * `verify`) is not diffed but judges its report's changes (ChangeVerification.finish), which is then announced.
   * Idempotent: the insert is ignored when the (baseline, current) report exists, so a job run twice, or re-run
   * after the process was killed mid-job, leaves one report; its change rows go in with it, in one transaction,
   * each marked flapping or not and with its exposure. A report with changes worth verifying is stored `pending`
   * and its rescan queued (verify_delay_seconds); one with changes not to verify is announced (see announce). One
   * whose announcement is still owed — the job failed or died after storing it — is announced (or its rescan
   * queued) by the retry. Errors propagate (the BullMQ job is retried).
   */
  async generate(job: DeltaJobData): Promise<DeltaOutcome> {
    const current = await this.runs.run(job.resultId);
    if (!current) return { kind: 'skipped', why: `result ${job.resultId} does not exist` };
    if (current.trigger === 'verify')
      return this.judged(await this.verification.finish(current.result_id, current.status));
    if (current.status !== 'completed') {
      return { kind: 'skipped', why: `result ${job.resultId} is ${current.status}, not completed` };
    }
    const baseline = await this.runs.baselineOf(current.scan_id, current.result_id);
    if (!baseline) return { kind: 'skipped', why: `result ${job.resultId} is the first completed run` };
    const settings = (await this.runs.trustSettings(current.scan_id)) ?? DEFAULT_TRUST;
    const existing = await this.reports.findByRuns(baseline.result_id, current.result_id);
    if (existing) {
      if (existing.verificationStatus === 'pending') {
        // Stored, and its rescan maybe never queued (the job died in between): queueing it again is a no-op.
        if (existing.verifyResultId === null) await this.queueVerification(existing, settings);
      } else if (!existing.announced) await this.announce(existing);
      return { kind: 'exists', reportId: existing.reportId, counts: existing.counts };
    }

    this.logger.log(`diffing result ${current.result_id} against ${baseline.result_id}`);
    const started = performance.now();
    const [before, after] = await Promise.all([this.load(baseline), this.load(current)]);
    await this.correctByRescan(baseline.result_id, before);
    const loaded = performance.now();
    const delta = diffResults(before, after);
    const flapping = await this.flappingPorts(current, delta, settings);
    const marks = this.changeMarks(delta, after, flapping, settings.expectedPorts);
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
    // A report is verified when it has a change worth announcing (not of a flapping port), the scan asks for it,
    // and a scanner ran it (an imported file is not rescanned). Not verified, every such change counts as
    // confirmed: nothing contradicts it.
    const verify = settings.verifyChanges && current.trigger !== 'import' && marks.steady > 0;
    const confirmed = verify ? emptyCounts() : marks.steadyCounts;
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
    // changes is stored as owing its announcement, until announce() has made it — after its rescan, if verified.
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
        verification_status: verify ? 'pending' : null,
        ...confirmedColumns(confirmed),
        flapping_count: marks.flapping,
      },
      marks.rows(),
    );
    if (reportId === undefined) {
      const found = await this.reports.findByRuns(baseline.result_id, current.result_id);
      if (!found) throw new Error(`report of ${baseline.result_id} → ${current.result_id} vanished`);
      return { kind: 'exists', reportId: found.reportId, counts: found.counts };
    }
    const ms = (a: number, b: number) => Math.round(b - a);
    this.logger.log(
      `report ${reportId}: result ${current.result_id} against ${baseline.result_id} ` +
        `(load ${ms(started, loaded)} ms, diff ${ms(loaded, diffed)} ms, store ${ms(diffed, performance.now())} ms)` +
        (marks.flapping > 0 ? `, ${marks.flapping} change(s) of flapping ports` : ''),
    );
    const stored: StoredDeltaReport = {
      reportId,
      scanId: current.scan_id,
      baselineResultId: baseline.result_id,
      currentResultId: current.result_id,
      counts,
      announced: !counts.has_changes,
      verificationStatus: verify ? 'pending' : null,
      verifyResultId: null,
      confirmed,
      flappingCount: marks.flapping,
    };
    if (verify) await this.queueVerification(stored, settings);
    else if (counts.has_changes) await this.announce(stored);
    return { kind: 'stored', reportId, counts };
  }

  /**
   * A VERIFY_CHANGES_JOB: starts the rescan of the report's changes (ChangeVerification.start). When none can be
   * made the changes are left unverifiable and the report is announced as that leaves it. RunActiveError
   * propagates (BullMQ retries the job) unless `lastAttempt`.
   */
  async verifyChanges(job: VerifyChangesJobData, lastAttempt: boolean): Promise<DeltaOutcome> {
    return this.judged(await this.verification.start(job, lastAttempt));
  }

  private async judged(step: Awaited<ReturnType<ChangeVerification['finish']>>): Promise<DeltaOutcome> {
    if (step.kind === 'nothing') return { kind: 'skipped', why: step.why };
    if (step.kind === 'started') return { kind: 'skipped', why: `rescan ${step.verifyResultId} started` };
    await this.announce(step.report);
    return { kind: 'verified', reportId: step.report.reportId, confirmed: step.report.confirmed };
  }

  private async queueVerification(report: StoredDeltaReport, settings: TrustSettings): Promise<void> {
    await this.deltaJobs.verifyLater(
      { scanId: report.scanId, reportId: report.reportId },
      settings.verifyDelaySeconds * 1000,
    );
    this.logger.log(
      `report ${report.reportId}: rescan of its changes due in ${settings.verifyDelaySeconds} s`,
    );
  }

  /**
   * The ports of the delta's port changes that flap (docs/delta.md "Flapping ports"): each one's open/not-open
   * history over the scan's last `flapWindow` runs that looked at it (this run included; rescans left out),
   * judged by judgeFlapping with the scan's threshold. Keys `address protocol/port`.
   */
  private async flappingPorts(
    current: RunFacts & { scan_id: number },
    delta: Delta,
    settings: TrustSettings,
  ) {
    const flapping = new Set<string>();
    const ports = [...delta.added_ports, ...delta.removed_ports, ...delta.changed_ports];
    if (ports.length === 0) return flapping;
    const addresses = [...new Set(ports.map((p) => p.host))];
    const runs = await this.runs.observations(
      current.scan_id,
      current.result_id,
      settings.flapWindow,
      addresses,
    );
    const options = runs.map((run) => scanOptionsOf(run.nmapFlags));
    const policy = { window: settings.flapWindow, threshold: settings.flapThreshold };
    for (const p of ports) {
      const history: boolean[] = [];
      runs.forEach((run, i) => {
        if (!run.scanned.has(p.host)) return;
        const host = run.hosts.get(p.host);
        const looked = portScanned(options[i], p.protocol, p.port);
        if (looked === false || (looked === undefined && !host)) return;
        const open =
          host?.state === 'up' &&
          host.ports.some((q) => q.protocol === p.protocol && q.port === p.port && q.state === 'open');
        history.push(open);
      });
      if (judgeFlapping(history, policy).flapping) flapping.add(`${p.host} ${p.protocol}/${p.port}`);
    }
    return flapping;
  }

  /**
   * Each change row's marks made at diff time: `flapping` (its port flaps) and `exposure` against the scan's
   * expected ports (an open port expected/unexpected, an expected port gone missing; null without expected ports
   * or for host changes). Also the counts of the changes that do not flap (`steady`, per kind).
   */
  private changeMarks(
    delta: Delta,
    after: DeltaRun,
    flapping: ReadonlySet<string>,
    expectedPorts: Record<string, string[]> | null,
  ) {
    const exposure = new Map<string, 'expected' | 'unexpected' | 'missing'>();
    if (expectedPorts) {
      const judged = judgeExposure(
        after.hosts.map((h) => ({ address: h.address, state: h.state, ports: h.ports })),
        expectedPorts as ExpectedPorts,
        () => true,
      );
      for (const [what, list] of Object.entries(judged) as Array<
        [keyof typeof judged, typeof judged.expected]
      >)
        for (const p of list) exposure.set(`${p.host} ${p.protocol}/${p.port}`, what);
    }
    const mark = (row: DeltaChangeRow): DeltaChangeInsert => {
      const key = row.port === null ? undefined : `${row.address} ${row.protocol}/${row.port}`;
      return {
        ...row,
        flapping: key !== undefined && flapping.has(key),
        exposure: key === undefined ? null : (exposure.get(key) ?? null),
      };
    };
    // Counted before the rows are written (the generator below is read once, by the insert).
    let flappingCount = 0;
    let steady = 0;
    const steadyCounts = emptyCounts();
    for (const row of deltaChangeRows(delta)) {
      const kind = COUNT_OF_KIND[row.kind];
      if (!kind) continue;
      if (mark(row).flapping) flappingCount++;
      else {
        steady++;
        steadyCounts[kind]++;
      }
    }
    return {
      flapping: flappingCount,
      steady,
      steadyCounts,
      rows: function* () {
        for (const row of deltaChangeRows(delta)) yield mark(row);
      },
    };
  }

  /**
   * Announces a stored report with changes, then marks it announced (`announced_at`): the `delta_report` event on
   * the scan's stream, its webhook deliveries queued (job ids per rule and report, so never twice), the owner told
   * on /api/stream (best effort: a failure there is logged). Only changes worth announcing count (docs/delta.md
   * "Verified changes"): not of a flapping port, and confirmed by the rescan — or not verified at all, or, when
   * the scan has announce_unconfirmed, whatever the rescan said. A report with none sends no event and no notice;
   * its webhook rules are still matched (a rule with include_unconfirmed hears of unconfirmed changes).
   * The event or the queueing failing rejects, and the report stays owed: the job's retry, or the start-up sweep
   * (`announceOwed`), announces it again. At least once: a report whose announcement failed half-way may send its
   * event twice, never none.
   */
  async announce(report: StoredReport): Promise<void> {
    const settings = (await this.runs.trustSettings(report.scanId)) ?? DEFAULT_TRUST;
    const worth = await this.reports.announceableCount(report.reportId, settings.announceUnconfirmed);
    if (worth > 0) {
      await this.events.publish(
        { scanId: report.scanId, resultId: report.currentResultId },
        {
          event: 'delta_report',
          scan_id: report.scanId,
          report_id: report.reportId,
          baseline_result_id: report.baselineResultId,
          current_result_id: report.currentResultId,
          summary: report.counts,
          confirmed: report.confirmed,
          flapping_count: report.flappingCount,
          verification: { status: report.verificationStatus, result_id: report.verifyResultId },
        },
      );
    } else {
      this.logger.log(
        `report ${report.reportId}: not announced (no confirmed change that does not flap; ` +
          `${report.flappingCount} of flapping ports)`,
      );
    }
    // Each rule decides for itself: one with include_unconfirmed hears of changes the others do not.
    await this.webhooks.reportStored({
      reportId: report.reportId,
      scanId: report.scanId,
      includeUnconfirmed: settings.announceUnconfirmed,
    });
    if (worth > 0) {
      const told = settings.announceUnconfirmed ? report.counts : report.confirmed;
      await this.notifyOwner(report.scanId, report.reportId, told).catch((error: Error) =>
        this.logger.warn(`report ${report.reportId}: owner not notified: ${safeErrorMessage(error)}`),
      );
    }
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
  private async notifyOwner(
    scanId: number,
    reportId: number,
    counts: Omit<DeltaReportCounts, 'has_changes'>,
  ): Promise<void> {
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

  /**
   * The baseline as its own rescan saw it: a port whose open/closed change in the baseline's report the rescan did
   * not confirm (a flap: the listener was back at once) takes the state the rescan found, so the next run is not
   * reported as changing it back — the change nobody was told of is not undone in a report either
   * (docs/delta.md "Verified changes"). Changes `run` in place.
   */
  private async correctByRescan(baselineResultId: number, run: DeltaRun): Promise<void> {
    const { verifyResultId, ports } = await this.reports.notConfirmedPorts(baselineResultId);
    if (ports.length === 0) return;
    const rescan = await this.runs.contents(verifyResultId);
    const seen = new Map(rescan.hosts.map((h) => [h.address, h]));
    const hosts = new Map(run.hosts.map((h) => [h.address, h]));
    for (const p of ports) {
      const host = hosts.get(p.address);
      const found = seen.get(p.address)?.ports.find((q) => q.protocol === p.protocol && q.port === p.port);
      if (!host) continue;
      const kept = host.ports.filter((q) => !(q.protocol === p.protocol && q.port === p.port));
      host.ports = found ? [...kept, found] : kept;
    }
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
  | 'reportId'
  | 'scanId'
  | 'baselineResultId'
  | 'currentResultId'
  | 'counts'
  | 'confirmed'
  | 'flappingCount'
  | 'verificationStatus'
  | 'verifyResultId'
>;

function emptyCounts(): ConfirmedCounts {
  return {
    new_ports_count: 0,
    closed_ports_count: 0,
    changed_services_count: 0,
    new_hosts_count: 0,
    removed_hosts_count: 0,
  };
}

/** ConfirmedCounts as the delta_reports columns. */
function confirmedColumns(c: ConfirmedCounts) {
  return {
    confirmed_new_ports_count: c.new_ports_count,
    confirmed_closed_ports_count: c.closed_ports_count,
    confirmed_changed_services_count: c.changed_services_count,
    confirmed_new_hosts_count: c.new_hosts_count,
    confirmed_removed_hosts_count: c.removed_hosts_count,
  };
}

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
