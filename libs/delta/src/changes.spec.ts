import { parse } from 'csv-parse/sync';
import { deltaChangeRows, deltaListsOf, type DeltaChangeRow } from './changes';
import { deltaCsvStream } from './csv';
import type { Delta } from './diff';

const delta: Delta = {
  new_up_hosts: [{ host: '127.0.60.2', hostnames: ['b.test'], open_ports: 1 }],
  new_down_hosts: [{ host: '127.0.60.3', hostnames: [], open_ports: 2 }],
  added_ports: [
    {
      host: '127.0.60.2',
      protocol: 'udp',
      port: 53,
      state: 'open',
      service: 'domain',
      product: '=cmd',
      version: null,
      extrainfo: null,
    },
  ],
  removed_ports: [
    {
      host: '127.0.60.3',
      protocol: 'tcp',
      port: 53,
      state: 'absent',
      service: null,
      product: null,
      version: null,
      extrainfo: null,
    },
  ],
  changed_ports: [
    {
      host: '127.0.60.1',
      protocol: 'tcp',
      port: 22,
      changed: ['version'],
      before: { state: 'open', service: 'ssh', product: 'OpenSSH', version: '9.2', extrainfo: null },
      after: { state: 'open', service: 'ssh', product: 'OpenSSH', version: '9.6', extrainfo: null },
    },
  ],
  unverified: [
    { host: '127.0.60.4', baseline_state: 'up', reason: 'batch_failed' },
    {
      host: '127.0.60.1',
      protocol: 'tcp',
      port: 80,
      baseline_state: 'open',
      current_state: 'open|filtered',
      reason: 'state_ambiguous',
    },
  ],
  comparable: true,
  differences: [],
};

describe('delta change rows', () => {
  it('numbers the lists in order and reads them back unchanged', async () => {
    const rows = [...deltaChangeRows(delta)];
    expect(rows.map((r) => [r.seq, r.kind])).toEqual([
      [1, 'new_up_host'],
      [2, 'new_down_host'],
      [3, 'added_port'],
      [4, 'removed_port'],
      [5, 'changed_port'],
      [6, 'unverified_host'],
      [7, 'unverified_port'],
    ]);
    // Through JSON, as the json columns store them.
    const stored = JSON.parse(JSON.stringify(rows)) as DeltaChangeRow[];
    const { comparable: _c, differences: _d, ...lists } = delta;
    // Each entry carries its marks: its change_id (seq) and, for rows stored without them, the defaults.
    let seq = 0;
    const marked = Object.fromEntries(
      Object.entries(lists).map(([name, list]) => [
        name,
        (list as object[]).map((entry) => ({
          ...entry,
          change_id: ++seq,
          verification: null,
          verification_result_id: null,
          flapping: false,
          exposure: null,
          accepted: null,
        })),
      ]),
    );
    expect(await deltaListsOf(stored)).toStrictEqual(marked);
  });

  it('writes the same CSV from change rows as from the lists, pulling rows only as they are written', async () => {
    const read = async (s: NodeJS.ReadableStream) => {
      let out = '';
      for await (const chunk of s) out += chunk.toString();
      return out;
    };
    const header = {
      id: 1,
      scan_id: 2,
      baseline_result_id: 3,
      current_result_id: 4,
      created_at: '2026-11-30T00:00:00.000Z',
    };
    const summary = {
      new_ports_count: 1,
      closed_ports_count: 1,
      changed_services_count: 1,
      new_hosts_count: 1,
      removed_hosts_count: 1,
      unverified_count: 2,
      has_changes: true,
    };
    let pulled = 0;
    async function* paged() {
      for (const row of deltaChangeRows(delta)) {
        pulled++;
        yield row;
      }
    }
    const fromRows = await read(
      deltaCsvStream(header, { summary, delta: { comparable: true, differences: [] } }, paged()),
    );
    const fromLists = await read(deltaCsvStream(header, { summary, delta }));
    expect(pulled).toBe(7);
    // The same but for the marks ending each change's row (and its section's head): lists read from delta_data
    // have no rows to mark.
    const parsed = (csv: string) => parse(csv, { relax_column_count: true }) as string[][];
    const marksOff = (csv: string) => parsed(csv).map((r) => (r.length >= 9 ? r.slice(0, -6) : r));
    expect(marksOff(fromRows)).toEqual(marksOff(fromLists));
    const records = parsed(fromRows);
    expect(records).toContainEqual([
      ...['127.0.60.2', 'udp', '53', 'open', 'domain', "'=cmd", '', ''],
      ...['3', '', 'false', '', '', ''],
    ]);
    expect(parsed(fromLists)).toContainEqual([
      ...['127.0.60.2', 'udp', '53', 'open', 'domain', "'=cmd", '', ''],
      ...['', '', '', '', '', ''],
    ]);
    expect(records).toContainEqual(['Unverified (not looked at by the current run)', '2']);
  });

  it('fails the CSV stream when reading a page fails', async () => {
    async function* broken(): AsyncGenerator<DeltaChangeRow> {
      yield* [];
      throw new Error('page read failed');
    }
    const stream = deltaCsvStream(
      { id: 1, scan_id: 2, baseline_result_id: 3, current_result_id: 4, created_at: 'x' },
      {},
      broken(),
    );
    await expect(
      (async () => {
        for await (const _chunk of stream) void _chunk;
      })(),
    ).rejects.toThrow('page read failed');
  });
});
