// DeltaReportService over in-memory fakes of its repository, its run queries and its announcers: the report a
// run gets, what is stored with it, and when its announcement is made, retried or left owed.
import { Logger } from '@nestjs/common';
import type { AppConfig } from '@nso/config';
import type { DeltaJobs, Notifier, ScanEventPublisher } from '@nso/events';
import type {
  DeltaChangeInsert,
  DeltaReportInsert,
  DeltaReportRepository,
  RunContents,
  RunFacts,
  RunHistoryQueries,
  RunHostRecord,
  StoredDeltaReport,
} from '@nso/persistence';
import type { WebhookJobs } from '@nso/webhooks';
import type { ChangeVerification } from './change-verification';
import { DELTA_SCANNER, DeltaReportService } from './delta-report.service';

interface SavedReport extends DeltaReportInsert {
  id: number;
  changes: DeltaChangeInsert[];
}

/** delta_reports and delta_changes in memory, with the repository's insert-or-ignore and conditional update. */
class FakeDeltaReports implements Pick<
  DeltaReportRepository,
  'insert' | 'findByRuns' | 'findOwed' | 'markAnnounced' | 'announceableCount' | 'notConfirmedPorts'
> {
  readonly saved: SavedReport[] = [];

  async insert(report: DeltaReportInsert, changes: Iterable<DeltaChangeInsert>) {
    const pair = (r: DeltaReportInsert) => `${r.baseline_result_id}/${r.current_result_id}`;
    if (this.saved.some((r) => pair(r) === pair(report))) return undefined;
    const createdAt = report.created_at ?? new Date();
    const announcedAt = report.announced_at === undefined ? createdAt : report.announced_at;
    const id = this.saved.length + 1;
    this.saved.push({
      ...report,
      created_at: createdAt,
      announced_at: announcedAt,
      id,
      changes: [...changes],
    });
    return id;
  }

  async findByRuns(baseline: number, current: number) {
    const row = this.saved.find((r) => r.baseline_result_id === baseline && r.current_result_id === current);
    return row && stored(row);
  }

  async findOwed(createdBefore: Date, limit: number) {
    return this.saved
      .filter((r) => r.announced_at === null && r.created_at! < createdBefore)
      .slice(0, limit)
      .map(stored);
  }

  /** No report here was verified: no baseline is corrected by a rescan. */
  async notConfirmedPorts() {
    return { verifyResultId: 0, ports: [] };
  }

  /** Changes worth announcing: change kinds not of flapping ports (no verdicts here: verification is off). */
  async announceableCount(reportId: number) {
    const row = this.saved.find((r) => r.id === reportId);
    return (row?.changes ?? []).filter((c) => !c.kind.startsWith('unverified') && !c.flapping).length;
  }

  async markAnnounced(reportId: number, at = new Date()) {
    const row = this.saved.find((r) => r.id === reportId && r.announced_at === null);
    if (row) row.announced_at = at;
    return row !== undefined;
  }
}

function stored(r: SavedReport): StoredDeltaReport {
  return {
    reportId: r.id,
    scanId: r.scan_id,
    baselineResultId: r.baseline_result_id,
    currentResultId: r.current_result_id,
    counts: {
      new_ports_count: r.new_ports_count,
      closed_ports_count: r.closed_ports_count,
      changed_services_count: r.changed_services_count,
      new_hosts_count: r.new_hosts_count,
      removed_hosts_count: r.removed_hosts_count,
      has_changes: r.has_changes,
    },
    announced: r.announced_at !== null,
    verificationStatus: r.verification_status ?? null,
    verifyResultId: null,
    confirmed: {
      new_ports_count: r.confirmed_new_ports_count ?? 0,
      closed_ports_count: r.confirmed_closed_ports_count ?? 0,
      changed_services_count: r.confirmed_changed_services_count ?? 0,
      new_hosts_count: r.confirmed_new_hosts_count ?? 0,
      removed_hosts_count: r.confirmed_removed_hosts_count ?? 0,
    },
    flappingCount: r.flapping_count ?? 0,
  };
}

