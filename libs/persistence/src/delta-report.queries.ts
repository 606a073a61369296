// The reads of seed 003's "Delta Reports" API: a user's reports page by page, one report, its change rows paged
// in order for the CSV export, and the sums the scan summary is made of. Writes are DeltaReportRepository's.
import type { EntityManager, FilterQuery } from '@mikro-orm/core';
import { DeltaReport, Scan, type DELTA_CHANGE_KIND_VALUES } from './entities';
import { knexOf } from './sql';

/** A delta report's row (delta_data only when asked for: it can be large). */
export interface DeltaReportRecord {
  id: number;
  scanId: number;
  baselineResultId: number;
  currentResultId: number;
  reportType: string;
  status: string;
  createdAt: Date;
  newPortsCount: number;
  closedPortsCount: number;
  changedServicesCount: number;
  newHostsCount: number;
  removedHostsCount: number;
  hasChanges: boolean;
  /** Issue 21: the rescan (null: not verified; `pending`; `done`), its run, the confirmed counts, flapping. */
  verificationStatus: 'pending' | 'done' | null;
  verifyResultId: number | null;
  confirmedNewPortsCount: number;
  confirmedClosedPortsCount: number;
  confirmedChangedServicesCount: number;
  confirmedNewHostsCount: number;
  confirmedRemovedHostsCount: number;
  flappingCount: number;
  /** `{scanner, baseline, current, delta, summary}` (docs/delta.md); present only when read with its data. */
  deltaData?: Record<string, unknown>;
}

/** One delta_changes row without its report id, JSON columns parsed (@nso/delta's DeltaChangeRow). */
export interface DeltaChangeRecord {
  seq: number;
  kind: (typeof DELTA_CHANGE_KIND_VALUES)[number];
  address: string;
  protocol: string | null;
  port: number | null;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  detail: Record<string, unknown> | null;
  /** The marks of issue 21 (@nso/delta's ChangeMarks). */
  verification: 'confirmed' | 'not_confirmed' | 'unverifiable' | null;
  flapping: boolean;
  exposure: 'expected' | 'unexpected' | 'missing' | null;
  accepted_at: Date | null;
  accepted_by: number | null;
  /** The accepting user's name; null when not accepted or the user is gone. */
  accepted_by_username: string | null;
}

/** Who accepted a change when (DeltaReportQueries.acceptances); `username` null when the user is gone. */
export interface ChangeAcceptanceRecord {
  seq: number;
  acceptedAt: Date | null;
  acceptedBy: number | null;
  username: string | null;
}

/** Which reports a list shows: a scan's, or every report of an owner's scans; optionally only those with changes. */
export interface DeltaReportFilter {
  scanId?: number;
  ownerId?: number;
  onlyChanges?: boolean;
}

/** The sums of a scan's reports over a period (0 when it has none). */
export interface DeltaReportTotals {
  totalReports: number;
  reportsWithChanges: number;
  newPorts: number;
  closedPorts: number;
  changedServices: number;
  newHosts: number;
  removedHosts: number;
}

/**
 * Change rows per page: a few hundred KB of row objects, which die young (a page is written out before V8's
 * scavenges promote it to the old generation), and 100 round trips for 100,000 rows. With pages of 5,000 the
 * gateway's resident set grew by 67 MB while exporting a 23 MB CSV (pages promoted, collected late); with 1,000,
 * by 7 MB.
 */
export const DELTA_CHANGE_PAGE = 1000;

/** Reports stored before delta_changes whose delta_data is read at once by legacyDeltaData. */
const LEGACY_PAGE = 50;

/** Provided by PersistenceModule, created after the migrations. */
export class DeltaReportQueries {
  constructor(private readonly em: EntityManager) {}

  /** The owner's scan (id and name), or undefined when it does not exist or is another user's. */
  async ownedScan(ownerId: number, scanId: number): Promise<{ id: number; name: string } | undefined> {
    const scan = await this.em
      .fork()
      .findOne(Scan, { id: scanId, owner: ownerId }, { fields: ['id', 'name'] });
    return scan ? { id: scan.id, name: scan.name } : undefined;
  }

