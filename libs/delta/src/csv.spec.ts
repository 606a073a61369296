import { parse } from 'csv-parse/sync';
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
    ]);
    const changed = rows.findIndex((r) => r[0] === 'Changed services');
    expect(rows[changed + 2].slice(5, 6)).toEqual([`'\tTab`]);
    expect(rows[changed + 2].slice(8)).toEqual(['ssh', `'+cmd`, '', `'\rx`]);
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

  it('names files delta_report_<YYYYmmdd_HHMMSS>_<id>.csv in UTC', () => {
    expect(deltaCsvFileName(new Date('2026-11-30T04:05:06.789Z'), 12)).toBe(
      'delta_report_20261130_040506_12.csv',
    );
  });
});
