// A delta report as CSV that opens cleanly in a spreadsheet: the report's header, its summary, then one section
// per kind of change, each with its own column heads. Rows are produced one at a time (the change rows pulled a
// page at a time from the database by the caller) and written by
// csv-stringify as a stream; cells a spreadsheet would run as a formula are neutralised by csv-stringify's
// `escape_formulas` (a leading =, +, -, @, tab or carriage return gets a `'` in front: a banner can say anything).
// Every change row ends with its marks (issue 21): change_id, verification, flapping, exposure, accepted_by/_at.
import { Readable } from 'node:stream';
import { stringify } from 'csv-stringify';
import {
  changeMarksView,
  deltaChangeEntry,
  deltaChangeRows,
  type DeltaChangeRow,
  type DeltaLists,
} from './changes';
import type { Delta, DeltaSummary, HostChange, PortChange, ServiceChange, Unverified } from './diff';

/** The report row's own fields, as the API shows them. */
export interface CsvReportHeader {
  id: number;
  scan_id: number;
  scan_name?: string;
  baseline_result_id: number;
  current_result_id: number;
  created_at: string;
}

/** What delta_data holds (docs/delta.md); older or partial data is tolerated section by section. */
export interface CsvDeltaData {
  baseline?: { finished_at?: string | null; port_selection?: string };
  current?: { finished_at?: string | null; port_selection?: string };
  delta?: Partial<Delta>;
  summary?: Partial<DeltaSummary>;
}

type Cell = string | number | boolean | null | undefined;

const PORT_HEAD = ['host', 'protocol', 'port', 'state', 'service', 'product', 'version', 'extrainfo'];

const HOST_HEAD = ['host', 'hostnames', 'open_ports'];
const CHANGED_HEAD = [
  'host',
  'protocol',
  'port',
  'changed',
  'service_before',
  'product_before',
  'version_before',
  'extrainfo_before',
  'service_after',
  'product_after',
  'version_after',
  'extrainfo_after',
];

/**
 * The marks of a change (docs/delta.md "Accepted changes"), appended to every section's columns: `change_id` (what
 * POST /api/report/{id}/accept takes), the rescan's `verification`, `flapping`, `exposure`, and who accepted it
 * (`accepted_by`, a user id) when (`accepted_at`, ISO 8601 UTC). Empty cells for a mark that is not set, and all
 * six empty for a report stored before the delta_changes table (its entries have no rows to mark).
 */
export const CHANGE_MARK_HEAD = [
  'change_id',
  'verification',
  'flapping',
  'exposure',
  'accepted_by',
  'accepted_at',
] as const;

function markCells(row: DeltaChangeRow, legacy: boolean): Cell[] {
  if (legacy) return CHANGE_MARK_HEAD.map(() => '');
  const marks = changeMarksView(row);
  return [
    marks.change_id,
    marks.verification,
    marks.flapping,
    marks.exposure,
    marks.accepted?.by,
    marks.accepted?.at,
  ];
}

const hostCells = (h: HostChange): Cell[] => [h.host, h.hostnames.join(' '), h.open_ports];
const portCells = (p: PortChange): Cell[] => [
  p.host,
  p.protocol,
  p.port,
  p.state,
  p.service,
  p.product,
  p.version,
  p.extrainfo,
];
const changedCells = (c: ServiceChange): Cell[] => [
  c.host,
  c.protocol,
  c.port,
  c.changed.join(' '),
  c.before.service,
  c.before.product,
  c.before.version,
  c.before.extrainfo,
  c.after.service,
  c.after.product,
  c.after.version,
  c.after.extrainfo,
];
const unverifiedCells = (u: Unverified): Cell[] => [
  u.host,
  u.protocol,
  u.port,
  u.baseline_state,
  u.current_state,
  u.reason,
];

