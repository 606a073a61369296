import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { diffResults, summarizeDelta, type DeltaRun } from './diff';
import { scanOptionsOf } from './scan-options';

type FixturePort = [string, number, string, string?, string?, string?, string?];
interface FixtureRun {
  flags: string[];
  scanned: string[];
  failed: string[];
  hosts: Array<{ address: string; state: string; hostnames?: string[]; ports: FixturePort[] }>;
}

/** A fixture run (test/fixtures/README.md) as the delta service would load it. */
function run(r: FixtureRun): DeltaRun {
  return {
    options: scanOptionsOf(r.flags),
    coverage: { scanned: new Set(r.scanned), failed: new Set(r.failed) },
    hosts: r.hosts.map((h) => ({
      address: h.address,
      state: h.state,
      hostnames: h.hostnames,
      ports: h.ports.map(([protocol, port, state, service, product, version, extrainfo]) => ({
        protocol,
        port,
        state,
        service,
        product,
        version,
        extrainfo,
      })),
    })),
  };
}

function fixture(name: string): Record<string, DeltaRun> {
  const raw = JSON.parse(readFileSync(join(__dirname, '..', 'test', 'fixtures', `${name}.json`), 'utf8'));
  return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, run(v as FixtureRun)]));
}

const ports = (list: Array<{ host: string; protocol?: string; port?: number }>) =>
  list.map((p) => `${p.host} ${p.protocol}/${p.port}`);

