// A run's targets as what nmap will actually scan: host names resolved once, every target turned into address
// intervals of the run's one family, overlaps merged, so each address is scanned once per run. Still lazy: a /8
// is one interval, and slicing batch k costs O(log #intervals + batch size), whatever k is.
import { ScopeError, TargetError } from './errors';
import { formatIp, IpFamily, parseIpAddress, parseIPv4, parseIPv6 } from './ip-address';
import { defaultHostResolver, HostResolver, intervalCidrs, ScanScope } from './scope';
import { TargetSpec } from './targets';

/** More separate intervals than this (after merging) are refused: `127.*.*.1,3` is 131,072 of them. */
export const MAX_TARGET_INTERVALS = 65_536;

/** Host names as resolved for a run: each name the user gave, with the addresses it is scanned at. */
export type ResolvedNames = Record<string, string[]>;

/** An inclusive interval of address values of one family. */
export interface AddressInterval {
  first: bigint;
  last: bigint;
}

const MAX_LISTED_IN_MESSAGE = 20;

/**
 * The address family a run scans. nmap scans one family per process: `-6` means IPv6 (IPv4 addresses are then
 * skipped, "Failed to resolve"), IPv6 literals mean IPv6 (the runner adds `-6`), anything else IPv4. Throws a
 * TargetError for literals nmap would skip: IPv4 with `-6`, IPv6 with `-4`, or both families in one list.
 */
export function runFamily(specs: readonly TargetSpec[], flags: readonly string[]): IpFamily {
  const v4 = specs.filter((s) => s.kind === 'ipv4-range' || s.kind === 'ipv4-cidr').map((s) => s.text);
  const v6 = specs.filter((s) => s.kind === 'ipv6-cidr').map((s) => s.text);
  if (v4.length > 0 && v6.length > 0) {
    throw new TargetError(
      `targets mix IPv4 (${v4[0]}) and IPv6 (${v6[0]}); nmap scans one family per run, so send them separately`,
      v6,
    );
  }
  if (flags.includes('-6') && v4.length > 0) {
    throw new TargetError(
      `-6 scans IPv6 only, and nmap would skip the IPv4 targets (${listed(v4)}) and scan nothing; drop -6 or give IPv6 targets`,
      v4,
    );
  }
  if (flags.includes('-4') && v6.length > 0) {
    throw new TargetError(
      `-4 scans IPv4 only, and nmap would skip the IPv6 targets (${listed(v6)}); drop -4 or give IPv4 targets`,
      v6,
    );
  }
  return flags.includes('-6') || v6.length > 0 ? 6 : 4;
}

/**
 * Resolves every host name among the specs once (through `resolve`, the system resolver by default) and picks
 * the addresses it is scanned at: those of the run's family, in the resolver's order, the first one only unless
 * `--resolve-all` is given (as nmap itself would). Checks the scope of every literal and of every picked address.
 * Throws TargetError (a name with no address of the run's family) or ScopeError (listing every target outside
 * the scope; a name that does not resolve is outside it).
 */
export async function resolveTargets(
  specs: readonly TargetSpec[],
  flags: readonly string[],
  scope: ScanScope,
  resolve: HostResolver = defaultHostResolver,
): Promise<ResolvedNames> {
  const family = runFamily(specs, flags);
  const names = [...new Set(specs.flatMap((s) => (s.kind === 'hostname' ? [s.name] : [])))];
  const all = flags.includes('--resolve-all');
  const resolved: ResolvedNames = {};
  const wrongFamily: string[] = [];
  await Promise.all(
    names.map(async (name) => {
      let addresses: string[];
      try {
        addresses = await resolve(name);
      } catch {
        addresses = [];
      }
      if (addresses.length === 0) return; // does not resolve: outside the scope, below
      const picked = [
        ...new Set(
          addresses.flatMap((text) => {
            const ip = parseIpAddress(text);
            // IPv4-mapped answers count as the IPv4 address they stand for (parseIpAddress does that).
            return ip && ip.family === family ? [formatIp(ip.family, ip.value)] : [];
          }),
        ),
      ];
      if (picked.length === 0) return void wrongFamily.push(name);
      resolved[name] = all ? picked : picked.slice(0, 1);
    }),
  );
  if (wrongFamily.length > 0) {
    const kind = family === 6 ? 'IPv6' : 'IPv4';
    throw new TargetError(
      `${listed(wrongFamily)}: no ${kind} address, and this run scans ${kind}` +
        (family === 4 ? ' (add -6 to scan IPv6 addresses)' : ''),
      wrongFamily,
    );
  }
  const isOutside = (spec: TargetSpec): boolean => {
    if (spec.kind !== 'hostname') return !scope.covers(spec);
    const addresses = resolved[spec.name];
    return !addresses || !addresses.every((a) => scope.contains(a));
  };
  const outside = [...new Set(specs.filter(isOutside).map((s) => s.text))];
  if (outside.length > 0) {
    throw new ScopeError(`targets outside the scan scope: ${listed(outside)}`, outside);
  }
  return resolved;
}

