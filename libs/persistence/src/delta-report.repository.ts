// The delta_reports and delta_changes tables: every write of a report or its change rows is in this file (docs/
// delta.md "Storage"). A report and its change rows go in together, in one transaction, batched through knex; its
// announcement is one conditional update, and so is a user's acceptance of its changes; a user's delete cascades
// to its change rows.
import type { EntityManager } from '@mikro-orm/core';
import { DeltaReport, type DELTA_CHANGE_KIND_VALUES } from './entities';
import { knexOf, type Knex } from './sql';

/** The delta_reports row as inserted (snake_case columns; delta_data is serialised here). */
export interface DeltaReportInsert {
  scan_id: number;
  baseline_result_id: number;
  current_result_id: number;
  new_ports_count: number;
  closed_ports_count: number;
  changed_services_count: number;
  new_hosts_count: number;
  removed_hosts_count: number;
  has_changes: boolean;
  /** The small parts only: scanner, baseline, current, delta's comparability, summary. */
  delta_data: Record<string, unknown>;
  created_at?: Date;
  /** Null while its announcements are owed (the delta service's reports with changes); default: created_at. */
  announced_at?: Date | null;
  /** Issue 21: `pending` while a confirmation rescan is owed; null: not verified. */
  verification_status?: 'pending' | 'done' | null;
  /** The confirmed twins of the counts, and the changes of flapping ports. Default 0. */
  confirmed_new_ports_count?: number;
  confirmed_closed_ports_count?: number;
  confirmed_changed_services_count?: number;
  confirmed_new_hosts_count?: number;
  confirmed_removed_hosts_count?: number;
  flapping_count?: number;
}

/** The seed's counts, of the changes a rescan confirmed (delta_reports.confirmed_*). */
export interface ConfirmedCounts {
  new_ports_count: number;
  closed_ports_count: number;
  changed_services_count: number;
  new_hosts_count: number;
  removed_hosts_count: number;
}

/** A change's rescan verdict (delta_changes.verification). */
export type ChangeVerdict = 'confirmed' | 'not_confirmed' | 'unverifiable';

/** A change row a rescan judges (DeltaReportRepository.changesToVerify). */
export interface ChangeToVerify {
  seq: number;
  kind: (typeof DELTA_CHANGE_KIND_VALUES)[number];
  address: string;
  protocol: string | null;
  port: number | null;
  after: Record<string, unknown> | null;
  detail: Record<string, unknown> | null;
}

/** The change kinds, each with the count it adds to (unverified entries are not changes). */
export const COUNT_OF_KIND: Readonly<Record<string, keyof ConfirmedCounts>> = {
  added_port: 'new_ports_count',
  removed_port: 'closed_ports_count',
  changed_port: 'changed_services_count',
  new_up_host: 'new_hosts_count',
  new_down_host: 'removed_hosts_count',
};

/** One delta_changes row without its report id (@nso/delta's DeltaChangeRow has this shape). */
export interface DeltaChangeInsert {
  seq: number;
  kind: string;
  address: string;
  protocol: string | null;
  port: number | null;
  before: unknown;
  after: unknown;
  detail: unknown;
  /** A change of a flapping port (default false). */
  flapping?: boolean;
  /** Against the scan's expected ports (default null). */
  exposure?: 'expected' | 'unexpected' | 'missing' | null;
}

/** A report's counts, as its columns and the `delta_report` event's summary hold them. */
export interface DeltaReportCountColumns {
  new_ports_count: number;
  closed_ports_count: number;
  changed_services_count: number;
  new_hosts_count: number;
  removed_hosts_count: number;
  has_changes: boolean;
}

/** A stored report as its announcement needs it (not delta_data, which can be large). */
export interface StoredDeltaReport {
  reportId: number;
  scanId: number;
  baselineResultId: number;
  currentResultId: number;
  counts: DeltaReportCountColumns;
  /** False while its announcement is owed (`announced_at` null). */
  announced: boolean;
  /** `pending` while its confirmation rescan is owed (it is announced once that ends); null: not verified. */
  verificationStatus: 'pending' | 'done' | null;
  verifyResultId: number | null;
  confirmed: ConfirmedCounts;
  flappingCount: number;
}

/**
 * Change rows per insert statement. knex writes a multi-row insert on SQLite as one `select ... union all` per
 * row, and SQLite allows at most 500 terms in a compound select; 400 rows of 9 columns also stay far below both
 * databases' bound-parameter limits (32,766 and 65,535). 100,000 changes are 250 statements.
 */
export const DELTA_CHANGE_BATCH = 400;

