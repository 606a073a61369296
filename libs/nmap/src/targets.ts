// Target specs: parsing what users type (addresses, CIDRs, nmap octet ranges, host names) and turning it into
// individual targets lazily. Everything is arithmetic, so chunk k of a /8 is built without touching chunks 0..k-1.
import { TargetError } from './errors';
import { formatIPv4, formatIPv6, isIPv4Mapped, parseIPv4, parseIPv6 } from './ip-address';

/**
 * One parsed target. JSON-safe on purpose (no bigint) so it can travel in job payloads.
 * - `ipv4-range`: a single address or an nmap octet range; each octet is a sorted list of distinct values.
 * - `ipv4-cidr`: a block; nmap scans every address in it, network and broadcast included.
 * - `ipv6-cidr`: a single address (prefix 128) or a block no larger than /112.
 * - `hostname`: resolved once, at submission (resolveTargets); nmap is given the addresses, never the name.
 */
export type TargetSpec =
  | { kind: 'ipv4-range'; text: string; octets: [number[], number[], number[], number[]] }
  | { kind: 'ipv4-cidr'; text: string; network: string; prefix: number }
  | { kind: 'ipv6-cidr'; text: string; network: string; prefix: number }
  | { kind: 'hostname'; text: string; name: string };

export type TargetFamily = 'ipv4' | 'ipv6' | 'hostname';

/** IPv6 blocks must be /112 or smaller (at most 65,536 addresses): larger ones cannot be enumerated. */
export const MIN_IPV6_PREFIX = 112;
export const MAX_TARGET_LENGTH = 512;

const HOSTNAME_LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const FORBIDDEN_CHAR = /[^A-Za-z0-9.:/,*-]/;

/** Parses one target; throws TargetError (with that target) when it is malformed or unsafe. */
export function parseTarget(text: string): TargetSpec {
  const problem = targetProblem(text);
  if (typeof problem === 'string') {
    throw new TargetError(`invalid target ${JSON.stringify(text)}: ${problem}`, [text]);
  }
  return problem;
}

/** Parses every target and throws one TargetError naming all bad ones. An empty list is an error too. */
export function parseTargets(texts: readonly string[]): TargetSpec[] {
  if (!Array.isArray(texts) || texts.length === 0) {
    throw new TargetError('at least one target is required', []);
  }
  const specs: TargetSpec[] = [];
  const bad: string[] = [];
  const reasons: string[] = [];
  for (const text of texts) {
    const result = targetProblem(text);
    if (typeof result === 'string') {
      bad.push(String(text));
      reasons.push(`${JSON.stringify(text)}: ${result}`);
    } else {
      specs.push(result);
    }
  }
  if (bad.length > 0) throw new TargetError(`invalid targets: ${reasons.join('; ')}`, bad);
  return specs;
}

function targetProblem(text: unknown): TargetSpec | string {
  if (typeof text !== 'string') return 'must be a string';
  if (text.length === 0) return 'is empty';
  if (text.length > MAX_TARGET_LENGTH) return `is longer than ${MAX_TARGET_LENGTH} characters`;
  if (text.startsWith('-')) return 'starts with "-" (it would be read as an nmap option)';
  if (/\s/.test(text)) return 'contains whitespace (give one target per item)';
  const bad = FORBIDDEN_CHAR.exec(text);
  if (bad) return `contains a character that is not allowed: ${JSON.stringify(bad[0])}`;
  if (text.includes(':')) return parseIPv6Target(text);
  if (text.includes('/')) return parseIPv4Cidr(text);
  if (/^[0-9.,*-]+$/.test(text)) return parseIPv4Range(text);
  return parseHostname(text);
}

function parseIPv6Target(text: string): TargetSpec | string {
  const [addrText, prefixText, extra] = text.split('/');
  if (extra !== undefined || /[,*]/.test(text)) return 'is not a valid IPv6 address or block';
  const value = parseIPv6(addrText);
  if (value === undefined) return 'is not a valid IPv6 address or block';
  if (isIPv4Mapped(value)) return 'is an IPv4-mapped IPv6 address; give the IPv4 address instead';
  let prefix = 128;
  if (prefixText !== undefined) {
    if (!/^(0|[1-9]\d{0,2})$/.test(prefixText) || Number(prefixText) > 128) {
      return 'has an IPv6 prefix length outside 0-128';
    }
    prefix = Number(prefixText);
  }
  if (prefix < MIN_IPV6_PREFIX) {
    return `IPv6 block /${prefix} is too large to enumerate (the limit is /${MIN_IPV6_PREFIX}, 65,536 addresses)`;
  }
  const hostBits = BigInt(128 - prefix);
  const network = (value >> hostBits) << hostBits;
  return { kind: 'ipv6-cidr', text, network: formatIPv6(network), prefix };
}

