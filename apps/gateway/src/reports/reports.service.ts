import { EntityManager, type FilterQuery } from '@mikro-orm/core';
import { Injectable, NotFoundException } from '@nestjs/common';
import { deltaListsOf, HOST_CHANGE_KINDS, PORT_CHANGE_KINDS } from '@nso/delta';
import { DeltaReport, knexOf, Scan } from '@nso/persistence';
import { DeltaChangesReader } from './delta-changes.reader';
import { ReportQuery, ReportsQuery, SummaryQuery } from './reports.dto';

const PER_PAGE = 10;
const TREND_TOP = 10;
/** Reports stored before delta_changes whose delta_data is read at once when the summary counts hosts and ports. */
const TREND_PAGE = 50;

/** A report row as seed 003 shows it (without delta_data). */
export function reportView(r: Omit<DeltaReport, 'deltaData'>) {
  return {
    id: r.id,
    scan_id: r.scan.id,
    baseline_result_id: r.baselineResult.id,
    current_result_id: r.currentResult.id,
    report_type: r.reportType,
    status: r.status,
    created_at: r.createdAt.toISOString(),
    new_ports_count: r.newPortsCount,
    closed_ports_count: r.closedPortsCount,
    changed_services_count: r.changedServicesCount,
    new_hosts_count: r.newHostsCount,
    removed_hosts_count: r.removedHostsCount,
    has_changes: r.hasChanges,
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
    private readonly em: EntityManager,
    private readonly changes: DeltaChangesReader,
  ) {}

  /** The user's scan, or 404 `{"error": "Scan not found"}`. */
  async ownScan(ownerId: number, scanId: number, em = this.em.fork()): Promise<Pick<Scan, 'id' | 'name'>> {
    const scan = await em.findOne(Scan, { id: scanId, owner: ownerId }, { fields: ['id', 'name'] });
    if (!scan) throw new NotFoundException({ error: 'Scan not found' });
    return scan;
  }

  /** The user's report (delta_data left unloaded unless asked), or 404 `{"error": "Report not found"}`. */
  async ownReport(
    ownerId: number,
    reportId: number,
    withData = false,
  ): Promise<Omit<DeltaReport, 'deltaData'> & { deltaData?: unknown }> {
    const report = await this.em
      .fork()
      .findOne(
        DeltaReport,
        { id: reportId, scan: { owner: ownerId } },
        withData ? {} : { exclude: ['deltaData'] },
      );
    if (!report) throw new NotFoundException({ error: 'Report not found' });
    return report;
  }

  /**
   * delta_data as the API shows it: `delta` gets its lists back from the report's change rows (delta_data keeps
   * only comparability there). A report stored before the delta_changes table has its lists in delta_data.
   */
  async withLists(reportId: number, deltaData: unknown): Promise<Record<string, unknown>> {
    const data = (deltaData ?? {}) as { delta?: Record<string, unknown> } & Record<string, unknown>;
    if (Array.isArray(data.delta?.new_up_hosts)) return data;
    const lists = await deltaListsOf(this.changes.rows(reportId));
    return { ...data, delta: { ...lists, ...data.delta } };
  }

  /** `GET /api/scan/{scan_id}/reports`: newest first, with seed 003's paging fields. */
  async ofScan(ownerId: number, scanId: number, query: ReportsQuery) {
    const em = this.em.fork();
    await this.ownScan(ownerId, scanId, em);
    const { reports, total, page, perPage } = await this.page(em, { scan: scanId }, query);
    const pages = Math.ceil(total / perPage);
    return {
      reports,
      total,
      pages,
      current_page: page,
      per_page: perPage,
      has_next: page < pages,
      has_prev: page > 1,
    };
  }

  /** `GET /api/user/reports`: every report of the user's scans, with seed 003's `pagination` object. */
  async ofUser(ownerId: number, query: ReportsQuery) {
    const { reports, total, page, perPage } = await this.page(
      this.em.fork(),
      { scan: { owner: ownerId } },
      query,
    );
    const pages = Math.ceil(total / perPage);
    return {
      reports,
      pagination: {
        page,
        per_page: perPage,
        total_items: total,
        total_pages: pages,
        has_next: page < pages,
        has_prev: page > 1,
      },
    };
  }

  /** `GET /api/report/{report_id}`: the row, and delta_data when include_data is true. */
  async one(ownerId: number, reportId: number, query: ReportQuery) {
    const report = await this.ownReport(ownerId, reportId, query.include_data === true);
    if (!query.include_data) return reportView(report);
    return { ...reportView(report), delta_data: await this.withLists(report.id, report.deltaData) };
  }

  /** `DELETE /api/report/{report_id}`. */
  async remove(ownerId: number, reportId: number) {
    const report = await this.ownReport(ownerId, reportId);
    await this.em.fork().nativeDelete(DeltaReport, { id: report.id });
    return { message: 'Delta report deleted successfully' };
  }

  /**
   * `GET /api/scan/{scan_id}/summary`: the reports of the last `days` days (default 30), their totals, and the
   * hosts and ports that changed most often (top 10 each). A change is one entry of a report's lists: a host
   * that came up or went down, a port added, removed or whose service changed.
   */
  async summary(ownerId: number, scanId: number, query: SummaryQuery) {
    const em = this.em.fork();
    await this.ownScan(ownerId, scanId, em);
    const days = query.days ?? 30;
    const periodEnd = new Date();
    const periodStart = new Date(periodEnd.getTime() - days * 86_400_000);
    const knex = knexOf(em);
    const inPeriod = () =>
      knex('delta_reports').where('scan_id', scanId).andWhere('created_at', '>=', periodStart);
    const [totals]: Array<Record<string, unknown>> = await inPeriod()
      .count({ total_reports: '*' })
      .select(
        knex.raw('coalesce(sum(case when has_changes then 1 else 0 end), 0) as reports_with_changes'),
        knex.raw('coalesce(sum(new_ports_count), 0) as total_new_ports'),
        knex.raw('coalesce(sum(closed_ports_count), 0) as total_closed_ports'),
        knex.raw('coalesce(sum(changed_services_count), 0) as total_changed_services'),
        knex.raw('coalesce(sum(new_hosts_count), 0) as total_new_hosts'),
        knex.raw('coalesce(sum(removed_hosts_count), 0) as total_removed_hosts'),
      );
    const hosts = new Map<string, number>();
    const ports = new Map<string, { port: number; protocol: string; change_count: number }>();
    const bump = (host: string, by = 1) => hosts.set(host, (hosts.get(host) ?? 0) + by);
    // The change rows of the period's reports, counted by the database: one row per host, one per port.
    const changesInPeriod = () =>
      knex('delta_changes as c')
        .join('delta_reports as r', 'r.id', 'c.report_id')
        .where('r.scan_id', scanId)
        .andWhere('r.created_at', '>=', periodStart);
    const byHost: Array<{ address: string; n: unknown }> = await changesInPeriod()
      .whereIn('c.kind', [...HOST_CHANGE_KINDS, ...PORT_CHANGE_KINDS])
      .groupBy('c.address')
      .select('c.address as address', knex.raw('count(*) as n'));
    for (const row of byHost) bump(row.address, Number(row.n));
    const byPort: Array<{ protocol: string; port: unknown; n: unknown }> = await changesInPeriod()
      .whereIn('c.kind', [...PORT_CHANGE_KINDS])
      .groupBy('c.protocol', 'c.port')
      .orderBy([{ column: 'c.protocol' }, { column: 'c.port' }])
      .select('c.protocol as protocol', 'c.port as port', knex.raw('count(*) as n'));
    for (const row of byPort) {
      const port = Number(row.port);
      ports.set(`${row.protocol}/${port}`, { port, protocol: row.protocol, change_count: Number(row.n) });
    }
    // Reports stored before the delta_changes table have their lists in delta_data, read a page at a time.
    for (let lastId = 0; ;) {
      const rows: Array<{ id: number | string; delta_data: unknown }> = await inPeriod()
        .andWhere('has_changes', true)
        .andWhere('id', '>', lastId)
        .whereNotExists(knex('delta_changes').whereRaw('delta_changes.report_id = delta_reports.id'))
        .orderBy('id')
        .limit(TREND_PAGE)
        .select('id', 'delta_data');
      if (rows.length === 0) break;
      lastId = Number(rows[rows.length - 1].id);
      for (const row of rows) {
        const data = (typeof row.delta_data === 'string' ? JSON.parse(row.delta_data) : row.delta_data) as {
          delta?: ChangeLists;
        };
        const d = data.delta ?? {};
        for (const h of [...(d.new_up_hosts ?? []), ...(d.new_down_hosts ?? [])]) bump(h.host);
        for (const p of [...(d.added_ports ?? []), ...(d.removed_ports ?? []), ...(d.changed_ports ?? [])]) {
          bump(p.host);
          const key = `${p.protocol}/${p.port}`;
          const entry = ports.get(key) ?? { port: p.port, protocol: p.protocol, change_count: 0 };
          entry.change_count++;
          ports.set(key, entry);
        }
      }
    }
    const n = (v: unknown) => Number(v ?? 0);
    return {
      scan_id: scanId,
      days,
      period_start: periodStart.toISOString(),
      period_end: periodEnd.toISOString(),
      total_reports: n(totals.total_reports),
      reports_with_changes: n(totals.reports_with_changes),
      summary: {
        total_new_ports: n(totals.total_new_ports),
        total_closed_ports: n(totals.total_closed_ports),
        total_changed_services: n(totals.total_changed_services),
        total_new_hosts: n(totals.total_new_hosts),
        total_removed_hosts: n(totals.total_removed_hosts),
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

  private async page(em: EntityManager, where: FilterQuery<DeltaReport>, query: ReportsQuery) {
    const perPage = query.per_page ?? PER_PAGE;
    const page = query.page ?? 1;
    const filter: FilterQuery<DeltaReport> = query.only_changes
      ? ({ ...(where as object), hasChanges: true } as FilterQuery<DeltaReport>)
      : where;
    const [rows, total] = await em.findAndCount(DeltaReport, filter, {
      exclude: ['deltaData'],
      orderBy: { createdAt: 'desc', id: 'desc' },
      limit: perPage,
      offset: (page - 1) * perPage,
    });
    return { reports: rows.map(reportView), total, page, perPage };
  }
}