/** The delta_reports columns a StoredDeltaReport is read from. */
const STORED_COLUMNS = [
  'id',
  'scan_id',
  'baseline_result_id',
  'current_result_id',
  'new_ports_count',
  'closed_ports_count',
  'changed_services_count',
  'new_hosts_count',
  'removed_hosts_count',
  'has_changes',
  'announced_at',
  'verification_status',
  'verify_result_id',
  'confirmed_new_ports_count',
  'confirmed_closed_ports_count',
  'confirmed_changed_services_count',
  'confirmed_new_hosts_count',
  'confirmed_removed_hosts_count',
  'flapping_count',
];

/** Provided by PersistenceModule, created after the migrations. */
export class DeltaReportRepository {
  constructor(private readonly em: EntityManager) {}

  /**
   * Stores the report and its change rows in one transaction (see insertDeltaReport). Returns the new report's
   * id, or undefined when a report of the same (baseline, current) pair exists: then nothing is written.
   */
  insert(report: DeltaReportInsert, changes: Iterable<DeltaChangeInsert>): Promise<number | undefined> {
    return insertDeltaReport(knexOf(this.em), report, changes);
  }

  /** The report of the (baseline, current) pair of runs, or undefined. */
  async findByRuns(
    baselineResultId: number,
    currentResultId: number,
  ): Promise<StoredDeltaReport | undefined> {
    const row: StoredRow | undefined = await knexOf(this.em)('delta_reports')
      .where({ baseline_result_id: baselineResultId, current_result_id: currentResultId })
      .first(...STORED_COLUMNS);
    return row ? storedReport(row) : undefined;
  }

  /**
   * Reports whose announcement is owed and that were created before `createdBefore`, their confirmation rescan
   * not pending (they are announced when it ends): oldest first, `limit` at most.
   */
  async findOwed(createdBefore: Date, limit: number): Promise<StoredDeltaReport[]> {
    const rows: StoredRow[] = await knexOf(this.em)('delta_reports')
      .select(...STORED_COLUMNS)
      .whereNull('announced_at')
      .andWhere((q) => q.whereNull('verification_status').orWhereNot('verification_status', 'pending'))
      .andWhere('created_at', '<', createdBefore)
      .orderBy('id')
      .limit(limit);
    return rows.map(storedReport);
  }

  /**
   * Marks the report announced at `at`, if its announcement was owed (one conditional update: a report announced
   * twice keeps its first time). True when this call marked it.
   */
  async markAnnounced(reportId: number, at = new Date()): Promise<boolean> {
    const updated = await knexOf(this.em)('delta_reports')
      .where({ id: reportId })
      .whereNull('announced_at')
      .update({ announced_at: at });
    return Number(updated) > 0;
  }

  /**
   * Marks the report's change rows of the given `kinds` accepted by user `userId` at `at` — only `seqs` of them
   * when given, every one otherwise — in one conditional UPDATE: a row accepted before keeps its first who and
   * when. Answers how many rows this call marked. The caller checks that `seqs` are changes of the report (a seq
   * that is not is simply not matched) and bounds their number (one bound parameter each: at most 10,000).
   */
  async accept(
    reportId: number,
    accepted: { userId: number; at: Date; kinds: readonly string[]; seqs?: readonly number[] },
  ): Promise<number> {
    const update = knexOf(this.em)('delta_changes')
      .where({ report_id: reportId })
      .whereIn('kind', [...accepted.kinds])
      .whereNull('accepted_at');
    if (accepted.seqs) update.whereIn('seq', [...accepted.seqs]);
    const updated = await update.update({ accepted_at: accepted.at, accepted_by: accepted.userId });
    return Number(updated);
  }

  /** The report a confirmation rescan (trigger `verify`) was started for, or undefined. */
  async findByVerifyRun(verifyResultId: number): Promise<StoredDeltaReport | undefined> {
    const row: StoredRow | undefined = await knexOf(this.em)('delta_reports')
      .where({ verify_result_id: verifyResultId })
      .first(...STORED_COLUMNS);
    return row ? storedReport(row) : undefined;
  }

  /**
   * The ports whose change in the report of run `currentResultId` its rescan did not confirm, with what the rescan
   * found (the rescan's run id and the rows' keys): what a later diff corrects that run's view with
   * (docs/delta.md "Verified changes"). Empty when that run has no verified report.
   */
  async notConfirmedPorts(
    currentResultId: number,
  ): Promise<{ verifyResultId: number; ports: Array<{ address: string; protocol: string; port: number }> }> {
    const knex = knexOf(this.em);
    const report = await knex('delta_reports')
      .where({ current_result_id: currentResultId, verification_status: 'done' })
      .whereNotNull('verify_result_id')
      .first('id', 'verify_result_id');
    if (!report) return { verifyResultId: 0, ports: [] };
    const rows: Array<Record<string, unknown>> = await knex('delta_changes')
      .where({ report_id: report.id, verification: 'not_confirmed' })
      .whereIn('kind', ['added_port', 'removed_port'])
      .select('address', 'protocol', 'port');
    return {
      verifyResultId: Number(report.verify_result_id),
      ports: rows.map((r) => ({
        address: String(r.address),
        protocol: String(r.protocol),
        port: Number(r.port),
      })),
    };
  }

