// Target specs: parsing what users type (addresses, CIDRs, nmap octet ranges, host names), and random access
// into each spec. Everything is arithmetic, so the k-th address of a /8 is found without touching the ones before.
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

/** IPv6 blocks must be /112 or smaller (at most 65,536 addresses): larger ones cannot be enumerated. */
const MIN_IPV6_PREFIX = 112;
/** The longest one target may be, in characters (docs/nmap-policy.md). */
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
  // A plain dotted quad (every target of a worker's batch): what the checks below would conclude, without them.
  const single = parseIPv4(text);
  if (single !== undefined) {
    const octets: [number[], number[], number[], number[]] = [
      [single >>> 24],
      [(single >>> 16) & 255],
      [(single >>> 8) & 255],
      [single & 255],
    ];
    return { kind: 'ipv4-range', text, octets };
  }
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

/** One octet written as a plain number: every octet of a single address, the common case of a batch's targets. */
const PLAIN_OCTET = /^(0|[1-9]\d{0,2})$/;

function parseOctet(part: string): number[] | undefined {
  if (part === '*') return range(0, 255);
  if (PLAIN_OCTET.test(part)) {
    const value = Number(part);
    return value <= 255 ? [value] : undefined;
  }
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
