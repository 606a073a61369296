// A delta report as CSV that opens cleanly in a spreadsheet: the report's header, its summary, then one section
// per kind of change, each with its own column heads. Rows are produced one at a time and written by
// csv-stringify as a stream; cells a spreadsheet would run as a formula are neutralised by csv-stringify's
// `escape_formulas` (a leading =, +, -, @, tab or carriage return gets a `'` in front: a banner can say anything).
import { Readable } from 'node:stream';
import { stringify } from 'csv-stringify';
import type { Delta, DeltaSummary } from './diff';

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

/** The CSV's rows, in order. Pure; one section per kind of change, present even when empty. */
export function* deltaCsvRows(header: CsvReportHeader, data: CsvDeltaData): Generator<Cell[]> {
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

  yield* section('New up hosts', ['host', 'hostnames', 'open_ports'], d.new_up_hosts, (h) => [
    h.host,
    h.hostnames.join(' '),
    h.open_ports,
  ]);
  yield* section('New down hosts', ['host', 'hostnames', 'open_ports'], d.new_down_hosts, (h) => [
    h.host,
    h.hostnames.join(' '),
    h.open_ports,
  ]);
  const port = (p: Delta['added_ports'][number]): Cell[] => [
    p.host,
    p.protocol,
    p.port,
    p.state,
    p.service,
    p.product,
    p.version,
    p.extrainfo,
  ];
  yield* section('Added ports', PORT_HEAD, d.added_ports, port);
  yield* section('Removed ports', PORT_HEAD, d.removed_ports, port);
  yield* section(
    'Changed services',
    [
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
    ],
    d.changed_ports,
    (c) => [
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
    ],
  );
  yield* section(
    'Unverified (not looked at by the current run)',
    ['host', 'protocol', 'port', 'baseline_state', 'current_state', 'reason'],
    d.unverified,
    (u) => [u.host, u.protocol, u.port, u.baseline_state, u.current_state, u.reason],
  );
}

function* section<T>(title: string, head: string[], items: T[] | undefined, row: (item: T) => Cell[]) {
  yield [] as Cell[];
  yield [title, (items ?? []).length] as Cell[];
  yield head as Cell[];
  for (const item of items ?? []) yield row(item);
}

/** The report as a CSV byte stream (UTF-8, CRLF line ends), rows written as the reader takes them. */
export function deltaCsvStream(header: CsvReportHeader, data: CsvDeltaData): Readable {
  return Readable.from(deltaCsvRows(header, data)).pipe(
    stringify({
      escape_formulas: true,
      record_delimiter: 'windows',
      cast: { boolean: (b) => (b ? 'true' : 'false') },
    }),
  );
}

/** `delta_report_<YYYYmmdd_HHMMSS>_<id>.csv`, the time in UTC (seed 003 "Export All Reports"). */
export function deltaCsvFileName(createdAt: Date, id: number): string {
  const stamp = createdAt.toISOString().replace(/[-:]/g, '').replace('T', '_').slice(0, 15);
  return `delta_report_${stamp}_${id}.csv`;
}