  /** The report of one of the owner's scans (with delta_data when `withData`), or undefined. */
  async ownedReport(
    ownerId: number,
    reportId: number,
    withData = false,
  ): Promise<DeltaReportRecord | undefined> {
    const report = await this.em
      .fork()
      .findOne(
        DeltaReport,
        { id: reportId, scan: { owner: ownerId } },
        withData ? {} : { exclude: ['deltaData'] },
      );
    return report ? recordOf(report, withData) : undefined;
  }

  /** The report with its delta_data, whoever owns it, or undefined (the ZIP export, after its owner check). */
  async withData(reportId: number): Promise<DeltaReportRecord | undefined> {
    const report = await this.em.fork().findOne(DeltaReport, { id: reportId });
    return report ? recordOf(report, true) : undefined;
  }

  /** A page of the reports the filter selects, newest first (created_at, then id), and how many it selects. */
  async page(
    filter: DeltaReportFilter,
    limit: number,
    offset: number,
  ): Promise<{ reports: DeltaReportRecord[]; total: number }> {
    const where: FilterQuery<DeltaReport> = {};
    if (filter.scanId !== undefined && filter.ownerId !== undefined)
      where.scan = { id: filter.scanId, owner: filter.ownerId };
    else if (filter.scanId !== undefined) where.scan = filter.scanId;
    else if (filter.ownerId !== undefined) where.scan = { owner: filter.ownerId };
    if (filter.onlyChanges) where.hasChanges = true;
    const [rows, total] = await this.em.fork().findAndCount(DeltaReport, where, {
      exclude: ['deltaData'],
      orderBy: { createdAt: 'desc', id: 'desc' },
      limit,
      offset,
    });
    return { reports: rows.map((r) => recordOf(r, false)), total };
  }

  /** The id and creation time of each report of the scan, oldest first: the entries of its ZIP export. */
  async entriesOfScan(scanId: number): Promise<Array<{ id: number; createdAt: Date }>> {
    const rows = await this.em
      .fork()
      .find(
        DeltaReport,
        { scan: scanId },
        { fields: ['id', 'createdAt'], orderBy: { createdAt: 'asc', id: 'asc' } },
      );
    return rows.map((r) => ({ id: r.id, createdAt: r.createdAt }));
  }

  /**
   * The change rows of report `reportId`, `seq` ascending, fetched `pageSize` at a time only as the consumer
   * iterates (a CSV writer under backpressure pulls the next page only when it wants rows): keyset on
   * (report_id, seq), so each page is one index range scan however deep into a 100,000-change report it is.
   * Empty for a report stored before the delta_changes table, or one without changes.
   */
  async *changes(reportId: number, pageSize = DELTA_CHANGE_PAGE): AsyncGenerator<DeltaChangeRecord> {
    const knex = knexOf(this.em);
    for (let after = 0; ;) {
      const page: Array<Record<string, unknown>> = await knex('delta_changes as c')
        .leftJoin('users as u', 'u.id', 'c.accepted_by')
        .where('c.report_id', reportId)
        .andWhere('c.seq', '>', after)
        .orderBy('c.seq')
        .limit(pageSize)
        .select('c.seq', 'c.kind', 'c.address', 'c.protocol', 'c.port', 'c.before', 'c.after', 'c.detail')
        .select('c.verification', 'c.flapping', 'c.exposure', 'c.accepted_at', 'c.accepted_by')
        .select('u.username as accepted_by_username');
      for (const row of page) {
        yield {
          seq: Number(row.seq),
          kind: row.kind as DeltaChangeRecord['kind'],
          address: String(row.address),
          protocol: (row.protocol as string | null) ?? null,
          port: row.port === null || row.port === undefined ? null : Number(row.port),
          before: parsed(row.before),
          after: parsed(row.after),
          detail: parsed(row.detail),
          verification: (row.verification as DeltaChangeRecord['verification']) ?? null,
          flapping: Boolean(row.flapping),
          exposure: (row.exposure as DeltaChangeRecord['exposure']) ?? null,
          accepted_at: row.accepted_at ? new Date(row.accepted_at as string) : null,
          accepted_by:
            row.accepted_by === null || row.accepted_by === undefined ? null : Number(row.accepted_by),
          accepted_by_username: (row.accepted_by_username as string | null) ?? null,
        };
      }
      if (page.length < pageSize) return;
      after = Number(page[page.length - 1].seq);
    }
  }

