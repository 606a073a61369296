// Verified changes (issue 21, docs/delta.md "Verified changes"): before a report's changes are announced, the
// delta service rescans exactly the hosts and ports that changed, and each change is then `confirmed` (the rescan
// saw what the run saw), `not_confirmed` (it saw something else: usually the baseline's state again, a flap) or
// `unverifiable` (the rescan did not look: it failed, or the host did not answer). Pure: what to rescan, with
// which nmap options, and the verdict of one change; the service stores and announces.
import type { ChangeVerification, DeltaChangeKind, DeltaChangeRow } from './changes';
import type { DeltaHostInput, RunCoverage } from './diff';
import { scanOptionsOf } from './scan-options';

/** The change kinds a rescan judges (unverified entries are not changes). */
export const VERIFIED_KINDS: ReadonlySet<DeltaChangeKind> = new Set([
  'new_up_host',
  'new_down_host',
  'added_port',
  'removed_port',
  'changed_port',
]);

/** The protocols a rescan can scan again, in the order its `-p` list names them. */
const PROTOCOLS = ['tcp', 'udp', 'sctp', 'ip'] as const;

/** What a confirmation rescan looks at: the changed hosts, and the changed ports per protocol. */
export interface VerificationTargets {
  /** Every address with a change, in the report's order, once each. */
  hosts: string[];
  /** Changed port numbers per protocol (`tcp`, `udp`, `sctp`; `ip`: protocol numbers of `-sO`), sorted, once each. */
  ports: Partial<Record<'tcp' | 'udp' | 'sctp' | 'ip', number[]>>;
}

/** The hosts and ports of the changes to verify (rows of VERIFIED_KINDS; other rows are ignored). */
export function verificationTargets(
  changes: Iterable<Pick<DeltaChangeRow, 'kind' | 'address' | 'protocol' | 'port'>>,
): VerificationTargets {
  const hosts = new Set<string>();
  const ports = new Map<string, Set<number>>();
  for (const change of changes) {
    if (!VERIFIED_KINDS.has(change.kind)) continue;
    hosts.add(change.address);
    if (change.port !== null && change.protocol !== null) {
      const set = ports.get(change.protocol) ?? new Set<number>();
      set.add(change.port);
      ports.set(change.protocol, set);
    }
  }
  const out: VerificationTargets['ports'] = {};
  for (const protocol of PROTOCOLS) {
    const set = ports.get(protocol);
    if (set) out[protocol] = [...set].sort((a, b) => a - b);
  }
  return { hosts: [...hosts], ports: out };
}

/**
 * Options that choose ports (replaced by the rescan's own `-p`) or do work a verdict does not need (OS detection,
 * scripts, traceroute: nmap(1) "OS DETECTION", "NMAP SCRIPTING ENGINE"), with whether they take the next item as
 * their value when not written `--opt=value`.
 */
const DROPPED: Readonly<Record<string, boolean>> = {
  '-p': true,
  '--top-ports': true,
  '--port-ratio': true,
  '--exclude-ports': true,
  '-F': false,
  '-r': false,
  '-O': false,
  '--osscan-limit': false,
  '--osscan-guess': false,
  '--traceroute': false,
  '--script': true,
  '--script-args': true,
  '-sC': false,
  // --open hides hosts without an open port: the rescan of a removed port would see no host and judge nothing.
  '--open': false,
};
/** Scan-type letters per protocol (nmap(1) "PORT SCANNING TECHNIQUES"; `-sO` scans IP protocol numbers). */
const TYPE_PROTOCOL: Readonly<Record<string, (typeof PROTOCOLS)[number]>> = {
  S: 'tcp',
  T: 'tcp',
  A: 'tcp',
  W: 'tcp',
  M: 'tcp',
  N: 'tcp',
  F: 'tcp',
  X: 'tcp',
  U: 'udp',
  Y: 'sctp',
  Z: 'sctp',
  O: 'ip',
};

/**
 * The nmap options of a confirmation rescan, from the run's own (normalised) options: the same scan types and
 * timing, `-sV` if the run had version detection (`-A` becomes `-sV`: its OS detection, scripts and traceroute
 * decide no verdict), its port selection replaced by `-p` with the changed ports (`T:22,80,U:53`), and a scan
 * type dropped when no changed port is of its protocol (nmap refuses `-sU` without UDP ports). With no changed
 * port at all (host changes only) the rescan is a host discovery (`-sn`). nmap takes one port list per run, so
 * every changed host is rescanned on every changed port: each of those pairs was scanned by the run (it had one
 * port selection for all its targets), and only the changed pairs are judged.
 */