function parseIPv4Cidr(text: string): TargetSpec | string {
  const [addrText, prefixText, extra] = text.split('/');
  const value = parseIPv4(addrText);
  if (extra !== undefined || value === undefined) return 'is not a valid IPv4 block such as 127.0.0.0/24';
  if (!/^(0|[1-9]\d?)$/.test(prefixText) || Number(prefixText) > 32) {
    return 'has an IPv4 prefix length outside 0-32';
  }
  const prefix = Number(prefixText);
  // Like nmap, a block written with host bits set (127.0.0.5/24) means the whole block.
  const network = Number((BigInt(value) >> BigInt(32 - prefix)) << BigInt(32 - prefix));
  return { kind: 'ipv4-cidr', text, network: formatIPv4(network), prefix };
}

/** nmap octet ranges: each of the four octets is `*`, or a comma list of `n`, `a-b`, `a-`, `-b` or `-`. */
function parseIPv4Range(text: string): TargetSpec | string {
  const usage = 'is not a valid IPv4 address or octet range such as 127.0.0.1-20 or 127.0.0.1,3,5';
  const parts = text.split('.');
  if (parts.length !== 4) return usage;
  const octets: number[][] = [];
  for (const part of parts) {
    const values = parseOctet(part);
    if (!values) return usage;
    octets.push(values);
  }
  return { kind: 'ipv4-range', text, octets: octets as [number[], number[], number[], number[]] };
}

function parseOctet(part: string): number[] | undefined {
  if (part === '*') return range(0, 255);
  const seen = new Set<number>();
  for (const item of part.split(',')) {
    const m = /^(0|[1-9]\d{0,2})?(-)?(0|[1-9]\d{0,2})?$/.exec(item);
    if (!m || item === '' || (m[2] === undefined && m[3] !== undefined)) return undefined;
    const lo = m[1] === undefined ? 0 : Number(m[1]);
    const hi = m[3] === undefined ? (m[2] ? 255 : lo) : Number(m[3]);
    if (lo > 255 || hi > 255 || lo > hi) return undefined;
    for (let v = lo; v <= hi; v++) seen.add(v);
  }
  return [...seen].sort((a, b) => a - b);
}

function range(lo: number, hi: number): number[] {
  return Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
}

function parseHostname(text: string): TargetSpec | string {
  const name = text.endsWith('.') ? text.slice(0, -1) : text;
  if (name.length === 0 || name.length > 253) return 'is not a valid host name';
  const labels = name.split('.');
  if (!labels.every((l) => HOSTNAME_LABEL.test(l))) {
    return 'is not a valid host name (letters, digits and inner hyphens per label, dot-separated)';
  }
  // An all-numeric last label is never a real name but resolvers read "127.1" or "2130706433" as addresses.
  if (/^\d+$/.test(labels[labels.length - 1])) return 'looks like a malformed IPv4 address';
  // inet_aton (and so getaddrinfo) reads one to four numbers in decimal, octal (leading 0) or hex (0x) as an
  // IPv4 address: 0x7f000001, 0x7f.1, 0177.0.0.0x1 are 127.0.0.1. Ambiguous, so refused like the short forms.
  if (labels.length <= 4 && labels.every((l) => /^(0x[0-9a-f]*|\d+)$/i.test(l))) {
    return 'is an IPv4 address in hex, octal or short form; write it as a dotted quad such as 127.0.0.1';
  }
  return { kind: 'hostname', text, name };
}

/** Which address family a spec scans; nmap needs -6 for IPv6 and cannot mix families in one run. */
export function targetFamily(spec: TargetSpec): TargetFamily {
  return spec.kind === 'hostname' ? 'hostname' : spec.kind === 'ipv6-cidr' ? 'ipv6' : 'ipv4';
}

/**
 * nmap scans one address family per run (IPv6 needs -6, which skips IPv4), so a scan's literal targets must be
 * all IPv4 or all IPv6; host names resolve to IPv4 unless -6 is given.
 */
export function assertSingleFamily(specs: readonly TargetSpec[]): void {
  const v4 = specs.filter((s) => targetFamily(s) === 'ipv4').map((s) => s.text);
  const v6 = specs.filter((s) => targetFamily(s) === 'ipv6').map((s) => s.text);
  if (v4.length > 0 && v6.length > 0) {
    throw new TargetError(
      `targets mix IPv4 (${v4[0]}) and IPv6 (${v6[0]}); nmap scans one family per run, so send them separately`,
      v6,
    );
  }
}

