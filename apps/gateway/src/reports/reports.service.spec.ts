// ReportsService over an in-memory fake of the delta reports' queries and repository: the bodies of seed 003's
// "Delta Reports" endpoints, their 404s, and what a delete removes.
import { BadRequestException, NotFoundException } from '@nestjs/common';
import type {
  DeltaChangeRecord,
  DeltaReportFilter,
  DeltaReportQueries,
  DeltaReportRecord,
  DeltaReportRepository,
} from '@nso/persistence';
import { ReportsService } from './reports.service';

const DAY = 86_400_000;

interface FakeReport extends DeltaReportRecord {
  ownerId: number;
  changes: DeltaChangeRecord[];
}

/** delta_reports and delta_changes in memory, read as DeltaReportQueries reads them. */
class FakeReportStore {
  readonly scans = [
    { id: 7, name: 'web', ownerId: 3 },
    { id: 8, name: 'db', ownerId: 3 },
    { id: 9, name: 'theirs', ownerId: 4 },
  ];
  readonly reports: FakeReport[] = [];

  add(
    scanId: number,
    createdAt: Date,
    fields: Partial<DeltaReportRecord> = {},
    changes: DeltaChangeRecord[] = [],
  ): FakeReport {
    const id = this.reports.length + 1;
    const report: FakeReport = {
      id,
      scanId,
      baselineResultId: id * 10,
      currentResultId: id * 10 + 1,
      reportType: 'delta',
      status: 'generated',
      createdAt,
      newPortsCount: 0,
      closedPortsCount: 0,
      changedServicesCount: 0,
      newHostsCount: 0,
      removedHostsCount: 0,
      hasChanges: false,
      verificationStatus: null,
      verifyResultId: null,
      confirmedNewPortsCount: 0,
      confirmedClosedPortsCount: 0,
      confirmedChangedServicesCount: 0,
      confirmedNewHostsCount: 0,
      confirmedRemovedHostsCount: 0,
      flappingCount: 0,
      deltaData: { scanner: { name: 'nso-delta', version: 1 }, delta: { comparable: true } },
      ...fields,
      ownerId: this.scans.find((s) => s.id === scanId)!.ownerId,
      changes,
    };
    this.reports.push(report);
    return report;
  }

  private record({ ownerId: _o, changes: _c, deltaData, ...row }: FakeReport, withData: boolean) {
    return withData ? { ...row, deltaData } : row;
  }

  private async *changesOf(reportId: number): AsyncGenerator<DeltaChangeRecord> {
    yield* this.reports.find((r) => r.id === reportId)?.changes ?? [];
  }

  private async *legacyOf(scanId: number, since: Date): AsyncGenerator<Record<string, unknown>> {
    for (const r of this.inPeriod(scanId, since))
      if (r.hasChanges && r.changes.length === 0) yield r.deltaData!;
  }

  private inPeriod(scanId: number, since: Date) {
    return this.reports.filter((r) => r.scanId === scanId && r.createdAt >= since);
  }