describe('diffResults', () => {
  it('keys ports by protocol: udp/53 opening beside an open tcp/53 is an added port, udp/123 closing a removed one', () => {
    const { baseline, current } = fixture('tcp-udp-53');
    const delta = diffResults(baseline, current);
    expect(ports(delta.added_ports)).toEqual(['127.0.50.1 udp/53']);
    expect(ports(delta.removed_ports)).toEqual(['127.0.50.1 udp/123']);
    expect(delta.removed_ports[0].state).toBe('closed');
    expect(delta.changed_ports).toEqual([]);
    expect(delta.comparable).toBe(true);
  });

  it('never reports gone a host whose batch failed, nor one the run did not target: they are unverified', () => {
    const { baseline, current } = fixture('failed-batch');
    const delta = diffResults(baseline, current);
    expect(delta.new_down_hosts).toEqual([]);
    expect(delta.removed_ports).toEqual([]);
    expect(delta.unverified).toEqual([{ host: '127.0.50.3', baseline_state: 'up', reason: 'batch_failed' }]);
    expect(summarizeDelta(delta)).toMatchObject({ has_changes: false, unverified_count: 1 });

    const untargeted = diffResults(baseline, {
      ...current,
      coverage: { scanned: new Set(['127.0.50.1']), failed: new Set() },
    });
    expect(untargeted.unverified).toEqual([
      { host: '127.0.50.3', baseline_state: 'up', reason: 'not_targeted' },
    ]);
  });

  it('never reports down a host whose state nmap did not determine (-sL lists it `unknown`): it is unverified', () => {
    const scanned = ['127.0.50.1', '127.0.50.2'];
    const baseline = run({
      flags: ['-sn'],
      scanned,
      failed: [],
      hosts: scanned.map((address) => ({ address, state: 'up', ports: [] })),
    });
    const current = run({
      flags: ['-sL'],
      scanned,
      failed: [],
      hosts: [
        { address: '127.0.50.1', state: 'unknown', ports: [] },
        { address: '127.0.50.2', state: 'down', ports: [] },
      ],
    });
    const delta = diffResults(baseline, current);
    expect(delta.new_down_hosts.map((h) => h.host)).toEqual(['127.0.50.2']);
    expect(delta.unverified).toEqual([
      { host: '127.0.50.1', baseline_state: 'up', current_state: 'unknown', reason: 'state_ambiguous' },
    ]);
    expect(summarizeDelta(delta)).toMatchObject({ removed_hosts_count: 1, unverified_count: 1 });
  });

  it('with --open, a host no longer listed lost its open ports; it is not reported down (nmap hides hosts without one)', () => {
    const scanned = ['127.0.66.5', '127.0.66.6'];
    const flags = ['-sT', '-Pn', '-n', '--open', '-p8081,8082'];
    const baseline = run({
      flags,
      scanned,
      failed: [],
      hosts: [
        { address: '127.0.66.5', state: 'up', ports: [['tcp', 8081, 'open']] },
        { address: '127.0.66.6', state: 'up', ports: [['tcp', 8082, 'open']] },
      ],
    });
    const current = run({
      flags,
      scanned,
      failed: [],
      hosts: [{ address: '127.0.66.5', state: 'up', ports: [['tcp', 8081, 'open']] }],
    });
    const delta = diffResults(baseline, current);
    expect(delta.new_down_hosts).toEqual([]);
    expect(delta.removed_ports).toMatchObject([
      { host: '127.0.66.6', protocol: 'tcp', port: 8082, state: 'absent' },
    ]);
    expect(delta.unverified).toEqual([
      { host: '127.0.66.6', baseline_state: 'up', reason: 'state_ambiguous' },
    ]);
    expect(summarizeDelta(delta)).toMatchObject({ removed_hosts_count: 0, closed_ports_count: 1 });

    // The other way: a host --open left out of the baseline may have been up; its first open port is an added
    // port, not a new up host. A host nmap says is down is still reported down.
    const back = diffResults(current, baseline);
    expect(back.new_up_hosts).toEqual([]);
    expect(ports(back.added_ports)).toEqual(['127.0.66.6 tcp/8082']);
    const down = diffResults(
      baseline,
      run({
        flags,
        scanned,
        failed: [],
        hosts: [
          { address: '127.0.66.5', state: 'up', ports: [['tcp', 8081, 'open']] },
          { address: '127.0.66.6', state: 'down', ports: [] },
        ],
      }),
    );
    expect(down.new_down_hosts.map((h) => h.host)).toEqual(['127.0.66.6']);
  });

  it('with a narrowed port list, a port left out is unverified and the runs are flagged not comparable', () => {
    const { baseline, current } = fixture('narrowed-ports');
    const delta = diffResults(baseline, current);
    expect(ports(delta.removed_ports)).toEqual(['127.0.50.1 tcp/80']);
    expect(delta.unverified).toEqual([
      {
        host: '127.0.50.1',
        protocol: 'tcp',
        port: 443,
        baseline_state: 'open',
        reason: 'port_not_scanned',
      },
    ]);
    expect(delta.comparable).toBe(false);
    expect(delta.differences).toEqual([{ option: 'ports', baseline: 'tcp:22,80,443', current: 'tcp:22,80' }]);
  });

  it('with a changed option set (scan type and -sV), says so and does not call the new version text a change', () => {
    const { baseline, current } = fixture('changed-options');
    const delta = diffResults(baseline, current);
    expect(delta.comparable).toBe(false);
    expect(delta.differences).toEqual([
      { option: 'scan_types', baseline: '-sS', current: '-sT' },
      { option: 'version_detection', baseline: 'none', current: '-sV' },
    ]);
    expect(delta.changed_ports).toEqual([]);
    expect(summarizeDelta(delta).has_changes).toBe(false);
  });

  it('does not count open|filtered as open: open|filtered → open is added, open → open|filtered unverified', () => {
    const { baseline, current } = fixture('open-filtered');
    const delta = diffResults(baseline, current);
    expect(ports(delta.added_ports)).toEqual(['127.0.50.1 udp/161']);
    expect(delta.removed_ports).toEqual([]);
    expect(delta.unverified).toEqual([
      {
        host: '127.0.50.1',
        protocol: 'udp',
        port: 123,
        baseline_state: 'open',
        current_state: 'open|filtered',
        reason: 'state_ambiguous',
      },
    ]);
  });

  it('reports hosts that appear and vanish with their ports, and service changes with before and after', () => {
    const { baseline, current } = fixture('hosts-appear-vanish');
    const delta = diffResults(baseline, current);
    expect(delta.new_up_hosts).toEqual([{ host: '127.0.50.2', hostnames: [], open_ports: 1 }]);
    expect(delta.new_down_hosts).toEqual([{ host: '127.0.50.3', hostnames: [], open_ports: 1 }]);
    expect(ports(delta.added_ports)).toEqual(['127.0.50.1 tcp/8080', '127.0.50.2 tcp/22']);
    expect(ports(delta.removed_ports)).toEqual(['127.0.50.1 tcp/80', '127.0.50.3 tcp/443']);
    expect(delta.changed_ports).toEqual([
      {
        host: '127.0.50.1',
        protocol: 'tcp',
        port: 22,
        changed: ['version'],
        before: { state: 'open', service: 'ssh', product: 'OpenSSH', version: '8.9p1', extrainfo: null },
        after: { state: 'open', service: 'ssh', product: 'OpenSSH', version: '9.2p1', extrainfo: null },
      },
    ]);
    // 127.0.50.4 was not a target of the current run: not reported down.
    expect(delta.unverified).toEqual([{ host: '127.0.50.4', baseline_state: 'up', reason: 'not_targeted' }]);
    expect(summarizeDelta(delta)).toEqual({
      new_ports_count: 2,
      closed_ports_count: 2,
      changed_services_count: 1,
      new_hosts_count: 1,
      removed_hosts_count: 1,
      unverified_count: 1,
      has_changes: true,
    });
  });

  it('with the same top-N selection a vanished port is removed; after switching to -F it is unverified', () => {
    const { baseline, current, current_fast } = fixture('top-ports');
    expect(ports(diffResults(baseline, current).removed_ports)).toEqual(['127.0.50.1 tcp/8443']);
    const fast = diffResults(baseline, current_fast);
    expect(fast.removed_ports).toEqual([]);
    expect(fast.unverified).toEqual([
      expect.objectContaining({ port: 8443, reason: 'port_coverage_unknown' }),
    ]);
    expect(fast.differences).toEqual([{ option: 'ports', baseline: 'tcp:top 1000', current: 'tcp:top 100' }]);
  });

  it('does not call a port whose name went from nmap’s "unknown" to no name (or back) a changed service', () => {
    const { baseline } = fixture('narrowed-ports');
    const named = (service: string | undefined): DeltaRun => ({
      ...baseline,
      hosts: [
        {
          address: '127.0.50.1',
          state: 'up',
          ports: [{ protocol: 'tcp', port: 32799, state: 'open', service }],
        },
      ],
    });
    expect(diffResults(named('unknown'), named(undefined)).changed_ports).toEqual([]);
    expect(diffResults(named(undefined), named('unknown')).changed_ports).toEqual([]);
    expect(diffResults(named('unknown'), named('http')).changed_ports).toHaveLength(1);
  });

  it('reports nothing for identical runs', () => {
    const { baseline } = fixture('hosts-appear-vanish');
    const delta = diffResults(baseline, baseline);
    expect(summarizeDelta(delta)).toMatchObject({ has_changes: false, unverified_count: 0 });
    expect(delta.comparable).toBe(true);
  });
});