  /**
   * Reports whose verification is pending, oldest first, `limit` at most: each with its rescan's id and status (null
   * before the rescan started). What the delta service's start-up sweep resumes.
   */
  async pendingVerifications(
    limit: number,
  ): Promise<
    Array<{ reportId: number; scanId: number; verifyResultId: number | null; rescanStatus: string | null }>
  > {
    const rows: Array<Record<string, unknown>> = await knexOf(this.em)('delta_reports as d')
      .leftJoin('scan_results as r', 'r.id', 'd.verify_result_id')
      .where('d.verification_status', 'pending')
      .orderBy('d.id')
      .limit(limit)
      .select('d.id', 'd.scan_id', 'd.verify_result_id', 'r.status');
    return rows.map((row) => ({
      reportId: Number(row.id),
      scanId: Number(row.scan_id),
      verifyResultId: row.verify_result_id === null ? null : Number(row.verify_result_id),
      rescanStatus: (row.status as string | null) ?? null,
    }));
  }

  /** The report `reportId`, or undefined. */
  async findById(reportId: number): Promise<StoredDeltaReport | undefined> {
    const row: StoredRow | undefined = await knexOf(this.em)('delta_reports')
      .where({ id: reportId })
      .first(...STORED_COLUMNS);
    return row ? storedReport(row) : undefined;
  }

  /**
   * Links the pending report to its confirmation rescan, if it has none yet (one conditional update). True when
   * this call linked it.
   */
  async linkVerifyRun(reportId: number, verifyResultId: number): Promise<boolean> {
    const updated = await knexOf(this.em)('delta_reports')
      .where({ id: reportId, verification_status: 'pending' })
      .whereNull('verify_result_id')
      .update({ verify_result_id: verifyResultId });
    return Number(updated) > 0;
  }

  /**
   * The report's changes a rescan judges: change kinds (not unverified entries), not of a flapping port, without
   * a verdict yet; in report order.
   */
  async changesToVerify(reportId: number): Promise<ChangeToVerify[]> {
    const rows: Array<Record<string, unknown>> = await knexOf(this.em)('delta_changes')
      .where('report_id', reportId)
      .whereIn('kind', Object.keys(COUNT_OF_KIND))
      .andWhere('flapping', false)
      .whereNull('verification')
      .orderBy('seq')
      .select('seq', 'kind', 'address', 'protocol', 'port', 'after', 'detail');
    return rows.map((row) => ({
      seq: Number(row.seq),
      kind: row.kind as ChangeToVerify['kind'],
      address: String(row.address),
      protocol: (row.protocol as string | null) ?? null,
      port: row.port === null || row.port === undefined ? null : Number(row.port),
      after: parsedJson(row.after),
      detail: parsedJson(row.detail),
    }));
  }

  /**
   * Stores a confirmation rescan's verdicts: each change's `verification` and the report's `confirmed_*` counts,
   * status `done` — one transaction, only while the report is `pending` (a second call changes nothing and
   * answers false). Verdicts are written 500 changes a statement.
   */
  async recordVerdicts(
    reportId: number,
    verdicts: ReadonlyArray<{ seq: number; verification: ChangeVerdict }>,
    confirmed: ConfirmedCounts,
  ): Promise<boolean> {
    return knexOf(this.em).transaction(async (trx) => {
      const updated = await trx('delta_reports')
        .where({ id: reportId, verification_status: 'pending' })
        .update({
          verification_status: 'done',
          confirmed_new_ports_count: confirmed.new_ports_count,
          confirmed_closed_ports_count: confirmed.closed_ports_count,
          confirmed_changed_services_count: confirmed.changed_services_count,
          confirmed_new_hosts_count: confirmed.new_hosts_count,
          confirmed_removed_hosts_count: confirmed.removed_hosts_count,
        });
      if (Number(updated) === 0) return false;
      for (const verification of ['confirmed', 'not_confirmed', 'unverifiable'] as const) {
        const seqs = verdicts.filter((v) => v.verification === verification).map((v) => v.seq);
        for (let i = 0; i < seqs.length; i += 500) {
          await trx('delta_changes')
            .where('report_id', reportId)
            .whereIn('seq', seqs.slice(i, i + 500))
            .update({ verification });
        }
      }
      return true;
    });
  }

