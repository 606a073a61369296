// The delta report's sections as the report page shows them (docs/delta.md): coverage-aware, unverified apart.

/**
 * Who accepted a change and when (docs/delta.md "Accepted changes"): `by` the user id (null once that user is
 * deleted). `by_username` is in the accept route's answer (null once the user is deleted); the report's lists
 * carry `{by, at}` only.
 */
export interface DeltaAcceptance {
  by: number | null;
  by_username?: string | null;
  at: string;
}
/** Issue 21's marks on every change entry (docs/api.md "Delta reports"); absent on reports stored before them. */
export interface ChangeMarks {
  change_id?: number;
  verification?: 'confirmed' | 'not_confirmed' | 'unverifiable' | null;
  flapping?: boolean;
  exposure?: 'expected' | 'unexpected' | 'missing' | null;
  accepted?: DeltaAcceptance | null;
}

export interface DeltaPort extends ChangeMarks {
  host: string;
  protocol: string;
  port: number;
  state: string;
  service: string | null;
  product: string | null;
  version: string | null;
  extrainfo: string | null;
}
export interface DeltaHost extends ChangeMarks {
  host: string;
  hostnames: string[];
  open_ports: number;
}
export interface DeltaServiceChange extends ChangeMarks {
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

/** The report's `verification.status`: null when it is not verified (docs/delta.md "Verified changes"). */
export type ReportVerificationStatus = 'pending' | 'done' | null;

/** Who accepted a change, in words: the user name, "a deleted user" or "user #<id>" when the name is unknown. */
export function acceptedByText(
  accepted: DeltaAcceptance,
  signedIn?: { id: number; username: string } | null,
): string {
  if (accepted.by_username) return accepted.by_username;
  if (accepted.by === null || accepted.by_username === null) return 'a deleted user';
  // The report's lists name the user by id only; reports are their owner's, so it is nearly always them.
  if (signedIn && signedIn.id === accepted.by) return signedIn.username;
  return `user #${accepted.by}`;
}

/**
 * A change's "Verdict" cell: the rescan's verdict with its symbol, then its exposure and who accepted it, e.g.
 * "✓ confirmed · unexpected · accepted by admin". A flapping change is not rescanned ("≈ flapping"); a change
 * with no verdict yet on a report whose rescan is pending is "pending rescan", otherwise "—" (not verified).
 * `signedIn` names an acceptance that carries only the user id (acceptedByText).
 */
export function changeVerdictText(
  change: ChangeMarks,
  reportVerification: ReportVerificationStatus,
  signedIn?: { id: number; username: string } | null,
): string {
  let verdict: string;
  if (change.flapping) verdict = '≈ flapping';
  else if (change.verification === 'confirmed') verdict = '✓ confirmed';
  else if (change.verification === 'not_confirmed') verdict = '✗ not confirmed (flap)';
  else if (change.verification === 'unverifiable') verdict = '? unverifiable';
  else if (reportVerification === 'pending') verdict = 'pending rescan';
  else verdict = '—';
  const parts = [verdict];
  if (change.exposure) parts.push(change.exposure);
  if (change.accepted) parts.push(`accepted by ${acceptedByText(change.accepted, signedIn)}`);
  return parts.join(' · ');
}

/**
 * The Summary's "Verification" status: "Rescan pending", "Verified by run #<id>" or "Not verified" (a verification
 * that ended with no rescan run, e.g. one that could not start, is "Not verified (no rescan ran)").
 */
export function reportVerificationText(
  verification: { status: ReportVerificationStatus; result_id: number | null } | null | undefined,
): string {
  if (verification?.status === 'pending') return 'Rescan pending';
  if (verification?.status === 'done')
    return verification.result_id !== null
      ? `Verified by run #${verification.result_id}`
      : 'Not verified (no rescan ran)';
  return 'Not verified';
}

/** The confirmed counts of a report row, in the Summary's signs: "+ 1 ports · − 0 ports · ~ 0 services · …". */
export function confirmedCountsText(r: {
  confirmed_new_ports_count?: number;
  confirmed_closed_ports_count?: number;
  confirmed_changed_services_count?: number;
  confirmed_new_hosts_count?: number;
  confirmed_removed_hosts_count?: number;
}): string {
  return [
    `+ ${r.confirmed_new_ports_count ?? 0} new ports`,
    `− ${r.confirmed_closed_ports_count ?? 0} closed ports`,
    `~ ${r.confirmed_changed_services_count ?? 0} changed services`,
    `+ ${r.confirmed_new_hosts_count ?? 0} hosts up`,
    `− ${r.confirmed_removed_hosts_count ?? 0} hosts down`,
  ].join(' · ');
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
