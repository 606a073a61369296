// The coverage-aware diff of two runs of a scan: what changed between the baseline and the current run, and —
// apart from it — what the current run did not look at and so cannot say anything about. Pure: the delta
// service loads both runs into DeltaRun and stores what this returns. The rules are in docs/delta.md.
import { portScanned, type ScanOptions } from './scan-options';

/** A port as a run found it. `protocol`+`port` is its key: tcp/53 and udp/53 are different ports. */
export interface DeltaPortInput {
  protocol: string;
  port: number;
  /** nmap's state: open, closed, filtered, open|filtered, ... Only `open` counts as open. */
  state: string;
  service?: string | null;
  product?: string | null;
  version?: string | null;
  extrainfo?: string | null;
}

export interface DeltaHostInput {
  address: string;
  /** nmap's host state: up, down, unknown. */
  state: string;
  hostnames?: string[];
  ports: DeltaPortInput[];
  /**
   * The states of the ports nmap scanned on this host and did not list (its `<extraports>`). A port no longer
   * listed is in one of them; when unknown (absent or empty), it is taken as `closed`, as nmap lists every port
   * it found in another state when it summarises none.
   */
  unlistedStates?: readonly string[];
}

/**
 * Where a run looked: the addresses it targeted whose batch completed (`scanned`), and those whose batch failed
 * or was stopped (`failed`). An address in neither was not a target of the run.
 */
export interface RunCoverage {
  scanned: ReadonlySet<string>;
  failed: ReadonlySet<string>;
}

/** One run, normalised for the diff. Hosts are keyed by address (one entry per address). */
export interface DeltaRun {
  hosts: readonly DeltaHostInput[];
  coverage: RunCoverage;
  options: ScanOptions;
}

export interface HostChange {
  host: string;
  hostnames: string[];
  /** Open ports of the host in the run where it is up. */
  open_ports: number;
}

export interface PortChange {
  host: string;
  protocol: string;
  port: number;
  state: string;
  service: string | null;
  product: string | null;
  version: string | null;
  extrainfo: string | null;
}

export type ServiceFields = Pick<PortChange, 'state' | 'service' | 'product' | 'version' | 'extrainfo'>;

export interface ServiceChange {
  host: string;
  protocol: string;
  port: number;
  /** Which of service, product, version, extrainfo differ. */
  changed: Array<'service' | 'product' | 'version' | 'extrainfo'>;
  before: ServiceFields;
  after: ServiceFields;
}

export type UnverifiedReason =
  /** The address's batch failed or was stopped in the current run. */
  | 'batch_failed'
  /** The address was not a target of the current run. */
  | 'not_targeted'
  /** The current run's port selection left this port (or its protocol) out. */
  | 'port_not_scanned'
  /** The current run scanned nmap's top-N list, or a selection that cannot be enumerated: this port may be in it. */
  | 'port_coverage_unknown'
  /**
   * The current run found the port `open|filtered` (or another state that does not rule out open), or the host in
   * a state that is neither up nor down (`unknown`: a list scan `-sL` sends no probe; an agent's `error`).
   */
  | 'state_ambiguous';

/** Something the baseline saw that the current run cannot confirm or deny: never reported removed or down. */
export interface Unverified {
  host: string;
  protocol?: string;
  port?: number;
  /** The baseline's state of the port (or host). */
  baseline_state: string;
  current_state?: string;
  reason: UnverifiedReason;
}

export interface OptionDifference {
  option: 'ports' | 'scan_types' | 'version_detection';
  baseline: string;
  current: string;
}

export interface Delta {
  new_up_hosts: HostChange[];
  new_down_hosts: HostChange[];
  added_ports: PortChange[];
  removed_ports: PortChange[];
  changed_ports: ServiceChange[];
  unverified: Unverified[];
  /** False when the runs' options differ in a way that changes what they can see (see `differences`). */
  comparable: boolean;
  differences: OptionDifference[];
}

export interface DeltaSummary {
  new_ports_count: number;
  closed_ports_count: number;
  changed_services_count: number;
  new_hosts_count: number;
  removed_hosts_count: number;
  unverified_count: number;
  has_changes: boolean;
}