describe('scanOptionsOf', () => {
  it.each([
    [[], 'tcp:top 1000', ['S']],
    [['-F'], 'tcp:top 100', ['S']],
    [['--top-ports=20', '-sT'], 'tcp:top 20', ['T']],
    [['--top-ports', '20'], 'tcp:top 20', ['S']],
    [['-p', '22,80'], 'tcp:22,80', ['S']],
    [['-sSU', '-pT:22,U:53'], 'tcp:22 udp:53', ['S', 'U']],
    [['-sS', '-sU', '-p53'], 'tcp:53 udp:53', ['S', 'U']],
    [['-p-'], 'tcp:1-65535', ['S']],
    [['-sn'], 'none', []],
    [['--exclude-ports=22'], 'tcp:unknown (--exclude-ports=22)', ['S']],
    [['-p', '1-100', '--exclude-ports', '22,90-'], 'tcp:1-21,23-89', ['S']],
    [['-sSU', '-pT:1-10,U:53', '--exclude-ports=5,U:53'], 'tcp:1-4,6-10', ['S', 'U']],
    [['-p', '1-100', '--port-ratio', '0.5'], 'tcp:unknown (-p1-100 --port-ratio=0.5)', ['S']],
    [['-p80,443', '--top-ports=1'], 'tcp:unknown (-p80,443 --top-ports=1)', ['S']],
    // Read with the argument policy's option table (nmap 7.93's getopt_long_only): a unique abbreviation, a long
    // option written with one dash, a value that is a word of its own or starts with a dash, and `--`.
    [['--top', '50'], 'tcp:top 50', ['S']],
    [['-top-ports', '10', '-sT'], 'tcp:top 10', ['T']],
    [['--max-rtt-timeout', '100ms', '-p', '443'], 'tcp:443', ['S']],
    [['--exclude', '127.0.0.9', '-oX', '-', '-p80'], 'tcp:80', ['S']],
    [['-p', '22', '--', '-sU'], 'tcp:22', ['S']],
  ])('%j → %s', (flags, spec, types) => {
    const options = scanOptionsOf(flags);
    expect(options.portSpec).toBe(spec);
    expect(options.scanTypes).toEqual(types);
  });

  it('sees -sV alone and combined', () => {
    expect(scanOptionsOf(['-sV']).versionDetection).toBe(true);
    expect(scanOptionsOf(['-sTV']).versionDetection).toBe(true);
    expect(scanOptionsOf(['-sT']).versionDetection).toBe(false);
  });
});

describe('scanOptionsOf: options that imply others (nmap(1))', () => {
  it.each([
    [['-sC', '-sV'], 'tcp:top 1000', ['S'], true],
    [['-sCV', '-p', '22'], 'tcp:22', ['S'], true],
    [['-sC', '-sS', '-sU', '-p', '53'], 'tcp:53 udp:53', ['S', 'U'], false],
    [['-A', '-p', '22'], 'tcp:22', ['S'], true],
    [['-sA', '-p', '22'], 'tcp:22', ['A'], false],
    [['-sR', '-p', '22'], 'tcp:22', ['S'], true],
    [['-sP'], 'none', [], false],
    [['--script', 'vuln', '-sT', '-p', '80'], 'tcp:80', ['T'], false],
  ])('%j → %s %j, -sV %s', (flags, spec, types, version) => {
    const options = scanOptionsOf(flags);
    expect(options.portSpec).toBe(spec);
    expect(options.scanTypes).toEqual(types);
    expect(options.versionDetection).toBe(version);
  });
});