export function verificationFlags(runFlags: readonly string[], targets: VerificationTargets): string[] {
  const options = scanOptionsOf(runFlags);
  const out: string[] = [];
  for (let i = 0; i < runFlags.length; i++) {
    const item = runFlags[i];
    const name = item.startsWith('--') ? item.split('=')[0] : item;
    if (name in DROPPED) {
      if (DROPPED[name] && !item.includes('=')) i++;
      continue;
    }
    if (item.startsWith('-p') && item.length > 2) continue;
    if (item.startsWith('--script')) continue;
    if (item === '-A') continue;
    if (/^-s[A-Za-z]+$/.test(item)) continue; // scan types are written again below
    out.push(item);
  }
  const protocols = PROTOCOLS.filter((p) => targets.ports[p]?.length);
  // nmap (and the policy) refuse --defeat-icmp-ratelimit without -sU and --defeat-rst-ratelimit without a SYN
  // scan: a rescan that drops the scan type drops the option with it, or it could not start at all.
  const withTypes = (types: readonly string[]) =>
    out.filter(
      (item) =>
        (item !== '--defeat-icmp-ratelimit' || types.includes('U')) &&
        (item !== '--defeat-rst-ratelimit' || types.includes('S')),
    );
  if (protocols.length === 0) return ['-sn', ...withTypes([])];
  const types = options.scanTypes.filter((t) => protocols.includes(TYPE_PROTOCOL[t]));
  // `P:` lists IP protocol numbers for -sO (nmap(1) "-p port ranges").
  const prefix = { tcp: 'T', udp: 'U', sctp: 'S', ip: 'P' } as const;
  const list = protocols.map((p) => `${prefix[p]}:${targets.ports[p]!.join(',')}`).join(',');
  return [
    ...types.map((t) => `-s${t}`),
    ...(options.versionDetection ? ['-sV'] : []),
    ...withTypes(types),
    `-p${list}`,
  ];
}

/** What the rescan saw: its hosts and which addresses its completed batches covered. */
export interface VerificationRun {
  /** The rescan ended completed; a failed or stopped rescan makes every change `unverifiable`. */
  completed: boolean;
  hosts: ReadonlyMap<string, DeltaHostInput>;
  coverage: Pick<RunCoverage, 'scanned'>;
}

/**
 * The verdict on one change (a delta_changes row of VERIFIED_KINDS) from the rescan:
 * - hosts: `new_up_host` is confirmed when the rescan found the host up, `new_down_host` when it found it not up
 *   (down, or no answer at all); the other way round is `not_confirmed`.
 * - ports: the port's state in the rescan (its row, else the host's first unlisted state, else `closed`) against
 *   the run's: `added_port` confirmed when open again, `removed_port` when not open, `changed_port` when the
 *   changed service fields (`detail.changed`) read as the run's `after`. A host that did not answer makes a port
 *   change `unverifiable`, since its ports were not seen.
 * Anything the rescan did not look at (not completed, the address in no completed batch) is `unverifiable`.
 */
export function judgeVerification(
  change: Pick<DeltaChangeRow, 'kind' | 'address' | 'protocol' | 'port' | 'after' | 'detail'>,
  rescan: VerificationRun,
): ChangeVerification {
  if (!rescan.completed || !rescan.coverage.scanned.has(change.address)) return 'unverifiable';
  const host = rescan.hosts.get(change.address);
  const up = host?.state === 'up';
  if (change.kind === 'new_up_host') return up ? 'confirmed' : 'not_confirmed';
  if (change.kind === 'new_down_host') return up ? 'not_confirmed' : 'confirmed';
  if (!host || !up) return 'unverifiable';
  const row = host.ports.find((p) => p.protocol === change.protocol && p.port === change.port);
  const state = row?.state ?? host.unlistedStates?.[0] ?? 'closed';
  // nmap gave up on the host (--host-timeout) and lists none of its ports: the rescan did not see this one.
  if (!row && state === 'unknown') return 'unverifiable';
  if (change.kind === 'added_port') return state === 'open' ? 'confirmed' : 'not_confirmed';
  if (change.kind === 'removed_port') return state === 'open' ? 'not_confirmed' : 'confirmed';
  if (change.kind === 'changed_port') {
    if (!row) return 'not_confirmed';
    const after = (change.after ?? {}) as Record<string, unknown>;
    const changed = ((change.detail as { changed?: string[] } | null)?.changed ?? []).filter(
      (field) => field in FIELD_OF,
    );
    const same = changed.every((field) => (row[FIELD_OF[field]] ?? null) === (after[field] ?? null));
    return same ? 'confirmed' : 'not_confirmed';
  }
  return 'unverifiable';
}

/** A changed_port's `changed` field names → the port row's fields. */
const FIELD_OF: Readonly<Record<string, 'state' | 'service' | 'product' | 'version' | 'extrainfo'>> = {
  state: 'state',
  service: 'service',
  product: 'product',
  version: 'version',
  extrainfo: 'extrainfo',
};