interface FakeRun {
  facts: RunFacts & { scan_id: number };
  contents: RunContents;
}

/** Runs of scan 7 ("web", owned by user 3), by result id. */
class FakeRunHistory implements Pick<
  RunHistoryQueries,
  'run' | 'baselineOf' | 'contents' | 'scanOwner' | 'trustSettings' | 'observations'
> {
  readonly runs = new Map<number, FakeRun>();

  add(resultId: number, status: string, hosts: RunHostRecord[]): void {
    const facts: RunFacts & { scan_id: number } = {
      result_id: resultId,
      status,
      trigger: 'api-start',
      started_at: '2026-12-01T10:00:00.000Z',
      finished_at: '2026-12-01T10:01:00.000Z',
      nmap_flags: ['-sT', '-p', '22,80'],
      targets: ['127.0.0.1'],
      hosts_up: hosts.filter((h) => h.state === 'up').length,
      open_ports: hosts.flatMap((h) => h.ports).filter((p) => p.state === 'open').length,
      batches_total: 1,
      batches_failed: 0,
      scan_id: 7,
    };
    this.runs.set(resultId, {
      facts,
      contents: { hosts, scanned: new Set(['127.0.0.1']), failed: new Set() },
    });
  }

  async run(resultId: number) {
    return this.runs.get(resultId)?.facts;
  }

  async baselineOf(scanId: number, resultId: number) {
    const earlier = [...this.runs.values()]
      .map((r) => r.facts)
      .filter((f) => f.scan_id === scanId && f.status === 'completed' && f.result_id < resultId)
      .sort((a, b) => b.result_id - a.result_id);
    if (earlier.length === 0) return undefined;
    const { scan_id: _scanId, ...facts } = earlier[0];
    return facts;
  }

  async contents(resultId: number) {
    return this.runs.get(resultId)!.contents;
  }

  /** Scan 7 does not verify its changes here (ChangeVerification has its own tests, on real runs). */
  async trustSettings() {
    return {
      isActive: true,
      verifyChanges: false,
      verifyDelaySeconds: 30,
      announceUnconfirmed: false,
      flapWindow: 10,
      flapThreshold: 3,
      expectedPorts: null,
    };
  }

  async observations() {
    return [];
  }

  async scanOwner(scanId: number) {
    return scanId === 7 ? { ownerId: 3, name: 'web' } : undefined;
  }
}

const port = (n: number, service: string) => ({
  protocol: 'tcp',
  port: n,
  state: 'open',
  service,
  product: null,
  version: null,
  extrainfo: null,
});
const host = (...ports: ReturnType<typeof port>[]): RunHostRecord => ({
  address: '127.0.0.1',
  state: 'up',
  hostnames: ['localhost'],
  ports,
});