  readonly queries: Pick<
    DeltaReportQueries,
    | 'ownedScan'
    | 'ownedReport'
    | 'page'
    | 'changes'
    | 'totals'
    | 'changeCountsByHost'
    | 'changeCountsByPort'
    | 'legacyDeltaData'
    | 'changeKinds'
    | 'acceptances'
  > = {
    ownedScan: async (ownerId, scanId) => {
      const scan = this.scans.find((s) => s.id === scanId && s.ownerId === ownerId);
      return scan && { id: scan.id, name: scan.name };
    },
    ownedReport: async (ownerId, reportId, withData = false) => {
      const report = this.reports.find((r) => r.id === reportId && r.ownerId === ownerId);
      return report && this.record(report, withData);
    },
    page: async (filter: DeltaReportFilter, limit, offset) => {
      const selected = this.reports
        .filter((r) => filter.scanId === undefined || r.scanId === filter.scanId)
        .filter((r) => filter.ownerId === undefined || r.ownerId === filter.ownerId)
        .filter((r) => !filter.onlyChanges || r.hasChanges)
        .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || b.id - a.id);
      return {
        reports: selected.slice(offset, offset + limit).map((r) => this.record(r, false)),
        total: selected.length,
      };
    },
    changes: (reportId) => this.changesOf(reportId),
    totals: async (scanId, since) => {
      const rows = this.inPeriod(scanId, since);
      const sum = (f: (r: FakeReport) => number) => rows.reduce((n, r) => n + f(r), 0);
      return {
        totalReports: rows.length,
        reportsWithChanges: rows.filter((r) => r.hasChanges).length,
        newPorts: sum((r) => r.newPortsCount),
        closedPorts: sum((r) => r.closedPortsCount),
        changedServices: sum((r) => r.changedServicesCount),
        newHosts: sum((r) => r.newHostsCount),
        removedHosts: sum((r) => r.removedHostsCount),
      };
    },
    changeCountsByHost: async (scanId, since, kinds) => {
      const counts = new Map<string, number>();
      for (const c of this.inPeriod(scanId, since).flatMap((r) => r.changes))
        if (kinds.includes(c.kind)) counts.set(c.address, (counts.get(c.address) ?? 0) + 1);
      return [...counts].map(([address, count]) => ({ address, count }));
    },
    changeCountsByPort: async (scanId, since, kinds) => {
      const counts = new Map<string, { protocol: string; port: number; count: number }>();
      for (const c of this.inPeriod(scanId, since).flatMap((r) => r.changes)) {
        if (!kinds.includes(c.kind)) continue;
        const key = `${c.protocol}/${c.port}`;
        const entry = counts.get(key) ?? { protocol: c.protocol!, port: c.port!, count: 0 };
        entry.count++;
        counts.set(key, entry);
      }
      return [...counts.values()];
    },
    legacyDeltaData: (scanId, since) => this.legacyOf(scanId, since),
    changeKinds: async (reportId, seqs) => {
      const changes = this.reports.find((r) => r.id === reportId)?.changes ?? [];
      return new Map(changes.filter((c) => seqs.includes(c.seq)).map((c) => [c.seq, c.kind]));
    },
    acceptances: async (reportId, kinds, seqs) =>
      this.covered(reportId, kinds, seqs).map((c) => ({
        seq: c.seq,
        acceptedAt: c.accepted_at,
        acceptedBy: c.accepted_by,
        username: c.accepted_by === 3 ? 'alice' : null,
      })),
  };

  private covered(reportId: number, kinds: readonly string[], seqs?: readonly number[]) {
    return (this.reports.find((r) => r.id === reportId)?.changes ?? []).filter(
      (c) => kinds.includes(c.kind) && (!seqs || seqs.includes(c.seq)),
    );
  }

  readonly repository: Pick<DeltaReportRepository, 'delete' | 'accept'> = {
    accept: async (reportId, { userId, at, kinds, seqs }) => {
      const rows = this.covered(reportId, kinds, seqs).filter((c) => c.accepted_at === null);
      for (const c of rows) Object.assign(c, { accepted_at: at, accepted_by: userId });
      return rows.length;
    },
    delete: async (reportId) => {
      const at = this.reports.findIndex((r) => r.id === reportId);
      if (at >= 0) this.reports.splice(at, 1);
      return at >= 0;
    },
  };
}

let store: FakeReportStore;
let service: ReportsService;

const change = (
  seq: number,
  kind: DeltaChangeRecord['kind'],
  address: string,
  port?: number,
): DeltaChangeRecord => ({
  seq,
  kind,
  address,
  protocol: port === undefined ? null : 'tcp',
  port: port ?? null,
  before: kind === 'removed_port' ? { state: 'open', service: 'ssh' } : null,
  after: kind === 'added_port' ? { state: 'open', service: 'http' } : null,
  detail: null,
  verification: null,
  flapping: false,
  exposure: null,
  accepted_at: null,
  accepted_by: null,
  accepted_by_username: null,
});

