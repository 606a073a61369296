// The scan scope: which addresses this deployment may scan (allowed CIDRs minus excluded CIDRs). Ranges are
// checked arithmetically against the gaps of the scope, so a /8 target costs a few comparisons, not 16M lookups.
//
// Host names are resolved once, by resolveTargets (target-set.ts), which checks the addresses it resolved with
// contains(); nmap is then handed those addresses, never the name, so the check and the scan act on the same
// addresses. The worker re-checks its batch's addresses right before spawning nmap.
import { promises as dns } from 'node:dns';
import { ScopeError } from './errors';
import { familyMax, formatIp, IpBlock, IpFamily, parseCidr, parseIpAddress } from './ip-address';
import { indexSpec, TargetSpec } from './targets';

/** Resolves a host name to every address it has (A and AAAA). */
export type HostResolver = (host: string) => Promise<string[]>;

export const DEFAULT_SCAN_SCOPE_ALLOW = '127.0.0.0/8,::1/128';

const RESOLVE_CONCURRENCY = 8;
const MAX_LISTED_IN_MESSAGE = 20;

export const defaultHostResolver: HostResolver = async (host) =>
  (await dns.lookup(host, { all: true, verbatim: true })).map((a) => a.address);

interface Interval {
  first: bigint;
  last: bigint;
}

export class ScanScope {
  /** Per family, the sorted, disjoint intervals that are NOT scannable. */
  private readonly gaps: Record<IpFamily, Interval[]>;

  constructor(
    /** The allowed and the excluded entries as given (kept so a worker thread can make the same scope). */
    readonly allow: readonly string[],
    readonly deny: readonly string[],
  ) {
    const allowBlocks = allow.map((entry) => parseEntry(entry, 'allow'));
    const denyBlocks = deny.map((entry) => parseEntry(entry, 'deny'));
    this.gaps = {
      4: scopeGaps(4, allowBlocks, denyBlocks),
      6: scopeGaps(6, allowBlocks, denyBlocks),
    };
  }

  /**
   * Parses a comma-separated CIDR list (as in SCAN_SCOPE_ALLOW / SCAN_SCOPE_DENY) into normalised entries.
   * A bare address means a single host. Throws an Error naming the first bad entry.
   */
  static parseCidrList(csv: string): string[] {
    return csv
      .split(',')
      .map((entry) => entry.trim())
      .filter((entry) => entry.length > 0)
      .map((entry) => {
        const block = parseEntry(entry, 'scope');
        return `${formatIp(block.family, block.first)}/${block.prefix}`;
      });
  }

  /** True when the address is inside an allowed block and outside every excluded one. */
  contains(address: string): boolean {
    const ip = parseIpAddress(address);
    if (!ip) return false;
    return !this.gaps[ip.family].some((gap) => ip.value >= gap.first && ip.value <= gap.last);
  }

  /**
   * The part of a CIDR block (`10.0.0.0/8`, or a bare address) that lies outside the scope, as the fewest CIDRs
   * that cover exactly that part, in address order; `[]` when the block is wholly in scope. Used for a scanner
   * client's scan_range, whose outside part is never delegated. Throws an Error for a malformed CIDR.
   */
  outsideOf(cidr: string): string[] {
    const block = parseEntry(cidr, 'scan_range');
    const out: string[] = [];
    for (const gap of this.gaps[block.family]) {
      const first = gap.first > block.first ? gap.first : block.first;
      const last = gap.last < block.last ? gap.last : block.last;
      if (first <= last) out.push(...intervalCidrs(block.family, first, last));
    }
    return out;
  }

  /**
   * Whether every address of an address spec is in scope; undefined for a host name (it needs resolving).
   * Pure arithmetic: for each gap, binary-search the spec's first address at or above the gap's start.
   */
  covers(spec: TargetSpec): boolean | undefined {
    if (spec.kind === 'hostname') return undefined;
    const family: IpFamily = spec.kind === 'ipv6-cidr' ? 6 : 4;
    const index = indexSpec(spec);
    const valueAt = (i: number): bigint => index.valueAt(i) as bigint;
    for (const gap of this.gaps[family]) {
      let lo = 0;
      let hi = index.count;
      while (lo < hi) {
        const mid = Math.floor((lo + hi) / 2);
        if (valueAt(mid) < gap.first) lo = mid + 1;
        else hi = mid;
      }
      if (lo < index.count && valueAt(lo) <= gap.last) return false;
    }
    return true;
  }

