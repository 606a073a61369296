import { BadRequestException, Injectable, NotFoundException } from '@nestjs/common';
import { deltaListsOf, HOST_CHANGE_KINDS, PORT_CHANGE_KINDS } from '@nso/delta';
import {
  DeltaReportQueries,
  DeltaReportRepository,
  type DeltaReportFilter,
  type DeltaReportRecord,
} from '@nso/persistence';
import { pageFields, pageWindow } from '../common/pagination';
import {
  AcceptChangesDto,
  AcceptChangesResponseDto,
  ReportQuery,
  ReportsQuery,
  SummaryQuery,
} from './reports.dto';

const PER_PAGE = 10;
const TREND_TOP = 10;
/** What an accept covers: changes, not unverified entries (docs/delta.md "Accepted changes"). */
const ACCEPTABLE_KINDS = [...HOST_CHANGE_KINDS, ...PORT_CHANGE_KINDS];
/** Ids named in the 400's `error` at most (`details` names each). */
const NAMED_IDS = 20;

/**
 * A report row as seed 003 shows it (without delta_data), and beside the seed's fields what issue 21 adds
 * (docs/delta.md "Verified changes"): `verification` (`status` null/pending/done and the rescan's `result_id`),
 * the `confirmed_*` twins of the seed's counts, and `flapping_count`.
 */
export function reportView(r: DeltaReportRecord) {
  return {
    id: r.id,
    scan_id: r.scanId,
    baseline_result_id: r.baselineResultId,
    current_result_id: r.currentResultId,
    report_type: r.reportType,
    status: r.status,
    created_at: r.createdAt.toISOString(),
    new_ports_count: r.newPortsCount,
    closed_ports_count: r.closedPortsCount,
    changed_services_count: r.changedServicesCount,
    new_hosts_count: r.newHostsCount,
    removed_hosts_count: r.removedHostsCount,
    has_changes: r.hasChanges,
    confirmed_new_ports_count: r.confirmedNewPortsCount,
    confirmed_closed_ports_count: r.confirmedClosedPortsCount,
    confirmed_changed_services_count: r.confirmedChangedServicesCount,
    confirmed_new_hosts_count: r.confirmedNewHostsCount,
    confirmed_removed_hosts_count: r.confirmedRemovedHostsCount,
    flapping_count: r.flappingCount,
    verification: { status: r.verificationStatus, result_id: r.verifyResultId },
  };
}

interface ChangeLists {
  new_up_hosts?: Array<{ host: string }>;
  new_down_hosts?: Array<{ host: string }>;
  added_ports?: Array<{ host: string; protocol: string; port: number }>;
  removed_ports?: Array<{ host: string; protocol: string; port: number }>;
  changed_ports?: Array<{ host: string; protocol: string; port: number }>;
}

/** Seed 003 "Delta Reports": the stored reports of a user's scans. Another user's report or scan is a 404. */
@Injectable()
export class ReportsService {
  constructor(
    private readonly queries: DeltaReportQueries,
    private readonly repository: DeltaReportRepository,
  ) {}

  /** The user's scan (id and name), or 404 `{"error": "Scan not found"}`. */
  async ownScan(ownerId: number, scanId: number): Promise<{ id: number; name: string }> {
    const scan = await this.queries.ownedScan(ownerId, scanId);
    if (!scan) throw new NotFoundException({ error: 'Scan not found' });
    return scan;
  }

  /** The user's report (delta_data left unloaded unless asked), or 404 `{"error": "Report not found"}`. */
  async ownReport(ownerId: number, reportId: number, withData = false): Promise<DeltaReportRecord> {
    const report = await this.queries.ownedReport(ownerId, reportId, withData);
    if (!report) throw new NotFoundException({ error: 'Report not found' });
    return report;
  }

