// The delta report's sections as the report page shows them (docs/delta.md): coverage-aware, unverified apart.

export interface DeltaPort {
  host: string;
  protocol: string;
  port: number;
  state: string;
  service: string | null;
  product: string | null;
  version: string | null;
  extrainfo: string | null;
}
export interface DeltaHost {
  host: string;
  hostnames: string[];
  open_ports: number;
}
export interface DeltaServiceChange {
  host: string;
  protocol: string;
  port: number;
  changed: string[];
  before: Record<string, string | null>;
  after: Record<string, string | null>;
}
export interface DeltaUnverified {
  host: string;
  protocol?: string;
  port?: number;
  baseline_state: string;
  current_state?: string;
  reason: string;
}
export interface DeltaDifference {
  option: string;
  baseline: string;
  current: string;
}
export interface DeltaLists {
  new_up_hosts?: DeltaHost[];
  new_down_hosts?: DeltaHost[];
  added_ports?: DeltaPort[];
  removed_ports?: DeltaPort[];
  changed_ports?: DeltaServiceChange[];
  unverified?: DeltaUnverified[];
  comparable?: boolean;
  differences?: DeltaDifference[];
}

/** A reason code of `delta.unverified` in words (DASHBOARD.md §6 "report"). Unknown codes are shown as sent. */
export function unverifiedReasonText(
  u: Pick<DeltaUnverified, 'reason' | 'baseline_state' | 'current_state'>,
): string {
  switch (u.reason) {
    case 'port_not_scanned':
      return 'port not scanned';
    case 'batch_failed':
      return 'batch failed or stopped';
    case 'not_targeted':
      return 'not a target of this run';
    case 'port_coverage_unknown':
      return 'port list differs (top-N)';
    case 'state_ambiguous':
      return `${u.baseline_state} → ${u.current_state ?? 'unknown'}`;
    default:
      return u.reason.replace(/_/g, ' ');
  }
}

/** An option difference in words: "ports: tcp:top 1000 → tcp:top 100". */
export function differenceText(d: DeltaDifference): string {
  const names: Record<string, string> = {
    ports: 'ports',
    scan_types: 'scan types',
    version_detection: 'version detection',
  };
  return `${names[d.option] ?? d.option}: ${d.baseline} → ${d.current}`;
}

/** A report above this many changes shows counts and the CSV link instead of tables (DASHBOARD.md §1). */
export const MAX_TABLE_CHANGES = 10_000;

export interface DeltaSections {
  newUpHosts: DeltaHost[];
  newDownHosts: DeltaHost[];
  addedPorts: DeltaPort[];
  removedPorts: DeltaPort[];
  changedServices: DeltaServiceChange[];
  unverified: DeltaUnverified[];
  comparable: boolean;
  differences: DeltaDifference[];
  /** Changes in all (unverified entries are not changes). */
  changeCount: number;
  tooLarge: boolean;
}

/** Splits `delta_data.delta` into the page's sections, sorted by host then port, with the count that decides tables. */
export function deltaSections(delta: DeltaLists | null | undefined): DeltaSections {
  const d = delta ?? {};
  const byHostPort = <T extends { host: string; port?: number; protocol?: string }>(
    list: T[] | undefined,
  ): T[] =>
    [...(list ?? [])].sort(
      (a, b) =>
        compareAddresses(a.host, b.host) ||
        (a.port ?? -1) - (b.port ?? -1) ||
        (a.protocol ?? '').localeCompare(b.protocol ?? ''),
    );
  const s = {
    newUpHosts: byHostPort(d.new_up_hosts),
    newDownHosts: byHostPort(d.new_down_hosts),
    addedPorts: byHostPort(d.added_ports),
    removedPorts: byHostPort(d.removed_ports),
    changedServices: byHostPort(d.changed_ports),
    unverified: byHostPort(d.unverified),
    comparable: d.comparable !== false,
    differences: d.differences ?? [],
  };
  const changeCount =
    s.newUpHosts.length +
    s.newDownHosts.length +
    s.addedPorts.length +
    s.removedPorts.length +
    s.changedServices.length;
  return { ...s, changeCount, tooLarge: changeCount > MAX_TABLE_CHANGES };
}

/** Orders IPv4 addresses numerically, anything else after them by text. */
export function compareAddresses(a: string, b: string): number {
  const v4 = (x: string) =>
    /^\d+\.\d+\.\d+\.\d+$/.test(x) ? x.split('.').reduce((n, o) => n * 256 + Number(o), 0) : null;
  const na = v4(a);
  const nb = v4(b);
  if (na !== null && nb !== null) return na - nb;
  if (na !== null) return -1;
  if (nb !== null) return 1;
  return a.localeCompare(b);
}