  /** The text of every spec that is not fully in scope. Host names that do not resolve are out of scope. */
  async findOutOfScope(
    specs: readonly TargetSpec[],
    resolve: HostResolver = defaultHostResolver,
  ): Promise<string[]> {
    // Addresses and ranges are decided here and now; only host names wait for a lookup. A worker re-checks its
    // batch of up to thousands of single addresses this way: one promise each cost it about 1 µs an address.
    const verdicts = specs.map((spec) => this.covers(spec));
    const unresolved = specs.filter((_, i) => verdicts[i] === undefined);
    if (unresolved.length > 0) {
      const resolved = await mapLimited(unresolved, RESOLVE_CONCURRENCY, (spec) =>
        this.hostInScope(spec.kind === 'hostname' ? spec.name : spec.text, resolve),
      );
      let next = 0;
      for (let i = 0; i < specs.length; i++) if (verdicts[i] === undefined) verdicts[i] = resolved[next++];
    }
    return specs.filter((_, i) => !verdicts[i]).map((spec) => spec.text);
  }

  /** Throws ScopeError listing every out-of-scope target text. */
  async checkSpecs(specs: readonly TargetSpec[], resolve: HostResolver = defaultHostResolver): Promise<void> {
    const outside = await this.findOutOfScope(specs, resolve);
    if (outside.length === 0) return;
    const listed = outside.slice(0, MAX_LISTED_IN_MESSAGE).join(', ');
    const more =
      outside.length > MAX_LISTED_IN_MESSAGE ? ` and ${outside.length - MAX_LISTED_IN_MESSAGE} more` : '';
    throw new ScopeError(`targets outside the scan scope: ${listed}${more}`, outside);
  }

  private async hostInScope(host: string, resolve: HostResolver): Promise<boolean> {
    let addresses: string[];
    try {
      addresses = await resolve(host);
    } catch {
      return false;
    }
    return addresses.length > 0 && addresses.every((address) => this.contains(address));
  }
}

/** Function form of ScanScope#checkSpecs. */
export function assertInScope(
  scope: ScanScope,
  specs: readonly TargetSpec[],
  resolve?: HostResolver,
): Promise<void> {
  return scope.checkSpecs(specs, resolve);
}

function parseEntry(entry: string, list: string): IpBlock {
  const block = typeof entry === 'string' ? parseCidr(entry.trim()) : 'is not a string';
  if (typeof block === 'string')
    throw new Error(`invalid CIDR ${JSON.stringify(entry)} in ${list} list: ${block}`);
  return block;
}

/** Complement of (union of allowed − union of excluded) within one family's address space. */
function scopeGaps(family: IpFamily, allow: IpBlock[], deny: IpBlock[]): Interval[] {
  const permitted = subtract(
    merge(allow.filter((b) => b.family === family)),
    merge(deny.filter((b) => b.family === family)),
  );
  return subtract([{ first: 0n, last: familyMax(family) }], permitted);
}

/**
 * The fewest CIDR blocks covering exactly the inclusive address interval [first, last] of `family`, in address
 * order: the largest aligned block at each step (`127.0.0.0/25`, `127.0.0.128/32`).
 */
export function intervalCidrs(family: IpFamily, first: bigint, last: bigint): string[] {
  const width = family === 4 ? 32 : 128;
  const out: string[] = [];
  let start = first;
  while (start <= last) {
    let hostBits = 0;
    while (
      hostBits < width &&
      (start & ((1n << BigInt(hostBits + 1)) - 1n)) === 0n &&
      start + (1n << BigInt(hostBits + 1)) - 1n <= last
    ) {
      hostBits++;
    }
    out.push(`${formatIp(family, start)}/${width - hostBits}`);
    start += 1n << BigInt(hostBits);
  }
  return out;
}

function merge(blocks: Interval[]): Interval[] {
  const sorted = [...blocks].sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
  const out: Interval[] = [];
  for (const b of sorted) {
    const last = out[out.length - 1];
    if (last && b.first <= last.last + 1n) {
      if (b.last > last.last) last.last = b.last;
    } else {
      out.push({ first: b.first, last: b.last });
    }
  }
  return out;
}

/** `from` minus `cut`; both sorted and disjoint. */
function subtract(from: Interval[], cut: Interval[]): Interval[] {
  const out: Interval[] = [];
  for (const interval of from) {
    let start = interval.first;
    for (const c of cut) {
      if (c.last < start || c.first > interval.last) continue;
      if (c.first > start) out.push({ first: start, last: c.first - 1n });
      start = c.last + 1n;
      if (start > interval.last) break;
    }
    if (start <= interval.last) out.push({ first: start, last: interval.last });
  }
  return out;
}

async function mapLimited<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}