  /**
   * delta_data as the API shows it: `delta` gets its lists back from the report's change rows (delta_data keeps
   * only comparability there). A report stored before the delta_changes table has its lists in delta_data.
   */
  async withLists(
    reportId: number,
    deltaData: unknown,
    verifyResultId: number | null = null,
  ): Promise<Record<string, unknown>> {
    const data = (deltaData ?? {}) as { delta?: Record<string, unknown> } & Record<string, unknown>;
    if (Array.isArray(data.delta?.new_up_hosts)) return data;
    const lists = await deltaListsOf(this.queries.changes(reportId), verifyResultId);
    return { ...data, delta: { ...lists, ...data.delta } };
  }

  /** `GET /api/scan/{scan_id}/reports`: newest first, with seed 003's paging fields. */
  async ofScan(ownerId: number, scanId: number, query: ReportsQuery) {
    await this.ownScan(ownerId, scanId);
    const { reports, paging } = await this.page({ scanId }, query);
    return {
      reports,
      total: paging.total,
      pages: paging.pages,
      current_page: paging.page,
      per_page: paging.per_page,
      has_next: paging.has_next,
      has_prev: paging.has_prev,
    };
  }

  /** `GET /api/user/reports`: every report of the user's scans, with seed 003's `pagination` object. */
  async ofUser(ownerId: number, query: ReportsQuery) {
    const { reports, paging } = await this.page({ ownerId }, query);
    return {
      reports,
      pagination: {
        page: paging.page,
        per_page: paging.per_page,
        total_items: paging.total,
        total_pages: paging.pages,
        has_next: paging.has_next,
        has_prev: paging.has_prev,
      },
    };
  }

  /** `GET /api/report/{report_id}`: the row, and delta_data when include_data is true. */
  async one(ownerId: number, reportId: number, query: ReportQuery) {
    const report = await this.ownReport(ownerId, reportId, query.include_data === true);
    if (!query.include_data) return reportView(report);
    return {
      ...reportView(report),
      delta_data: await this.withLists(report.id, report.deltaData, report.verifyResultId),
    };
  }

  /**
   * `POST /api/report/{report_id}/accept` (docs/delta.md "Accepted changes"): marks the report's changes accepted
   * by the user now — every change (new up/down hosts, added, removed and changed ports; unverified entries are
   * not changes), or those `change_ids` name. A change accepted before keeps its first who and when (one
   * conditional UPDATE). 404 for another user's report; 400 naming each change_id that is no change of the
   * report, with nothing written. Answers the counts and every change covered with its acceptance.
   */
  async accept(
    user: { id: number },
    reportId: number,
    body: AcceptChangesDto = {},
  ): Promise<AcceptChangesResponseDto> {
    const report = await this.ownReport(user.id, reportId);
    const seqs = body.change_ids ? [...new Set(body.change_ids)].sort((a, b) => a - b) : undefined;
    if (seqs) {
      const kinds = await this.queries.changeKinds(report.id, seqs);
      const refused = seqs.filter((seq) => !ACCEPTABLE_KINDS.includes(kinds.get(seq) as never));
      if (refused.length > 0) {
        const named = refused.slice(0, NAMED_IDS).join(', ') + (refused.length > NAMED_IDS ? ', …' : '');
        throw new BadRequestException({
          error: `change_ids not changes of report ${report.id}: ${named}`,
          field: 'change_ids',
          details: refused.map((seq) =>
            kinds.has(seq)
              ? `${seq}: an unverified entry, not a change`
              : `${seq}: no change of report ${report.id}`,
          ),
        });
      }
    }
    const accepted = await this.repository.accept(report.id, {
      userId: user.id,
      at: new Date(),
      kinds: ACCEPTABLE_KINDS,
      seqs,
    });
    const rows = await this.queries.acceptances(report.id, ACCEPTABLE_KINDS, seqs);
    const changes = rows
      .filter((row) => row.acceptedAt !== null)
      .map((row) => ({
        change_id: row.seq,
        accepted: { by: row.acceptedBy, by_username: row.username, at: row.acceptedAt!.toISOString() },
      }));
    const already = changes.length - accepted;
    return {
      message: `${accepted} change(s) accepted` + (already > 0 ? `, ${already} already accepted` : ''),
      report_id: report.id,
      accepted,
      already_accepted: already,
      changes,
    };
  }

