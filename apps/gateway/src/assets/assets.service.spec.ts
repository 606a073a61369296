import { BadRequestException } from '@nestjs/common';
import { scanOptionsOf } from '@nso/delta';
import type { AssetRun, AssetSighting, ScanHostSummary } from '@nso/persistence';
import { ParseProtocolPipe } from './assets.dto';
import {
  assetAddress,
  compareAddresses,
  latestLooks,
  lookedAtPort,
  mergeLooks,
  portStateIn,
  type Look,
} from './assets.service';

const run = (id: number, extra: Partial<AssetRun> = {}): AssetRun => ({
  result_id: id,
  scan_id: 1,
  scan_name: 'Lab',
  trigger: 'schedule',
  status: 'completed',
  finished_at: null,
  nmap_flags: ['-sT', '-p22,80'],
  ...extra,
});
const row = (id: number, state = 'up', unlisted: string[] = []): AssetSighting => ({
  ...run(id),
  host_id: id * 10,
  state,
  hostnames: [],
  unlisted_states: unlisted,
});
const summary = (address: string, lastRow: number): ScanHostSummary => ({
  address,
  first_up_result_id: 1,
  last_up_result_id: lastRow,
  last_row_result_id: lastRow,
  last_row_host_id: lastRow * 10,
  last_row_state: 'up',
});

describe('assetAddress', () => {
  it('gives the canonical form and refuses what is no IP, naming the field', () => {
    expect(assetAddress('::FFFF:127.0.0.5')).toBe('127.0.0.5');
    expect(assetAddress('0:0:0:0:0:0:0:1')).toBe('::1');
    expect(() => assetAddress('localhost')).toThrow(BadRequestException);
    try {
      assetAddress('127.1');
    } catch (error) {
      expect((error as BadRequestException).getResponse()).toEqual({
        error: 'address must be an IPv4 or IPv6 address',
        field: 'address',
      });
    }
  });
});

describe('mergeLooks', () => {
  it('merges covering runs and host rows by run id, newest first, keeping the row', () => {
    const looks = mergeLooks([row(3), row(1)], [run(4), run(3), run(2)]);
    expect(looks.map((l) => [l.run.result_id, l.row !== undefined])).toEqual([
      [4, false],
      [3, true],
      [2, false],
      [1, true],
    ]);
  });
});

describe('lookedAtPort', () => {
  it('follows the run’s port selection; a top-N run counts only where nmap listed the host', () => {
    const listed: Look = { run: run(1), row: row(1) };
    const unlisted: Look = { run: run(2) };
    const explicit = scanOptionsOf(['-sT', '-p22,80']);
    expect(lookedAtPort(unlisted, explicit, 'tcp', 22)).toBe(true);
    expect(lookedAtPort(listed, explicit, 'tcp', 443)).toBe(false);
    expect(lookedAtPort(listed, explicit, 'udp', 22)).toBe(false);
    const top = scanOptionsOf(['-sT', '--top-ports=100']);
    expect(lookedAtPort(listed, top, 'tcp', 22)).toBe(true);
    expect(lookedAtPort(unlisted, top, 'tcp', 22)).toBe(false);
    expect(lookedAtPort(listed, scanOptionsOf(['-sn']), 'tcp', 22)).toBe(false);
  });
});

describe('the IP protocols of an -sO scan', () => {
  it('name a port history as ip/N, which the run looked at when its -p listed the protocol', () => {
    expect(new ParseProtocolPipe().transform('ip')).toBe('ip');
    expect(() => new ParseProtocolPipe().transform('icmp')).toThrow(BadRequestException);
    const protocols = scanOptionsOf(['-sO', '-p6,17']);
    expect(lookedAtPort({ run: run(1), row: row(1) }, protocols, 'ip', 17)).toBe(true);
    expect(lookedAtPort({ run: run(1), row: row(1) }, protocols, 'ip', 1)).toBe(false);
  });
});

describe('portStateIn', () => {
  it('is the port row’s state, else the host’s unlisted state or closed, and host-down without an up host', () => {
    expect(portStateIn({ run: run(1), row: row(1) }, { state: 'filtered' })).toBe('filtered');
    expect(portStateIn({ run: run(1), row: row(1, 'up', ['filtered', 'closed']) }, undefined)).toBe(
      'filtered',
    );
    expect(portStateIn({ run: run(1), row: row(1) }, undefined)).toBe('closed');
    expect(portStateIn({ run: run(1), row: row(1, 'down') }, undefined)).toBe('host-down');
    expect(portStateIn({ run: run(1) }, undefined)).toBe('host-down');
  });
});

describe('latestLooks', () => {
  it('takes a newer run that covered an address without listing it, reading only the runs it needs', async () => {
    const runs = [run(5), run(4, { status: 'queued' }), run(3), run(2), run(1)];
    const coverage: Record<number, string[]> = {
      5: ['127.0.0.1', '127.0.0.2'],
      3: ['127.0.0.1', '127.0.0.2', '127.0.0.3'],
      2: ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4'],
    };
    const read: number[] = [];
    const latest = await latestLooks(
      runs,
      [summary('127.0.0.1', 5), summary('127.0.0.2', 3), summary('127.0.0.3', 2), summary('127.0.0.4', 1)],
      (id) => {
        read.push(id);
        return Promise.resolve(new Set(coverage[id] ?? []));
      },
    );
    expect(Object.fromEntries(latest)).toEqual({
      '127.0.0.1': 5,
      '127.0.0.2': 5,
      '127.0.0.3': 3,
      '127.0.0.4': 2,
    });
    // Run 1 is never read (every address settled by then), nor the queued run 4.
    expect(read).toEqual([5, 3, 2]);
  });

  it('reads no coverage when the latest run listed every address', async () => {
    const read: number[] = [];
    const latest = await latestLooks(
      [run(2), run(1)],
      [summary('127.0.0.1', 2), summary('127.0.0.2', 2)],
      (id) => {
        read.push(id);
        return Promise.resolve(new Set<string>());
      },
    );
    expect([...latest.values()]).toEqual([2, 2]);
    expect(read).toEqual([]);
  });
});

describe('compareAddresses', () => {
  it('orders IPv4 numerically, then IPv6', () => {
    expect(['::1', '127.0.0.10', '127.0.0.9', '10.0.0.1'].sort(compareAddresses)).toEqual([
      '10.0.0.1',
      '127.0.0.9',
      '127.0.0.10',
      '::1',
    ]);
  });
});