  /** The kind of each of `seqs` that is a change row of the report (a seq that is none is absent from the map). */
  async changeKinds(reportId: number, seqs: readonly number[]): Promise<Map<number, string>> {
    if (seqs.length === 0) return new Map();
    const rows: Array<{ seq: number | string; kind: string }> = await knexOf(this.em)('delta_changes')
      .where('report_id', reportId)
      .whereIn('seq', [...seqs])
      .select('seq', 'kind');
    return new Map(rows.map((row) => [Number(row.seq), row.kind]));
  }

  /**
   * The acceptance of the report's change rows of the given `kinds` (only `seqs` of them when given), `seq`
   * ascending, with the accepting user's name (a left join: a user deleted since reads as null).
   */
  async acceptances(
    reportId: number,
    kinds: readonly string[],
    seqs?: readonly number[],
  ): Promise<ChangeAcceptanceRecord[]> {
    const query = knexOf(this.em)('delta_changes as c')
      .leftJoin('users as u', 'u.id', 'c.accepted_by')
      .where('c.report_id', reportId)
      .whereIn('c.kind', [...kinds])
      .orderBy('c.seq')
      .select('c.seq', 'c.accepted_at', 'c.accepted_by', 'u.username');
    if (seqs) query.whereIn('c.seq', [...seqs]);
    const rows: Array<Record<string, unknown>> = await query;
    return rows.map((row) => ({
      seq: Number(row.seq),
      acceptedAt: row.accepted_at ? new Date(row.accepted_at as string) : null,
      acceptedBy: row.accepted_by === null || row.accepted_by === undefined ? null : Number(row.accepted_by),
      username: (row.username as string | null | undefined) ?? null,
    }));
  }

  /** The sums of the scan's reports created at or after `since`. */
  async totals(scanId: number, since: Date): Promise<DeltaReportTotals> {
    const knex = knexOf(this.em);
    const [row]: Array<Record<string, unknown>> = await knex('delta_reports')
      .where('scan_id', scanId)
      .andWhere('created_at', '>=', since)
      .count({ total_reports: '*' })
      .select(
        knex.raw('coalesce(sum(case when has_changes then 1 else 0 end), 0) as reports_with_changes'),
        knex.raw('coalesce(sum(new_ports_count), 0) as total_new_ports'),
        knex.raw('coalesce(sum(closed_ports_count), 0) as total_closed_ports'),
        knex.raw('coalesce(sum(changed_services_count), 0) as total_changed_services'),
        knex.raw('coalesce(sum(new_hosts_count), 0) as total_new_hosts'),
        knex.raw('coalesce(sum(removed_hosts_count), 0) as total_removed_hosts'),
      );
    const n = (v: unknown) => Number(v ?? 0);
    return {
      totalReports: n(row.total_reports),
      reportsWithChanges: n(row.reports_with_changes),
      newPorts: n(row.total_new_ports),
      closedPorts: n(row.total_closed_ports),
      changedServices: n(row.total_changed_services),
      newHosts: n(row.total_new_hosts),
      removedHosts: n(row.total_removed_hosts),
    };
  }