const SERVICE_FIELDS = ['service', 'product', 'version', 'extrainfo'] as const;

const key = (p: { protocol: string; port: number }): string => `${p.protocol}/${p.port}`;
const isOpen = (p: DeltaPortInput | undefined): boolean => p?.state === 'open';
const isUp = (h: DeltaHostInput | undefined): boolean => h?.state === 'up';
/**
 * Host states in which nmap said nothing of the host: `unknown` (a list scan, `-sL`, probes nothing; an agent's
 * `error` is stored so) and `skipped`. Only `down` (or no entry at all) says a host went away.
 */
const UNDETERMINED_HOST = new Set(['unknown', 'skipped']);
/** States that do not rule out `open`: nmap could not tell. */
const AMBIGUOUS = new Set(['open|filtered', 'unknown']);

function portChange(host: string, p: DeltaPortInput): PortChange {
  return {
    host,
    protocol: p.protocol,
    port: p.port,
    state: p.state,
    service: p.service ?? null,
    product: p.product ?? null,
    version: p.version ?? null,
    extrainfo: p.extrainfo ?? null,
  };
}

const fields = (p: DeltaPortInput): ServiceFields => ({
  state: p.state,
  service: p.service ?? null,
  product: p.product ?? null,
  version: p.version ?? null,
  extrainfo: p.extrainfo ?? null,
});

const hostChange = (h: DeltaHostInput): HostChange => ({
  host: h.address,
  hostnames: h.hostnames ?? [],
  open_ports: h.ports.filter(isOpen).length,
});

/**
 * A port's value of a service field for comparison. nmap names a port `unknown` when its services table has no
 * name for it, and some files omit the name instead: both mean no name.
 */
const serviceValue = (p: DeltaPortInput, field: (typeof SERVICE_FIELDS)[number]): string | null => {
  const value = p[field] ?? null;
  return field === 'service' && value === 'unknown' ? null : value;
};

const sameService = (a: DeltaPortInput, b: DeltaPortInput): boolean =>
  serviceValue(a, 'service') === serviceValue(b, 'service') &&
  (a.product ?? null) === (b.product ?? null) &&
  (a.version ?? null) === (b.version ?? null) &&
  (a.extrainfo ?? null) === (b.extrainfo ?? null);

/**
 * A lookup of a host's ports by (protocol, port). A host lists a handful of ports: a linear scan beats building
 * a Map for each of 65,536 hosts; a host with many ports (a full-range scan) gets a Map.
 */
function portIndex(
  ports: readonly DeltaPortInput[],
): (p: { protocol: string; port: number }) => DeltaPortInput | undefined {
  if (ports.length <= 16) {
    return (p) => {
      for (const q of ports) if (q.port === p.port && q.protocol === p.protocol) return q;
      return undefined;
    };
  }
  const map = new Map<string, DeltaPortInput>();
  for (const q of ports) map.set(key(q), q);
  return (p) => map.get(key(p));
}

/** The option differences between two runs that make their results not directly comparable. */
export function optionDifferences(baseline: ScanOptions, current: ScanOptions): OptionDifference[] {
  const out: OptionDifference[] = [];
  if (baseline.portSpec !== current.portSpec) {
    out.push({ option: 'ports', baseline: baseline.portSpec, current: current.portSpec });
  }
  const types = (o: ScanOptions) =>
    o.scanTypes.length ? o.scanTypes.map((t) => `-s${t}`).join(' ') : 'none';
  if (types(baseline) !== types(current)) {
    out.push({ option: 'scan_types', baseline: types(baseline), current: types(current) });
  }
  if (baseline.versionDetection !== current.versionDetection) {
    const text = (on: boolean) => (on ? '-sV' : 'none');
    out.push({
      option: 'version_detection',
      baseline: text(baseline.versionDetection),
      current: text(current.versionDetection),
    });
  }
  return out;
}