/**
 * Random access into one spec: `count` targets, the i-th as text and as a number. Values are increasing in i,
 * which the scope check relies on to binary-search a spec against scope gaps.
 */
export interface SpecIndex {
  count: number;
  textAt(index: number): string;
  /** The address value at an index (undefined for host names). */
  valueAt(index: number): bigint | undefined;
}

export function indexSpec(spec: TargetSpec): SpecIndex {
  switch (spec.kind) {
    case 'hostname':
      return { count: 1, textAt: () => spec.name, valueAt: () => undefined };
    case 'ipv4-cidr': {
      const base = parseIPv4(spec.network) ?? 0;
      return {
        count: 2 ** (32 - spec.prefix),
        textAt: (i) => formatIPv4(base + i),
        valueAt: (i) => BigInt(base + i),
      };
    }
    case 'ipv6-cidr': {
      const base = parseIPv6(spec.network) ?? 0n;
      return {
        count: 2 ** (128 - spec.prefix),
        textAt: (i) => formatIPv6(base + BigInt(i)),
        valueAt: (i) => base + BigInt(i),
      };
    }
    case 'ipv4-range': {
      const [a, b, c, d] = spec.octets;
      const at = (i: number): number => {
        // Mixed-radix digits, last octet fastest, so the order is ascending.
        const dd = i % d.length;
        const rc = Math.floor(i / d.length);
        const cc = rc % c.length;
        const rb = Math.floor(rc / c.length);
        const bb = rb % b.length;
        const aa = Math.floor(rb / b.length);
        return ((a[aa] * 256 + b[bb]) * 256 + c[cc]) * 256 + d[dd];
      };
      return {
        count: a.length * b.length * c.length * d.length,
        textAt: (i) => formatIPv4(at(i)),
        valueAt: (i) => BigInt(at(i)),
      };
    }
  }
}

/** How many individual targets the specs stand for (a host name counts 1; duplicates across specs count twice). */
export function countTargets(specs: readonly TargetSpec[]): number {
  return specs.reduce((sum, spec) => sum + indexSpec(spec).count, 0);
}

/** Every individual target in order, produced lazily: a /8 is never held in memory. */
export function* expandTargets(specs: readonly TargetSpec[]): Generator<string> {
  for (const spec of specs) {
    const index = indexSpec(spec);
    for (let i = 0; i < index.count; i++) yield index.textAt(i);
  }
}

/**
 * Targets [start, start + count) of the expansion, computed arithmetically: cost is O(specs + count), not
 * O(start). Returns fewer than `count` at the end.
 */
export function sliceTargets(specs: readonly TargetSpec[], start: number, count: number): string[] {
  assertIndex('start', start);
  assertIndex('count', count);
  const out: string[] = [];
  let skip = start;
  for (const spec of specs) {
    if (out.length >= count) break;
    const index = indexSpec(spec);
    if (skip >= index.count) {
      skip -= index.count;
      continue;
    }
    const end = Math.min(index.count, skip + (count - out.length));
    for (let i = skip; i < end; i++) out.push(index.textAt(i));
    skip = 0;
  }
  return out;
}

/** Number of chunks chunkTargets yields. */
export function countChunks(specs: readonly TargetSpec[], chunkSize: number): number {
  assertChunkSize(chunkSize);
  return Math.ceil(countTargets(specs) / chunkSize);
}

/** Lazily yields consecutive chunks of `chunkSize` targets (the last may be shorter). */
export function chunkTargets(specs: readonly TargetSpec[], chunkSize: number): Generator<string[]> {
  // Validated here, not inside the generator, so a bad size throws at the call and not at the first next().
  assertChunkSize(chunkSize);
  return generateChunks(specs, chunkSize);
}

function* generateChunks(specs: readonly TargetSpec[], chunkSize: number): Generator<string[]> {
  let chunk: string[] = [];
  for (const target of expandTargets(specs)) {
    chunk.push(target);
    if (chunk.length === chunkSize) {
      yield chunk;
      chunk = [];
    }
  }
  if (chunk.length > 0) yield chunk;
}

function assertChunkSize(chunkSize: number): void {
  if (!Number.isSafeInteger(chunkSize) || chunkSize < 1) {
    throw new RangeError(`chunk size must be an integer of at least 1, got ${chunkSize}`);
  }
}

function assertIndex(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative integer, got ${value}`);
  }
}