  /** How many change rows of the `kinds` each address has in the scan's reports created at or after `since`. */
  async changeCountsByHost(
    scanId: number,
    since: Date,
    kinds: readonly string[],
  ): Promise<Array<{ address: string; count: number }>> {
    const rows: Array<{ address: string; n: unknown }> = await this.changesSince(scanId, since)
      .whereIn('c.kind', [...kinds])
      .groupBy('c.address')
      .select('c.address as address', knexOf(this.em).raw('count(*) as n'));
    return rows.map((row) => ({ address: row.address, count: Number(row.n) }));
  }

  /**
   * How many change rows of the `kinds` each (protocol, port) has in the scan's reports created at or after
   * `since`, ordered by protocol then port.
   */
  async changeCountsByPort(
    scanId: number,
    since: Date,
    kinds: readonly string[],
  ): Promise<Array<{ protocol: string; port: number; count: number }>> {
    const rows: Array<{ protocol: string; port: unknown; n: unknown }> = await this.changesSince(
      scanId,
      since,
    )
      .whereIn('c.kind', [...kinds])
      .groupBy('c.protocol', 'c.port')
      .orderBy([{ column: 'c.protocol' }, { column: 'c.port' }])
      .select('c.protocol as protocol', 'c.port as port', knexOf(this.em).raw('count(*) as n'));
    return rows.map((row) => ({ protocol: row.protocol, port: Number(row.port), count: Number(row.n) }));
  }

  /**
   * The delta_data of each of the scan's reports with changes created at or after `since` that has no change
   * rows (stored before the delta_changes table: its lists are in delta_data), by id, read a page at a time.
   */
  async *legacyDeltaData(scanId: number, since: Date): AsyncGenerator<Record<string, unknown>> {
    const knex = knexOf(this.em);
    for (let lastId = 0; ;) {
      const rows: Array<{ id: number | string; delta_data: unknown }> = await knex('delta_reports')
        .where('scan_id', scanId)
        .andWhere('created_at', '>=', since)
        .andWhere('has_changes', true)
        .andWhere('id', '>', lastId)
        .whereNotExists(knex('delta_changes').whereRaw('delta_changes.report_id = delta_reports.id'))
        .orderBy('id')
        .limit(LEGACY_PAGE)
        .select('id', 'delta_data');
      if (rows.length === 0) return;
      lastId = Number(rows[rows.length - 1].id);
      for (const row of rows) yield parsed(row.delta_data) ?? {};
    }
  }

  private changesSince(scanId: number, since: Date) {
    return knexOf(this.em)('delta_changes as c')
      .join('delta_reports as r', 'r.id', 'c.report_id')
      .where('r.scan_id', scanId)
      .andWhere('r.created_at', '>=', since);
  }
}

function recordOf(
  r: Omit<DeltaReport, 'deltaData'> & { deltaData?: DeltaReport['deltaData'] },
  withData: boolean,
): DeltaReportRecord {
  return {
    id: r.id,
    scanId: r.scan.id,
    baselineResultId: r.baselineResult.id,
    currentResultId: r.currentResult.id,
    reportType: r.reportType,
    status: r.status,
    createdAt: r.createdAt,
    newPortsCount: r.newPortsCount,
    closedPortsCount: r.closedPortsCount,
    changedServicesCount: r.changedServicesCount,
    newHostsCount: r.newHostsCount,
    removedHostsCount: r.removedHostsCount,
    hasChanges: r.hasChanges,
    verificationStatus: r.verificationStatus ?? null,
    verifyResultId: r.verifyResultId ?? null,
    confirmedNewPortsCount: r.confirmedNewPortsCount,
    confirmedClosedPortsCount: r.confirmedClosedPortsCount,
    confirmedChangedServicesCount: r.confirmedChangedServicesCount,
    confirmedNewHostsCount: r.confirmedNewHostsCount,
    confirmedRemovedHostsCount: r.confirmedRemovedHostsCount,
    flappingCount: r.flappingCount,
    ...(withData ? { deltaData: r.deltaData } : {}),
  };
}

function parsed(value: unknown): Record<string, unknown> | null {
  if (value === null || value === undefined) return null;
  return (typeof value === 'string' ? JSON.parse(value) : value) as Record<string, unknown>;
}