/**
 * The addresses of a run, in ascending order, each once: the literal specs and the resolved names as sorted,
 * disjoint, merged intervals, with random access by rank.
 */
export class TargetSet {
  /** How many distinct addresses the run scans. */
  readonly count: number;
  /** offsets[i]: how many addresses come before interval i. */
  private readonly offsets: number[];

  private constructor(
    readonly family: IpFamily,
    readonly intervals: readonly AddressInterval[],
    /** Address text → the host names the user gave for it. */
    private readonly namesByAddress: ReadonlyMap<string, string[]>,
  ) {
    let total = 0;
    this.offsets = intervals.map((interval) => {
      const before = total;
      total += Number(interval.last - interval.first + 1n);
      return before;
    });
    this.count = total;
  }

  /**
   * Builds the set from parsed specs and the names resolveTargets picked (pure: no DNS). Throws TargetError when
   * a name has no resolution, or when the targets make more than MAX_TARGET_INTERVALS separate intervals.
   */
  static build(specs: readonly TargetSpec[], flags: readonly string[], names: ResolvedNames): TargetSet {
    const family = runFamily(specs, flags);
    const pieces: AddressInterval[] = [];
    const namesByAddress = new Map<string, string[]>();
    for (const spec of specs) {
      if (spec.kind === 'hostname') {
        const addresses = Object.prototype.hasOwnProperty.call(names, spec.name)
          ? names[spec.name]
          : undefined;
        if (!addresses || addresses.length === 0) {
          throw new TargetError(`host name ${JSON.stringify(spec.text)} has not been resolved`, [spec.text]);
        }
        for (const text of addresses) {
          const ip = parseIpAddress(text);
          if (!ip || ip.family !== family) {
            throw new TargetError(`host name ${JSON.stringify(spec.text)} resolved to ${text}`, [spec.text]);
          }
          pieces.push({ first: ip.value, last: ip.value });
          const key = formatIp(family, ip.value);
          const known = namesByAddress.get(key) ?? [];
          if (!known.includes(spec.name)) namesByAddress.set(key, [...known, spec.name]);
        }
      } else {
        const estimate = intervalCount(spec);
        if (pieces.length + estimate > MAX_TARGET_INTERVALS * 4) tooFragmented(spec.text);
        for (const piece of specIntervals(spec)) pieces.push(piece);
      }
    }
    const merged = mergeIntervals(pieces);
    if (merged.length > MAX_TARGET_INTERVALS) tooFragmented(specs.map((s) => s.text).join(', '));
    return new TargetSet(family, merged, namesByAddress);
  }

  /** Addresses of ranks [start, start + count), as text; fewer at the end. O(log #intervals + count). */
  slice(start: number, count: number): string[] {
    const out: string[] = [];
    if (count <= 0 || start >= this.count) return out;
    let i = this.intervalAt(start);
    let value = this.intervals[i].first + BigInt(start - this.offsets[i]);
    while (out.length < count && i < this.intervals.length) {
      out.push(formatIp(this.family, value));
      if (value === this.intervals[i].last) {
        i += 1;
        if (i < this.intervals.length) value = this.intervals[i].first;
      } else {
        value += 1n;
      }
    }
    return out;
  }

  /**
   * The addresses of this set that lie in `ranges` (sorted, disjoint, inclusive intervals of this set's family),
   * as a set of its own with the same host names. O(#intervals + #ranges): nothing is expanded.
   */
  intersect(ranges: readonly AddressInterval[]): TargetSet {
    const out: AddressInterval[] = [];
    let j = 0;
    for (const interval of this.intervals) {
      while (j < ranges.length && ranges[j].last < interval.first) j++;
      for (let k = j; k < ranges.length && ranges[k].first <= interval.last; k++) {
        const first = ranges[k].first > interval.first ? ranges[k].first : interval.first;
        const last = ranges[k].last < interval.last ? ranges[k].last : interval.last;
        if (first <= last) out.push({ first, last });
      }
    }
    return new TargetSet(this.family, out, this.namesByAddress);
  }