beforeEach(() => {
  store = new FakeReportStore();
  service = new ReportsService(
    store.queries as DeltaReportQueries,
    store.repository as DeltaReportRepository,
  );
});

describe('ReportsService lists', () => {
  it("pages a scan's reports newest first with seed 003's paging fields", async () => {
    const now = Date.now();
    store.add(7, new Date(now - 3 * DAY), { hasChanges: true });
    store.add(7, new Date(now - 2 * DAY));
    store.add(7, new Date(now - DAY), { hasChanges: true });
    store.add(9, new Date(now));

    const second = await service.ofScan(3, 7, { page: 2, per_page: 2 });
    expect(second).toMatchObject({
      total: 3,
      pages: 2,
      current_page: 2,
      per_page: 2,
      has_next: false,
      has_prev: true,
    });
    expect(second.reports.map((r) => r.id)).toEqual([1]);
    expect(second.reports[0]).toEqual({
      id: 1,
      scan_id: 7,
      baseline_result_id: 10,
      current_result_id: 11,
      report_type: 'delta',
      status: 'generated',
      created_at: new Date(now - 3 * DAY).toISOString(),
      new_ports_count: 0,
      closed_ports_count: 0,
      changed_services_count: 0,
      new_hosts_count: 0,
      removed_hosts_count: 0,
      has_changes: true,
      confirmed_new_ports_count: 0,
      confirmed_closed_ports_count: 0,
      confirmed_changed_services_count: 0,
      confirmed_new_hosts_count: 0,
      confirmed_removed_hosts_count: 0,
      flapping_count: 0,
      verification: { status: null, result_id: null },
    });

    const changed = await service.ofScan(3, 7, { only_changes: true });
    expect(changed.reports.map((r) => r.id)).toEqual([3, 1]);
    expect(changed).toMatchObject({ total: 2, pages: 1, current_page: 1, per_page: 10, has_next: false });
  });

  it("takes seed 003's Pagination aliases too: limit for per_page, offset instead of page", async () => {
    const now = Date.now();
    for (let i = 4; i >= 1; i--) store.add(7, new Date(now - i * DAY));
    store.add(8, new Date(now));

    const window = await service.ofScan(3, 7, { limit: 2, offset: 1 });
    expect(window.reports.map((r) => r.id)).toEqual([3, 2]);
    // Row 1 before the window is a (short) page of its own: the window is page 2 of 3, with pages on both sides.
    expect(window).toMatchObject({
      total: 4,
      per_page: 2,
      current_page: 2,
      pages: 3,
      has_next: true,
      has_prev: true,
    });
    const last = await service.ofScan(3, 7, { limit: 3, offset: 3 });
    expect(last.reports.map((r) => r.id)).toEqual([1]);
    expect(last).toMatchObject({ pages: 2, current_page: 2, has_next: false, has_prev: true });
    expect((await service.ofScan(3, 7, { limit: 1, per_page: 3 })).per_page).toBe(3);

    const mine = await service.ofUser(3, { limit: 2, offset: 4 });
    expect(mine.reports.map((r) => r.id)).toEqual([1]);
    expect(mine.pagination).toEqual({
      page: 3,
      per_page: 2,
      total_items: 5,
      total_pages: 3,
      has_next: false,
      has_prev: true,
    });
    const both = await service.ofScan(3, 7, { page: 1, offset: 1 }).catch((e: unknown) => e);
    expect((both as BadRequestException).getResponse()).toEqual({
      error: 'Give either page or offset, not both',
    });
  });

  it("answers 404 for another user's scan", async () => {
    const error = await service.ofScan(3, 9, {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotFoundException);
    expect((error as NotFoundException).getResponse()).toEqual({ error: 'Scan not found' });
    await expect(service.summary(3, 9, {})).rejects.toThrow(NotFoundException);
  });

  it("lists every report of the user's scans with a pagination object", async () => {
    store.add(7, new Date(Date.now() - DAY));
    store.add(8, new Date());
    store.add(9, new Date());

    const body = await service.ofUser(3, { per_page: 1 });

    expect(body.reports.map((r) => [r.id, r.scan_id])).toEqual([[2, 8]]);
    expect(body.pagination).toEqual({
      page: 1,
      per_page: 1,
      total_items: 2,
      total_pages: 2,
      has_next: true,
      has_prev: false,
    });
  });
});

describe('ReportsService one report', () => {
  it('shows delta_data with its lists rebuilt from the change rows only when include_data is true', async () => {
    store.add(7, new Date(), { hasChanges: true, newPortsCount: 1 }, [
      change(1, 'added_port', '127.0.0.1', 80),
    ]);

    const plain = await service.one(3, 1, {});
    expect(plain).not.toHaveProperty('delta_data');
    expect(plain).toMatchObject({ id: 1, new_ports_count: 1, has_changes: true });

    const full = await service.one(3, 1, { include_data: true });
    expect(full).toMatchObject({
      id: 1,
      delta_data: {
        scanner: { name: 'nso-delta', version: 1 },
        delta: {
          comparable: true,
          new_up_hosts: [],
          added_ports: [{ host: '127.0.0.1', protocol: 'tcp', port: 80, state: 'open', service: 'http' }],
          removed_ports: [],
          unverified: [],
        },
      },
    });
  });

  it('shows the lists of a report stored before the change rows as they were stored', async () => {
    const legacy = { delta: { new_up_hosts: [{ host: '127.0.0.2' }], added_ports: [] } };
    store.add(7, new Date(), { hasChanges: true, deltaData: legacy });

    await expect(service.one(3, 1, { include_data: true })).resolves.toMatchObject({ delta_data: legacy });
  });

  it("answers 404 for another user's report, and deletes nothing", async () => {
    store.add(9, new Date());

    const error = await service.one(3, 1, {}).catch((e: unknown) => e);
    expect((error as NotFoundException).getResponse()).toEqual({ error: 'Report not found' });
    await expect(service.remove(3, 1)).rejects.toThrow(NotFoundException);
    expect(store.reports).toHaveLength(1);
  });

  it("deletes the user's report", async () => {
    store.add(7, new Date());
    store.add(7, new Date());

    await expect(service.remove(3, 1)).resolves.toEqual({ message: 'Delta report deleted successfully' });
    expect(store.reports.map((r) => r.id)).toEqual([2]);
  });
});

describe('ReportsService summary', () => {
  it('sums the reports of the period and ranks the hosts and ports that changed most', async () => {
    const now = Date.now();
    // Stored before delta_changes: its lists are in delta_data.
    store.add(7, new Date(now - 2 * DAY), {
      hasChanges: true,
      newPortsCount: 1,
      newHostsCount: 1,
      deltaData: {
        delta: {
          new_up_hosts: [{ host: '127.0.0.2' }],
          added_ports: [{ host: '127.0.0.1', protocol: 'tcp', port: 80 }],
        },
      },
    });
    store.add(7, new Date(now - DAY), { hasChanges: true, newPortsCount: 1, closedPortsCount: 1 }, [
      change(1, 'added_port', '127.0.0.1', 80),
      change(2, 'removed_port', '127.0.0.1', 22),
      change(3, 'unverified_host', '127.0.0.9'),
    ]);
    store.add(7, new Date(now - DAY / 2));
    // Outside the default 30 days, and another scan's.
    store.add(7, new Date(now - 40 * DAY), { hasChanges: true, newPortsCount: 5 }, [
      change(1, 'added_port', '127.0.0.5', 443),
    ]);
    store.add(8, new Date(now), { hasChanges: true, newPortsCount: 1 }, [
      change(1, 'added_port', '127.0.0.6', 25),
    ]);

    const body = await service.summary(3, 7, {});

    expect(body).toMatchObject({
      scan_id: 7,
      days: 30,
      total_reports: 3,
      reports_with_changes: 2,
      summary: {
        total_new_ports: 2,
        total_closed_ports: 1,
        total_changed_services: 0,
        total_new_hosts: 1,
        total_removed_hosts: 0,
      },
      trend: {
        most_active_hosts: [
          { host: '127.0.0.1', change_count: 3 },
          { host: '127.0.0.2', change_count: 1 },
        ],
        most_changed_ports: [
          { port: 80, protocol: 'tcp', change_count: 2 },
          { port: 22, protocol: 'tcp', change_count: 1 },
        ],
      },
    });
    const start = Date.parse(body.period_start);
    expect(Date.parse(body.period_end) - start).toBe(30 * DAY);
  });

  it('counts only the last `days` days', async () => {
    store.add(7, new Date(Date.now() - 2 * DAY), { hasChanges: true, newPortsCount: 1 });
    store.add(7, new Date(Date.now() - DAY / 2), { hasChanges: true, closedPortsCount: 1 });

    const body = await service.summary(3, 7, { days: 1 });

    expect(body).toMatchObject({
      days: 1,
      total_reports: 1,
      summary: { total_new_ports: 0, total_closed_ports: 1 },
    });
  });
});

describe('ReportsService accept', () => {
  const changes = () => [
    change(1, 'new_up_host', '127.0.9.7'),
    change(2, 'added_port', '127.0.9.5', 443),
    change(3, 'removed_port', '127.0.9.5', 80),
    change(4, 'unverified_host', '127.0.9.6'),
  ];

  it('accepts the named changes, then the rest; the first who and when stay', async () => {
    const report = store.add(7, new Date(), { hasChanges: true }, changes());
    const first = await service.accept({ id: 3 }, report.id, { change_ids: [3, 2, 3] });
    expect(first).toEqual({
      message: '2 change(s) accepted',
      report_id: report.id,
      accepted: 2,
      already_accepted: 0,
      changes: [2, 3].map((change_id) => ({
        change_id,
        accepted: { by: 3, by_username: 'alice', at: expect.any(String) },
      })),
    });
    const at = report.changes[1].accepted_at;
    const all = await service.accept({ id: 3 }, report.id, undefined);
    expect(all).toMatchObject({
      accepted: 1,
      already_accepted: 2,
      message: '1 change(s) accepted, 2 already accepted',
    });
    expect(all.changes.map((c) => c.change_id)).toEqual([1, 2, 3]);
    expect(report.changes[1].accepted_at).toBe(at);
    // The unverified entry is no change: never accepted.
    expect(report.changes[3].accepted_at).toBeNull();
  });

  it('refuses ids that are no change of the report, naming each, and writes nothing', async () => {
    const report = store.add(7, new Date(), { hasChanges: true }, changes());
    await expect(service.accept({ id: 3 }, report.id, { change_ids: [1, 4, 99] })).rejects.toMatchObject({
      status: 400,
      response: {
        error: `change_ids not changes of report ${report.id}: 4, 99`,
        field: 'change_ids',
        details: ['4: an unverified entry, not a change', `99: no change of report ${report.id}`],
      },
    });
    expect(report.changes.map((c) => c.accepted_at)).toEqual([null, null, null, null]);
  });

  it("is a 404 for another user's report", async () => {
    const report = store.add(9, new Date(), { hasChanges: true }, changes());
    await expect(service.accept({ id: 3 }, report.id, {})).rejects.toBeInstanceOf(NotFoundException);
    expect(report.changes.map((c) => c.accepted_at)).toEqual([null, null, null, null]);
  });
});
