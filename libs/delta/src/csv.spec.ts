import { parse } from 'csv-parse/sync';
import { deltaChangeRows, type DeltaChangeRow } from './changes';
import { deltaCsvFileName, deltaCsvStream } from './csv';

async function text(stream: NodeJS.ReadableStream): Promise<string> {
  let out = '';
  for await (const chunk of stream) out += chunk.toString();
  return out;
}

describe('delta CSV', () => {
  const header = {
    id: 7,
    scan_id: 3,
    scan_name: 'Lab',
    baseline_result_id: 1,
    current_result_id: 2,
    created_at: '2026-11-30T04:05:06.000Z',
  };

  it('neutralises formula-like cells and reads back with a section per kind of change', async () => {
    const csv = await text(
      deltaCsvStream(header, {
        summary: { new_ports_count: 1, has_changes: true },
        delta: {
          comparable: true,
          added_ports: [
            {
              host: '127.0.50.1',
              protocol: 'tcp',
              port: 8080,
              state: 'open',
              service: 'http',
              product: '=HYPERLINK("x")',
              version: '-1+1',
              extrainfo: '@SUM(A1)',
            },
          ],
          changed_ports: [
            {
              host: '127.0.50.1',
              protocol: 'tcp',
              port: 22,
              changed: ['product'],
              before: { state: 'open', service: 'ssh', product: '\tTab', version: null, extrainfo: null },
              after: { state: 'open', service: 'ssh', product: '+cmd', version: null, extrainfo: '\rx' },
            },
          ],
        },
      }),
    );
    const rows: string[][] = parse(csv, { relax_column_count: true });
    const added = rows.findIndex((r) => r[0] === 'Added ports');
    expect(rows[added]).toEqual(['Added ports', '1']);
    expect(rows[added + 2]).toEqual([
      '127.0.50.1',
      'tcp',
      '8080',
      'open',
      'http',
      `'=HYPERLINK("x")`,
      `'-1+1`,
      `'@SUM(A1)`,
      // Lists read from delta_data (a report stored before delta_changes) have no rows to mark.
      ...['', '', '', '', '', ''],
    ]);
    const changed = rows.findIndex((r) => r[0] === 'Changed services');
    expect(rows[changed + 2].slice(5, 6)).toEqual([`'\tTab`]);
    expect(rows[changed + 2].slice(8, 12)).toEqual(['ssh', `'+cmd`, '', `'\rx`]);
    for (const title of [
      'New up hosts',
      'New down hosts',
      'Removed ports',
      'Unverified (not looked at by the current run)',
    ]) {
      expect(rows.find((r) => r[0] === title)).toEqual([title, '0']);
    }
    expect(rows[0]).toEqual(['Delta report', '7']);
    expect(rows.find((r) => r[0] === 'has_changes')).toEqual(['has_changes', 'true']);
  });

  it("ends every section's rows with the change's marks: change_id, verification, flapping, exposure, accepted_by, accepted_at", async () => {
    const rows: DeltaChangeRow[] = [
      ...deltaChangeRows({
        new_up_hosts: [{ host: '127.0.50.2', hostnames: [], open_ports: 1 }],
        new_down_hosts: [],
        added_ports: [
          {
            host: '127.0.50.1',
            protocol: 'tcp',
            port: 8080,
            state: 'open',
            service: 'http',
            product: null,
            version: null,
            extrainfo: null,
          },
        ],
        removed_ports: [],
        changed_ports: [],
        unverified: [
          { host: '127.0.50.3', protocol: 'tcp', port: 22, baseline_state: 'open', reason: 'batch_failed' },
        ],
      }),
    ];
    rows[1] = {
      ...rows[1],
      verification: 'confirmed',
      flapping: true,
      exposure: 'unexpected',
      accepted_by: 4,
      accepted_at: new Date('2026-12-07T06:00:00.000Z'),
    };
    async function* stored() {
      yield* rows;
    }
    const csv = await text(
      deltaCsvStream(
        header,
        { summary: { new_hosts_count: 1, new_ports_count: 1, unverified_count: 1 } },
        stored(),
      ),
    );
    const parsed: string[][] = parse(csv, { relax_column_count: true });
    const section = (title: string) => parsed.findIndex((r) => r[0] === title);
    const marks = ['change_id', 'verification', 'flapping', 'exposure', 'accepted_by', 'accepted_at'];
    expect(parsed[section('New up hosts') + 1]).toEqual(['host', 'hostnames', 'open_ports', ...marks]);
    expect(parsed[section('New up hosts') + 2]).toEqual([
      '127.0.50.2',
      '',
      '1',
      '1',
      '',
      'false',
      '',
      '',
      '',
    ]);
    expect(parsed[section('Added ports') + 1]).toEqual([
      ...['host', 'protocol', 'port', 'state', 'service', 'product', 'version', 'extrainfo'],
      ...marks,
    ]);
    expect(parsed[section('Added ports') + 2]).toEqual([
      ...['127.0.50.1', 'tcp', '8080', 'open', 'http', '', '', ''],
      ...['2', 'confirmed', 'true', 'unexpected', '4', '2026-12-07T06:00:00.000Z'],
    ]);
    expect(parsed[section('Changed services') + 1].slice(-6)).toEqual(marks);
    expect(parsed[section('Removed ports') + 1].slice(-6)).toEqual(marks);
    const unverified = section('Unverified (not looked at by the current run)');
    expect(parsed[unverified + 1]).toEqual([
      ...['host', 'protocol', 'port', 'baseline_state', 'current_state', 'reason'],
      ...marks,
    ]);
    expect(parsed[unverified + 2]).toEqual([
      ...['127.0.50.3', 'tcp', '22', 'open', '', 'batch_failed'],
      ...['3', '', 'false', '', '', ''],
    ]);
  });

  it('names files delta_report_<YYYYmmdd_HHMMSS>_<id>.csv in UTC', () => {
    expect(deltaCsvFileName(new Date('2026-11-30T04:05:06.789Z'), 12)).toBe(
      'delta_report_20261130_040506_12.csv',
    );
  });
});