  /**
   * The set as the fewest CIDR blocks, in address order; a single address is written bare (`127.0.51.1`), as a
   * user would write it. For messages and stored lists (unassigned targets), not for nmap.
   */
  toCidrs(): string[] {
    const single = this.family === 4 ? '/32' : '/128';
    return this.intervals.flatMap((interval) =>
      intervalCidrs(this.family, interval.first, interval.last).map((cidr) =>
        cidr.endsWith(single) ? cidr.slice(0, -single.length) : cidr,
      ),
    );
  }

  /** The host names the user gave for each of these addresses (only addresses that have one). */
  namesFor(addresses: readonly string[]): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const address of addresses) {
      const names = this.namesByAddress.get(address);
      if (names) out[address] = names;
    }
    return out;
  }

  /** The interval holding rank `rank` (binary search over the offsets). */
  private intervalAt(rank: number): number {
    let lo = 0;
    let hi = this.offsets.length - 1;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (this.offsets[mid] <= rank) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}

function tooFragmented(text: string): never {
  throw new TargetError(
    `targets ${JSON.stringify(text.slice(0, 200))} make more than ${MAX_TARGET_INTERVALS} separate address ranges; ` +
      'write them as CIDR blocks or split the scan',
    [text],
  );
}

/** How many intervals specIntervals returns for a spec, computed without building them. */
function intervalCount(spec: TargetSpec): number {
  if (spec.kind !== 'ipv4-range') return 1;
  const k = deepestPartialOctet(spec.octets);
  let product = runs(spec.octets[k]).length;
  for (let j = 0; j < k; j++) product *= spec.octets[j].length;
  return product;
}

/** The last octet that is not the full 0-255 (0 when every octet is full). */
function deepestPartialOctet(octets: readonly number[][]): number {
  let k = 3;
  while (k > 0 && octets[k].length === 256) k -= 1;
  return k;
}

/** Consecutive runs [lo, hi] of a sorted list of distinct values. */
function runs(values: readonly number[]): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const v of values) {
    const last = out[out.length - 1];
    if (last && v === last[1] + 1) last[1] = v;
    else out.push([v, v]);
  }
  return out;
}

/** A spec's addresses as intervals, ascending. Octet ranges become one interval per run of their last partial octet. */
function specIntervals(spec: TargetSpec): AddressInterval[] {
  switch (spec.kind) {
    case 'ipv4-cidr': {
      const first = BigInt(parseIPv4(spec.network) ?? 0);
      return [{ first, last: first + (1n << BigInt(32 - spec.prefix)) - 1n }];
    }
    case 'ipv6-cidr': {
      const first = parseIPv6(spec.network) ?? 0n;
      return [{ first, last: first + (1n << BigInt(128 - spec.prefix)) - 1n }];
    }
    case 'ipv4-range': {
      const k = deepestPartialOctet(spec.octets);
      const unit = 256 ** (3 - k);
      const out: AddressInterval[] = [];
      const walk = (level: number, base: number): void => {
        if (level === k) {
          for (const [lo, hi] of runs(spec.octets[k])) {
            out.push({ first: BigInt(base + lo * unit), last: BigInt(base + (hi + 1) * unit - 1) });
          }
          return;
        }
        for (const v of spec.octets[level]) walk(level + 1, base + v * 256 ** (3 - level));
      };
      walk(0, 0);
      return out;
    }
    case 'hostname':
      return [];
  }
}

/** Sorted, disjoint, with adjacent intervals joined. */
function mergeIntervals(pieces: readonly AddressInterval[]): AddressInterval[] {
  const sorted = [...pieces].sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
  const out: AddressInterval[] = [];
  for (const piece of sorted) {
    const last = out[out.length - 1];
    if (last && piece.first <= last.last + 1n) {
      if (piece.last > last.last) last.last = piece.last;
    } else {
      out.push({ first: piece.first, last: piece.last });
    }
  }
  return out;
}

function listed(items: readonly string[]): string {
  const head = items.slice(0, MAX_LISTED_IN_MESSAGE).join(', ');
  return items.length > MAX_LISTED_IN_MESSAGE
    ? `${head} and ${items.length - MAX_LISTED_IN_MESSAGE} more`
    : head;
}
