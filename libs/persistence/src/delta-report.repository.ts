// The delta_reports and delta_changes tables: every write of a report or its change rows is in this file (docs/
// delta.md "Storage"). A report and its change rows go in together, in one transaction, batched through knex; its
// announcement is one conditional update, and so is a user's acceptance of its changes; a user's delete cascades
// to its change rows.
import type { EntityManager } from '@mikro-orm/core';
import { DeltaReport } from './entities';
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
}

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

  /** Reports whose announcement is owed and that were created before `createdBefore`: oldest first, `limit` at most. */
  async findOwed(createdBefore: Date, limit: number): Promise<StoredDeltaReport[]> {
    const rows: StoredRow[] = await knexOf(this.em)('delta_reports')
      .select(...STORED_COLUMNS)
      .whereNull('announced_at')
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
  };
}