/**
 * Diffs `current` against `baseline` (both of one scan). Linear in hosts + ports; a 65,536-host pair takes a
 * few hundred milliseconds. Rules (docs/delta.md):
 * - hosts by address, ports by (protocol, port); only state `open` is open (`open|filtered` is not);
 * - a host up now and not before is a new up host, and its open ports are added ports; a host up before and
 *   down or absent now is a new down host, and its open ports are removed ports — only if the current run
 *   scanned the address in a batch that completed;
 * - a port open now and not before is added; open before and not open now is removed — only if the current run
 *   scanned that port of that host; `open|filtered` now is unverified, never removed;
 * - a port open in both whose service, product, version or extrainfo differ is changed (not compared when only
 *   one run had -sV: the fields mean different things then);
 * - whatever the current run did not look at is listed in `unverified`, with why;
 * - `comparable` is false when ports, scan types or -sV differ, and `differences` says how.
 */
export function diffResults(baseline: DeltaRun, current: DeltaRun): Delta {
  const differences = optionDifferences(baseline.options, current.options);
  const compareServices = baseline.options.versionDetection === current.options.versionDetection;
  const delta: Delta = {
    new_up_hosts: [],
    new_down_hosts: [],
    added_ports: [],
    removed_ports: [],
    changed_ports: [],
    unverified: [],
    comparable: differences.length === 0,
    differences,
  };
  const before = new Map<string, DeltaHostInput>();
  for (const host of baseline.hosts) before.set(host.address, host);
  const seen = new Set<string>();

  /** Why the current run cannot speak for this address, or undefined when it scanned it. */
  const hostGap = (address: string): UnverifiedReason | undefined => {
    if (current.coverage.scanned.has(address)) return undefined;
    return current.coverage.failed.has(address) ? 'batch_failed' : 'not_targeted';
  };

  for (const now of current.hosts) {
    seen.add(now.address);
    const was = before.get(now.address);
    if (isUp(now) && !isUp(was)) {
      // A baseline run with --open left out the hosts without an open port: absent there, it may have been up.
      if (was || !baseline.options.openOnly) delta.new_up_hosts.push(hostChange(now));
      for (const p of now.ports) if (isOpen(p)) delta.added_ports.push(portChange(now.address, p));
      continue;
    }
    if (!isUp(now) && isUp(was)) {
      goneHost(was!, now);
      continue;
    }
    if (!isUp(now)) continue;
    // Up in both: port by port.
    const wasPorts = portIndex(was!.ports);
    const nowPorts = portIndex(now.ports);
    for (const p of now.ports) {
      const old = wasPorts(p);
      if (isOpen(p) && !isOpen(old)) {
        delta.added_ports.push(portChange(now.address, p));
      } else if (isOpen(p) && isOpen(old)) {
        if (!compareServices || sameService(p, old!)) continue;
        delta.changed_ports.push({
          host: now.address,
          protocol: p.protocol,
          port: p.port,
          changed: SERVICE_FIELDS.filter((f) => serviceValue(p, f) !== serviceValue(old!, f)),
          before: fields(old!),
          after: fields(p),
        });
      } else if (!isOpen(p) && isOpen(old)) {
        closedPort(now.address, old!, p.state);
      }
    }
    for (const old of was!.ports) {
      if (isOpen(old) && !nowPorts(old)) closedPort(now.address, old, undefined, now.unlistedStates);
    }
  }
  for (const was of baseline.hosts) {
    if (!seen.has(was.address) && isUp(was)) goneHost(was, undefined);
  }
  return delta;

  /**
   * A port open in the baseline and not open (or not listed) now, on a host up in both runs. A port not listed
   * has the state of the host's unlisted ports (`<extraports>`): `filtered` when nmap says the rest are
   * filtered, `closed|filtered` when it says some are closed and some filtered, `closed` when it says nothing.
   */
  function closedPort(
    address: string,
    old: DeltaPortInput,
    state: string | undefined,
    unlisted?: readonly string[],
  ): void {
    // The host is in the current run's results, so its batch completed: only the port can be out of sight.
    const scanned = portScanned(current.options, old.protocol, old.port);
    let reason: UnverifiedReason | undefined;
    const unlistedState =
      unlisted && unlisted.length > 0 ? [...new Set(unlisted)].sort().join('|') : undefined;
    if (state !== undefined && AMBIGUOUS.has(state)) reason = 'state_ambiguous';
    // A port listed now in a definite state was scanned, whatever the option text says.
    if (!reason && state === undefined) {
      if (scanned === false) reason = 'port_not_scanned';
      else if (scanned === undefined && !sameSelection()) reason = 'port_coverage_unknown';
      else if (unlisted?.some((s) => s === 'open' || AMBIGUOUS.has(s))) {
        // Unlisted ports that may be open (`open|filtered` of a UDP scan) say nothing about this one.
        reason = 'state_ambiguous';
        state = unlistedState;
      }
    }
    if (reason) {
      delta.unverified.push({
        host: address,
        protocol: old.protocol,
        port: old.port,
        baseline_state: old.state,
        ...(state !== undefined ? { current_state: state } : {}),
        reason,
      });
    } else {
      delta.removed_ports.push(portChange(address, { ...old, state: state ?? unlistedState ?? 'closed' }));
    }
  }

  /**
   * A host up in the baseline and not up (now) or absent from the current run: down only when the run looked at
   * it and nmap said `down` or left it out; a state nmap did not determine (`unknown`) is unverified.
   */
  function goneHost(was: DeltaHostInput, now: DeltaHostInput | undefined): void {
    const gap =
      hostGap(was.address) ?? (now && UNDETERMINED_HOST.has(now.state) ? 'state_ambiguous' : undefined);
    if (!gap && !now && current.options.openOnly) {
      openOnlyAbsent(was);
      return;
    }
    if (gap) {
      delta.unverified.push({
        host: was.address,
        baseline_state: was.state,
        ...(now ? { current_state: now.state } : {}),
        reason: gap,
      });
      return;
    }
    delta.new_down_hosts.push(hostChange(was));
    for (const p of was.ports) {
      if (isOpen(p))
        delta.removed_ports.push(portChange(was.address, { ...p, state: now ? 'down' : 'absent' }));
    }
  }

  /**
   * A host up in the baseline that a run with `--open` did not list: nmap left it out because it had no open
   * port, or because it was down — which, it cannot say. The host is unverified (`state_ambiguous`), and each of
   * its baseline's open ports that the run scanned is removed (state `absent`): not open, either way.
   */
  function openOnlyAbsent(was: DeltaHostInput): void {
    delta.unverified.push({ host: was.address, baseline_state: was.state, reason: 'state_ambiguous' });
    for (const p of was.ports) {
      if (!isOpen(p)) continue;
      const scanned = portScanned(current.options, p.protocol, p.port);
      const reason: UnverifiedReason | undefined =
        scanned === false
          ? 'port_not_scanned'
          : scanned === undefined && !sameSelection()
            ? 'port_coverage_unknown'
            : undefined;
      if (reason) {
        delta.unverified.push({
          host: was.address,
          protocol: p.protocol,
          port: p.port,
          baseline_state: p.state,
          reason,
        });
      } else delta.removed_ports.push(portChange(was.address, { ...p, state: 'absent' }));
    }
  }

  /**
   * Both runs picked ports the same way (the same top-N list of the same protocols): every port the baseline
   * found was in the current run's selection too.
   */
  function sameSelection(): boolean {
    return baseline.options.portSpec === current.options.portSpec;
  }
}

/** The counts a report row and the `delta_report` event carry. Unverified entries are not changes. */
export function summarizeDelta(delta: Delta): DeltaSummary {
  const summary = {
    new_ports_count: delta.added_ports.length,
    closed_ports_count: delta.removed_ports.length,
    changed_services_count: delta.changed_ports.length,
    new_hosts_count: delta.new_up_hosts.length,
    removed_hosts_count: delta.new_down_hosts.length,
    unverified_count: delta.unverified.length,
  };
  const has_changes =
    summary.new_ports_count +
      summary.closed_ports_count +
      summary.changed_services_count +
      summary.new_hosts_count +
      summary.removed_hosts_count >
    0;
  return { ...summary, has_changes };
}