describe('diffResults: nmap read right', () => {
  const host = (ports: FixturePort[], unlistedStates?: string[]) => ({
    address: '127.0.9.5',
    state: 'up',
    ports: ports.map(([protocol, port, state, service, product, version]) => ({
      protocol,
      port,
      state,
      service,
      product,
      version,
    })),
    ...(unlistedStates ? { unlistedStates } : {}),
  });
  const runOf = (flags: string[], h: ReturnType<typeof host>): DeltaRun => ({
    options: scanOptionsOf(flags),
    coverage: { scanned: new Set(['127.0.9.5']), failed: new Set() },
    hosts: [h],
  });

  it('a port gone between two `nmap -sC -sV` runs is removed, not unverified', () => {
    const flags = ['-sC', '-sV', '-p', '22,80'];
    const delta = diffResults(
      runOf(
        flags,
        host([
          ['tcp', 22, 'open', 'ssh'],
          ['tcp', 80, 'open', 'http'],
        ]),
      ),
      runOf(flags, host([['tcp', 22, 'open', 'ssh']])),
    );
    expect(ports(delta.removed_ports)).toEqual(['127.0.9.5 tcp/80']);
    expect(delta.unverified).toEqual([]);
    expect(delta.comparable).toBe(true);
  });

  it('-A is version detection: a version change between an -sV run and an -A run is a changed service', () => {
    const delta = diffResults(
      runOf(['-sV', '-p', '22'], host([['tcp', 22, 'open', 'ssh', 'OpenSSH', '8.9']])),
      runOf(['-A', '-p', '22'], host([['tcp', 22, 'open', 'ssh', 'OpenSSH', '9.6']])),
    );
    expect(delta.comparable).toBe(true);
    expect(delta.changed_ports).toHaveLength(1);
    expect(delta.changed_ports[0]).toMatchObject({ port: 22, changed: ['version'] });
  });

  it('-p narrowed by --exclude-ports or --top-ports does not scan every port of the list: a vanished port is unverified', () => {
    const before = host([['tcp', 8081, 'open']]);
    const excluded = diffResults(
      runOf(['-sT', '-p8081-8082'], before),
      runOf(['-sT', '-p8081-8082', '--exclude-ports=8081'], host([])),
    );
    expect(excluded.removed_ports).toEqual([]);
    expect(excluded.unverified).toMatchObject([{ port: 8081, reason: 'port_not_scanned' }]);
    const top = diffResults(
      runOf(['-sT', '-p80,8081'], before),
      runOf(['-sT', '-p80,8081', '--top-ports=1'], host([])),
    );
    expect(top.removed_ports).toEqual([]);
    expect(top.unverified).toMatchObject([{ port: 8081, reason: 'port_coverage_unknown' }]);
    // The same narrowed selection in both runs looked at the same ports: a port gone is removed.
    const same = ['-sT', '-p8081-8082', '--exclude-ports=8082'];
    expect(diffResults(runOf(same, before), runOf(same, host([]))).removed_ports).toMatchObject([
      { port: 8081, state: 'closed' },
    ]);
  });

  it('a port no longer listed takes the state <extraports> gives the unlisted ports', () => {
    const flags = ['-sS', '-p', '1-1000'];
    const before = host([
      ['tcp', 22, 'open'],
      ['tcp', 80, 'open'],
    ]);
    const filtered = diffResults(
      runOf(flags, before),
      runOf(flags, host([['tcp', 22, 'open']], ['filtered'])),
    );
    expect(filtered.removed_ports).toMatchObject([{ port: 80, state: 'filtered' }]);
    const both = diffResults(
      runOf(flags, before),
      runOf(flags, host([['tcp', 22, 'open']], ['filtered', 'closed'])),
    );
    expect(both.removed_ports).toMatchObject([{ port: 80, state: 'closed|filtered' }]);
    const unsaid = diffResults(runOf(flags, before), runOf(flags, host([['tcp', 22, 'open']])));
    expect(unsaid.removed_ports).toMatchObject([{ port: 80, state: 'closed' }]);
  });

  it('unlisted ports that may be open (open|filtered) leave a vanished port unverified', () => {
    const flags = ['-sU', '-p', '53,123'];
    const delta = diffResults(
      runOf(
        flags,
        host([
          ['udp', 53, 'open'],
          ['udp', 123, 'open'],
        ]),
      ),
      runOf(flags, host([['udp', 53, 'open']], ['open|filtered'])),
    );
    expect(delta.removed_ports).toEqual([]);
    expect(delta.unverified).toMatchObject([
      { port: 123, reason: 'state_ambiguous', current_state: 'open|filtered' },
    ]);
  });
});