describe('DeltaReportService', () => {
  let reports: FakeDeltaReports;
  let runs: FakeRunHistory;
  let published: Array<{ target: unknown; body: Record<string, unknown> }>;
  let webhookJobs: Array<{ reportId: number; scanId: number }>;
  let notifications: Array<{ userId: number; message: string }>;
  let failPublish: number;
  let failNotify: boolean;
  let service: DeltaReportService;

  beforeAll(() => Logger.overrideLogger(false));
  afterAll(() => Logger.overrideLogger(['log', 'error', 'warn']));

  beforeEach(() => {
    reports = new FakeDeltaReports();
    runs = new FakeRunHistory();
    published = [];
    webhookJobs = [];
    notifications = [];
    failPublish = 0;
    failNotify = false;
    const events = {
      publish: async (target: unknown, body: Record<string, unknown>) => {
        if (failPublish > 0) {
          failPublish--;
          throw new Error('Redis is away');
        }
        published.push({ target, body });
      },
    } as unknown as ScanEventPublisher;
    const webhooks = {
      reportStored: async (report: { reportId: number; scanId: number }) => {
        webhookJobs.push({ reportId: report.reportId, scanId: report.scanId });
        return [];
      },
    } as unknown as WebhookJobs;
    const notifier = {
      notifyUser: async (userId: number, notification: { message: string }) => {
        if (failNotify) throw new Error('Redis is away');
        notifications.push({ userId, message: notification.message });
        return 1;
      },
    } as unknown as Notifier;
    service = new DeltaReportService(
      reports as unknown as DeltaReportRepository,
      runs as unknown as RunHistoryQueries,
      events,
      webhooks,
      notifier,
      {} as ChangeVerification,
      {} as DeltaJobs,
      { deltaHoldMs: 0 } as AppConfig,
    );
  });

  it('stores the report of a run against its baseline with its change rows, and announces it', async () => {
    runs.add(1, 'completed', [host(port(22, 'ssh'))]);
    runs.add(2, 'completed', [host(port(22, 'ssh'), port(80, 'http'))]);

    const outcome = await service.generate({ scanId: 7, resultId: 2 });

    const counts = {
      new_ports_count: 1,
      closed_ports_count: 0,
      changed_services_count: 0,
      new_hosts_count: 0,
      removed_hosts_count: 0,
      has_changes: true,
    };
    expect(outcome).toEqual({ kind: 'stored', reportId: 1, counts });
    expect(reports.saved).toHaveLength(1);
    const [report] = reports.saved;
    expect(report).toMatchObject({ scan_id: 7, baseline_result_id: 1, current_result_id: 2, ...counts });
    expect(report.delta_data).toMatchObject({
      scanner: DELTA_SCANNER,
      baseline: { result_id: 1, addresses_scanned: 1, addresses_failed: 0 },
      current: { result_id: 2, scan_id: 7, addresses_scanned: 1 },
      delta: { comparable: true },
    });
    expect(report.changes).toEqual([
      expect.objectContaining({
        seq: 1,
        kind: 'added_port',
        address: '127.0.0.1',
        protocol: 'tcp',
        port: 80,
      }),
    ]);
    expect(report.announced_at).toBeInstanceOf(Date);
    expect(published).toEqual([
      {
        target: { scanId: 7, resultId: 2 },
        body: {
          event: 'delta_report',
          scan_id: 7,
          report_id: 1,
          baseline_result_id: 1,
          current_result_id: 2,
          summary: counts,
          // Not verified (scan 7 does not ask): the change counts as confirmed.
          confirmed: {
            new_ports_count: 1,
            closed_ports_count: 0,
            changed_services_count: 0,
            new_hosts_count: 0,
            removed_hosts_count: 0,
          },
          flapping_count: 0,
          verification: { status: null, result_id: null },
        },
      },
    ]);
    expect(webhookJobs).toEqual([{ reportId: 1, scanId: 7 }]);
    expect(notifications).toEqual([
      { userId: 3, message: 'Scan "web" (#7) changed: 1 new ports (report 1)' },
    ]);
  });

  it('skips a run that does not exist, has not completed, or is the first completed run', async () => {
    runs.add(1, 'completed', [host(port(22, 'ssh'))]);
    runs.add(2, 'stopped', [host()]);

    await expect(service.generate({ scanId: 7, resultId: 9 })).resolves.toEqual({
      kind: 'skipped',
      why: 'result 9 does not exist',
    });
    await expect(service.generate({ scanId: 7, resultId: 2 })).resolves.toEqual({
      kind: 'skipped',
      why: 'result 2 is stopped, not completed',
    });
    await expect(service.generate({ scanId: 7, resultId: 1 })).resolves.toEqual({
      kind: 'skipped',
      why: 'result 1 is the first completed run',
    });
    expect(reports.saved).toEqual([]);
    expect(published).toEqual([]);
  });

  it('keeps one report and one announcement when the job runs twice', async () => {
    runs.add(1, 'completed', [host(port(22, 'ssh'))]);
    runs.add(2, 'completed', [host()]);

    const first = await service.generate({ scanId: 7, resultId: 2 });
    const second = await service.generate({ scanId: 7, resultId: 2 });

    expect(first).toMatchObject({ kind: 'stored', reportId: 1, counts: { closed_ports_count: 1 } });
    expect(second).toEqual({ kind: 'exists', reportId: 1, counts: first.kind === 'stored' && first.counts });
    expect(reports.saved).toHaveLength(1);
    expect(published).toHaveLength(1);
    expect(webhookJobs).toHaveLength(1);
  });

  it('stores a report without changes as announced, and announces nothing', async () => {
    runs.add(1, 'completed', [host(port(22, 'ssh'))]);
    runs.add(2, 'completed', [host(port(22, 'ssh'))]);

    const outcome = await service.generate({ scanId: 7, resultId: 2 });

    expect(outcome).toMatchObject({ kind: 'stored', counts: { has_changes: false } });
    expect(reports.saved[0].changes).toEqual([]);
    expect(reports.saved[0].announced_at).toEqual(reports.saved[0].created_at);
    expect(published).toEqual([]);
    expect(webhookJobs).toEqual([]);
    expect(notifications).toEqual([]);
  });

  it('leaves the report owed when its event cannot be published, and the retry announces it', async () => {
    runs.add(1, 'completed', [host(port(22, 'ssh'))]);
    runs.add(2, 'completed', [host(port(22, 'ssh'), port(80, 'http'))]);
    failPublish = 1;

    await expect(service.generate({ scanId: 7, resultId: 2 })).rejects.toThrow('Redis is away');
    expect(reports.saved).toHaveLength(1);
    expect(reports.saved[0].announced_at).toBeNull();
    expect(webhookJobs).toEqual([]);

    await expect(service.generate({ scanId: 7, resultId: 2 })).resolves.toMatchObject({
      kind: 'exists',
      reportId: 1,
    });
    expect(reports.saved).toHaveLength(1);
    expect(published).toHaveLength(1);
    expect(webhookJobs).toEqual([{ reportId: 1, scanId: 7 }]);
    expect(reports.saved[0].announced_at).toBeInstanceOf(Date);
  });

  it('announces the report when its owner cannot be notified', async () => {
    runs.add(1, 'completed', [host(port(22, 'ssh'))]);
    runs.add(2, 'completed', [host(port(22, 'ssh'), port(80, 'http'))]);
    failNotify = true;

    await expect(service.generate({ scanId: 7, resultId: 2 })).resolves.toMatchObject({ kind: 'stored' });
    expect(published).toHaveLength(1);
    expect(webhookJobs).toHaveLength(1);
    expect(reports.saved[0].announced_at).toBeInstanceOf(Date);
  });

  it('announces the owed reports older than the grace period, oldest first', async () => {
    const now = new Date('2026-12-01T12:00:00Z');
    const report = (baseline: number, createdAt: Date, announcedAt: Date | null): DeltaReportInsert => ({
      scan_id: 7,
      baseline_result_id: baseline,
      current_result_id: baseline + 1,
      new_ports_count: 1,
      closed_ports_count: 0,
      changed_services_count: 0,
      new_hosts_count: 0,
      removed_hosts_count: 0,
      has_changes: true,
      delta_data: {},
      created_at: createdAt,
      announced_at: announcedAt,
    });
    const hourAgo = new Date(now.getTime() - 3600_000);
    const added = {
      seq: 1,
      kind: 'added_port',
      address: '127.0.0.1',
      protocol: 'tcp',
      port: 80,
      before: null,
      after: { state: 'open' },
      detail: null,
    };
    await reports.insert(report(1, hourAgo, null), [added]);
    await reports.insert(report(2, hourAgo, hourAgo), []);
    await reports.insert(report(3, new Date(now.getTime() - 1000), null), []);

    await expect(service.announceOwed(now, 60_000)).resolves.toBe(1);

    expect(published.map((p) => p.body.report_id)).toEqual([1]);
    expect(webhookJobs).toEqual([{ reportId: 1, scanId: 7 }]);
    expect(reports.saved.map((r) => r.announced_at === null)).toEqual([false, false, true]);
  });
});