  /**
   * How many of the report's changes are announced: change kinds, not flapping, and confirmed — or not verified
   * at all, or (with `includeUnconfirmed`) not confirmed or unverifiable too.
   */
  async announceableCount(reportId: number, includeUnconfirmed: boolean): Promise<number> {
    const query = knexOf(this.em)('delta_changes')
      .where('report_id', reportId)
      .whereIn('kind', Object.keys(COUNT_OF_KIND))
      .andWhere('flapping', false);
    if (!includeUnconfirmed)
      query.andWhere((q) => q.whereNull('verification').orWhere('verification', 'confirmed'));
    const [row] = await query.count({ n: '*' });
    return Number((row as { n: number | string }).n);
  }

  /** Deletes the report; its change rows and webhook deliveries go with it (cascade). True when it existed. */
  async delete(reportId: number): Promise<boolean> {
    return (await this.em.fork().nativeDelete(DeltaReport, { id: reportId })) > 0;
  }
}

/** A json column's value as knex inserts it on both databases (text on SQLite, jsonb accepts the same text). */
const json = (value: unknown): string | null =>
  value === null || value === undefined ? null : JSON.stringify(value);

/**
 * Inserts the report and its change rows in one transaction, batched. Returns the new report's id, or undefined
 * when a report of the same (baseline, current) pair exists (insert-or-ignore: nothing is written then, so a job
 * run twice leaves one report and one set of change rows; a process killed mid-insert leaves neither).
 * `changes` is iterated once, lazily. Errors propagate (the transaction is rolled back). DeltaReportRepository's
 * write path; exported to tests only (`@nso/persistence/testing`), which seed large reports with it.
 */
export async function insertDeltaReport(
  knex: Knex,
  report: DeltaReportInsert,
  changes: Iterable<DeltaChangeInsert>,
): Promise<number | undefined> {
  const createdAt = report.created_at ?? new Date();
  return knex.transaction(async (trx) => {
    const rows: Array<{ id: number | string }> = await trx('delta_reports')
      .insert({
        ...report,
        report_type: 'delta',
        status: 'generated',
        delta_data: JSON.stringify(report.delta_data),
        created_at: createdAt,
        announced_at: report.announced_at === undefined ? createdAt : report.announced_at,
      })
      .onConflict(['baseline_result_id', 'current_result_id'])
      .ignore()
      .returning(['id']);
    if (rows.length === 0) return undefined;
    const id = Number(rows[0].id);
    let batch: Array<Record<string, unknown>> = [];
    const flush = async () => {
      if (batch.length > 0) await trx('delta_changes').insert(batch);
      batch = [];
    };
    for (const change of changes) {
      batch.push({
        report_id: id,
        seq: change.seq,
        kind: change.kind,
        address: change.address,
        protocol: change.protocol,
        port: change.port,
        before: json(change.before),
        after: json(change.after),
        detail: json(change.detail),
        flapping: change.flapping ?? false,
        exposure: change.exposure ?? null,
      });
      if (batch.length === DELTA_CHANGE_BATCH) await flush();
    }
    await flush();
    return id;
  });
}

type StoredRow = Record<string, unknown> & { announced_at?: unknown };

function storedReport(row: StoredRow): StoredDeltaReport {
  return {
    reportId: Number(row.id),
    scanId: Number(row.scan_id),
    baselineResultId: Number(row.baseline_result_id),
    currentResultId: Number(row.current_result_id),
    counts: {
      new_ports_count: Number(row.new_ports_count),
      closed_ports_count: Number(row.closed_ports_count),
      changed_services_count: Number(row.changed_services_count),
      new_hosts_count: Number(row.new_hosts_count),
      removed_hosts_count: Number(row.removed_hosts_count),
      has_changes: Boolean(row.has_changes),
    },
    announced: row.announced_at !== null && row.announced_at !== undefined,
    verificationStatus: (row.verification_status as 'pending' | 'done' | null) ?? null,
    verifyResultId:
      row.verify_result_id === null || row.verify_result_id === undefined
        ? null
        : Number(row.verify_result_id),
    confirmed: {
      new_ports_count: Number(row.confirmed_new_ports_count ?? 0),
      closed_ports_count: Number(row.confirmed_closed_ports_count ?? 0),
      changed_services_count: Number(row.confirmed_changed_services_count ?? 0),
      new_hosts_count: Number(row.confirmed_new_hosts_count ?? 0),
      removed_hosts_count: Number(row.confirmed_removed_hosts_count ?? 0),
    },
    flappingCount: Number(row.flapping_count ?? 0),
  };
}

function parsedJson(value: unknown): Record<string, unknown> | null {
  if (value === null || value === undefined) return null;
  return (typeof value === 'string' ? JSON.parse(value) : value) as Record<string, unknown>;
}