/** The CSV's sections, in the order the change rows are stored (DELTA_CHANGE_KINDS). */
const SECTIONS: Array<{
  title: string;
  list: keyof DeltaLists;
  count: keyof DeltaSummary;
  head: string[];
  cells: (entry: never) => Cell[];
}> = [
  {
    title: 'New up hosts',
    list: 'new_up_hosts',
    count: 'new_hosts_count',
    head: HOST_HEAD,
    cells: hostCells,
  },
  {
    title: 'New down hosts',
    list: 'new_down_hosts',
    count: 'removed_hosts_count',
    head: HOST_HEAD,
    cells: hostCells,
  },
  { title: 'Added ports', list: 'added_ports', count: 'new_ports_count', head: PORT_HEAD, cells: portCells },
  {
    title: 'Removed ports',
    list: 'removed_ports',
    count: 'closed_ports_count',
    head: PORT_HEAD,
    cells: portCells,
  },
  {
    title: 'Changed services',
    list: 'changed_ports',
    count: 'changed_services_count',
    head: CHANGED_HEAD,
    cells: changedCells,
  },
  {
    title: 'Unverified (not looked at by the current run)',
    list: 'unverified',
    count: 'unverified_count',
    head: ['host', 'protocol', 'port', 'baseline_state', 'current_state', 'reason'],
    cells: unverifiedCells,
  },
];

/**
 * The CSV's rows, in order: header, summary, then one section per kind of change, present even when empty.
 * `changes` are the report's change rows in `seq` order (read a page at a time by the caller: they are pulled
 * only as the CSV writer asks for rows); without them the lists in `data.delta` are used (reports stored before
 * the delta_changes table, and fixtures). Section counts come from the summary when rows are given. Each row
 * ends with the change's marks (CHANGE_MARK_HEAD), empty for lists read from `data.delta`.
 */
export async function* deltaCsvRows(
  header: CsvReportHeader,
  data: CsvDeltaData,
  changes?: AsyncIterable<DeltaChangeRow>,
): AsyncGenerator<Cell[]> {
  const d = data.delta ?? {};
  yield ['Delta report', header.id];
  yield ['Scan', header.scan_id, header.scan_name];
  yield ['Baseline result', header.baseline_result_id, data.baseline?.finished_at];
  yield ['Current result', header.current_result_id, data.current?.finished_at];
  yield ['Created at', header.created_at];
  yield ['Comparable', d.comparable === false ? 'no' : 'yes'];
  for (const diff of d.differences ?? []) yield ['Option differs', diff.option, diff.baseline, diff.current];
  yield [];
  yield ['Summary'];
  for (const [name, value] of Object.entries(data.summary ?? {})) yield [name, value];

  const legacy = !changes;
  const rows = (changes ?? toAsync(deltaChangeRows(listsOf(d))))[Symbol.asyncIterator]();
  let next = await rows.next();
  for (const section of SECTIONS) {
    const count = legacy ? (d[section.list] ?? []).length : Number(data.summary?.[section.count] ?? 0);
    yield [];
    yield [section.title, count];
    yield [...section.head, ...CHANGE_MARK_HEAD];
    while (!next.done) {
      const { list, entry } = deltaChangeEntry(next.value);
      if (list !== section.list) break;
      yield [...section.cells(entry as never), ...markCells(next.value, legacy)];
      next = await rows.next();
    }
  }
}

function listsOf(d: Partial<Delta>): DeltaLists {
  return {
    new_up_hosts: d.new_up_hosts ?? [],
    new_down_hosts: d.new_down_hosts ?? [],
    added_ports: d.added_ports ?? [],
    removed_ports: d.removed_ports ?? [],
    changed_ports: d.changed_ports ?? [],
    unverified: d.unverified ?? [],
  };
}

async function* toAsync<T>(items: Iterable<T>): AsyncGenerator<T> {
  yield* items;
}

/**
 * The report as a CSV byte stream (UTF-8, CRLF line ends). Rows are pulled from `changes` only as the reader
 * takes the text (Readable.from and pipe honour backpressure), so neither rows nor text are ever whole in memory.
 */
export function deltaCsvStream(
  header: CsvReportHeader,
  data: CsvDeltaData,
  changes?: AsyncIterable<DeltaChangeRow>,
): Readable {
  const source = Readable.from(deltaCsvRows(header, data, changes));
  const csv = stringify({
    escape_formulas: true,
    record_delimiter: 'windows',
    cast: { boolean: (b) => (b ? 'true' : 'false') },
  });
  // pipe() does not forward a source's error: a failed page read must fail the download, not hang it.
  source.on('error', (error) => csv.destroy(error));
  return source.pipe(csv);
}

/** `delta_report_<YYYYmmdd_HHMMSS>_<id>.csv`, the time in UTC (seed 003 "Export All Reports"). */
export function deltaCsvFileName(createdAt: Date, id: number): string {
  const stamp = createdAt.toISOString().replace(/[-:]/g, '').replace('T', '_').slice(0, 15);
  return `delta_report_${stamp}_${id}.csv`;
}