  /** `DELETE /api/report/{report_id}`: 404 for another user's report. */
  async remove(ownerId: number, reportId: number) {
    const report = await this.ownReport(ownerId, reportId);
    await this.repository.delete(report.id);
    return { message: 'Delta report deleted successfully' };
  }

  /**
   * `GET /api/scan/{scan_id}/summary`: the reports of the last `days` days (default 30), their totals, and the
   * hosts and ports that changed most often (top 10 each). A change is one entry of a report's lists: a host
   * that came up or went down, a port added, removed or whose service changed.
   */
  async summary(ownerId: number, scanId: number, query: SummaryQuery) {
    await this.ownScan(ownerId, scanId);
    const days = query.days ?? 30;
    const periodEnd = new Date();
    const periodStart = new Date(periodEnd.getTime() - days * 86_400_000);
    const totals = await this.queries.totals(scanId, periodStart);
    const hosts = new Map<string, number>();
    const ports = new Map<string, { port: number; protocol: string; change_count: number }>();
    const bump = (host: string, by = 1) => hosts.set(host, (hosts.get(host) ?? 0) + by);
    // The change rows of the period's reports, counted by the database: one row per host, one per port.
    const byHost = await this.queries.changeCountsByHost(scanId, periodStart, [
      ...HOST_CHANGE_KINDS,
      ...PORT_CHANGE_KINDS,
    ]);
    for (const row of byHost) bump(row.address, row.count);
    const byPort = await this.queries.changeCountsByPort(scanId, periodStart, PORT_CHANGE_KINDS);
    for (const row of byPort) {
      ports.set(`${row.protocol}/${row.port}`, {
        port: row.port,
        protocol: row.protocol,
        change_count: row.count,
      });
    }
    // Reports stored before the delta_changes table have their lists in delta_data.
    for await (const data of this.queries.legacyDeltaData(scanId, periodStart)) {
      const d = (data as { delta?: ChangeLists }).delta ?? {};
      for (const h of [...(d.new_up_hosts ?? []), ...(d.new_down_hosts ?? [])]) bump(h.host);
      for (const p of [...(d.added_ports ?? []), ...(d.removed_ports ?? []), ...(d.changed_ports ?? [])]) {
        bump(p.host);
        const key = `${p.protocol}/${p.port}`;
        const entry = ports.get(key) ?? { port: p.port, protocol: p.protocol, change_count: 0 };
        entry.change_count++;
        ports.set(key, entry);
      }
    }
    return {
      scan_id: scanId,
      days,
      period_start: periodStart.toISOString(),
      period_end: periodEnd.toISOString(),
      total_reports: totals.totalReports,
      reports_with_changes: totals.reportsWithChanges,
      summary: {
        total_new_ports: totals.newPorts,
        total_closed_ports: totals.closedPorts,
        total_changed_services: totals.changedServices,
        total_new_hosts: totals.newHosts,
        total_removed_hosts: totals.removedHosts,
      },
      trend: {
        most_active_hosts: [...hosts.entries()]
          .map(([host, change_count]) => ({ host, change_count }))
          .sort((a, b) => b.change_count - a.change_count || a.host.localeCompare(b.host))
          .slice(0, TREND_TOP),
        most_changed_ports: [...ports.values()]
          .sort((a, b) => b.change_count - a.change_count || a.port - b.port)
          .slice(0, TREND_TOP),
      },
    };
  }

  private async page(filter: DeltaReportFilter, query: ReportsQuery) {
    const window = pageWindow(query, PER_PAGE);
    const { reports, total } = await this.queries.page(
      { ...filter, onlyChanges: query.only_changes === true },
      window.limit,
      window.offset,
    );
    return { reports: reports.map(reportView), paging: pageFields(total, window) };
  }
}
