// Stores a delta report and its change rows (docs/delta.md "Storage") — the one write path, used by the delta
// service and by tests that need a report with many changes without scanning.
import type { Knex } from './sql';

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

/**
 * Change rows per insert statement. knex writes a multi-row insert on SQLite as one `select ... union all` per
 * row, and SQLite allows at most 500 terms in a compound select; 400 rows of 9 columns also stay far below both
 * databases' bound-parameter limits (32,766 and 65,535). 100,000 changes are 250 statements.
 */
export const DELTA_CHANGE_BATCH = 400;

/** A json column's value as knex inserts it on both databases (text on SQLite, jsonb accepts the same text). */
const json = (value: unknown): string | null =>
  value === null || value === undefined ? null : JSON.stringify(value);

/**
 * Inserts the report and its change rows in one transaction, batched. Returns the new report's id, or undefined
 * when a report of the same (baseline, current) pair exists (insert-or-ignore: nothing is written then, so a job
 * run twice leaves one report and one set of change rows; a process killed mid-insert leaves neither).
 * `changes` is iterated once, lazily. Errors propagate (the transaction is rolled back).
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
