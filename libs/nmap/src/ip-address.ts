// IPv4/IPv6 address arithmetic shared by target expansion and the scope check. Addresses are plain numbers
// (IPv4) or bigints (IPv6) so ranges can be sliced and compared without ever enumerating them.
import { isIPv6 } from 'node:net';

export type IpFamily = 4 | 6;

/** An address as a family plus an unsigned integer value (IPv4 values fit in 32 bits). */
export interface IpValue {
  family: IpFamily;
  value: bigint;
}

const IPV4_MAPPED_PREFIX = 0xffffn << 32n;
const IPV6_MAX = (1n << 128n) - 1n;

/**
 * Strict dotted quad: four decimal octets 0-255, no leading zeros (which some resolvers read as octal), nothing
 * else (no sign, space or other digit). Read character by character: every host of a scan's XML comes through
 * here (canonicalIpAddress), and splitting and matching each octet cost ~1 µs a host.
 */
export function parseIPv4(text: string): number | undefined {
  const length = text.length;
  if (length < 7 || length > 15) return undefined;
  let value = 0;
  let octets = 0;
  let i = 0;
  while (i <= length) {
    // One octet: 1-3 ASCII digits, "0" alone or without a leading zero, at most 255.
    let n = 0;
    let digits = 0;
    const first = text.charCodeAt(i);
    while (i < length) {
      const c = text.charCodeAt(i);
      if (c < 48 || c > 57) break;
      n = n * 10 + (c - 48);
      digits++;
      i++;
    }
    if (digits === 0 || digits > 3 || (digits > 1 && first === 48) || n > 255) return undefined;
    value = value * 256 + n;
    octets++;
    if (i === length) break;
    if (text.charCodeAt(i) !== 46 || octets === 4) return undefined;
    i++;
  }
  return octets === 4 ? value : undefined;
}

export function formatIPv4(value: number): string {
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join('.');
}

/** Any textual IPv6 form node accepts (no zone ids), as a 128-bit value. */
export function parseIPv6(text: string): bigint | undefined {
  if (text.includes('%') || !isIPv6(text)) return undefined;
  let body = text;
  const lastColon = body.lastIndexOf(':');
  const last = body.slice(lastColon + 1);
  if (last.includes('.')) {
    // An embedded IPv4 tail (64:ff9b::192.0.2.1) stands for the last two groups.
    const v4 = parseIPv4(last);
    if (v4 === undefined) return undefined;
    body = `${body.slice(0, lastColon + 1)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const halves = body.split('::');
  if (halves.length > 2) return undefined;
  const head = halves[0] === '' ? [] : halves[0].split(':');
  const rest = halves.length === 2 && halves[1] !== '' ? halves[1].split(':') : [];
  const missing = 8 - head.length - rest.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const groups = [...head, ...Array<string>(missing).fill('0'), ...rest];
  let value = 0n;
  for (const g of groups) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    value = (value << 16n) | BigInt(parseInt(g, 16));
  }
  return value;
}

/** RFC 5952 text: lower case, no leading zeros, the longest run (two or more) of zero groups as "::". */
export function formatIPv6(value: bigint): string {
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((value >> BigInt(i * 16)) & 0xffffn));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart === -1) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** True for ::ffff:a.b.c.d, which the kernel routes as the IPv4 address a.b.c.d. */
export function isIPv4Mapped(value: bigint): boolean {
  return value >> 32n === 0xffffn;
}

/**
 * Parses an IPv4 or IPv6 address. IPv4-mapped IPv6 addresses come back as IPv4, so a scope written for IPv4
 * cannot be side-stepped by spelling the same host as ::ffff:10.0.0.1.
 */
export function parseIpAddress(text: string): IpValue | undefined {
  const v4 = parseIPv4(text);
  if (v4 !== undefined) return { family: 4, value: BigInt(v4) };
  const v6 = parseIPv6(text);
  if (v6 === undefined) return undefined;
  if (isIPv4Mapped(v6)) return { family: 4, value: v6 - IPV4_MAPPED_PREFIX };
  return { family: 6, value: v6 };
}

/**
 * IPv4 before IPv6, each in numeric order: the order of a run's targets (TargetSet lists its addresses so) and of
 * the assets. Negative when `a` comes first.
 */
export function compareIpValues(a: IpValue, b: IpValue): number {
  if (a.family !== b.family) return a.family - b.family;
  return a.value < b.value ? -1 : a.value > b.value ? 1 : 0;
}

/**
 * The one text of an IP address that every part of the system stores and compares: IPv4 as a strict dotted quad,
 * IPv4-mapped IPv6 (`::ffff:127.0.0.5`, any case or spelling) as the IPv4 address the kernel routes it to, and
 * any other IPv6 in RFC 5952 form (lower case, compressed: `0:0:0:0:0:0:0:1` → `::1`). This is how nmap, the
 * scope check and the rate limiter read an address. Undefined for anything else (names, zone ids such as
 * `fe80::1%eth0`, shorthand such as `127.1`).
 */
export function canonicalIpAddress(text: string): string | undefined {
  // A strict dotted quad is its own canonical text: no bigint round trip for the common case (every host of an
  // IPv4 scan's XML comes through here).
  if (parseIPv4(text) !== undefined) return text;
  const ip = parseIpAddress(text);
  return ip ? formatIp(ip.family, ip.value) : undefined;
}

/**
 * A CIDR (`127.0.0.0/8`, `::1/128`) or a bare address in canonical text: the address as canonicalIpAddress writes
 * it, an IPv4-mapped network with a prefix of 96 or more as the IPv4 network it covers (`::ffff:127.0.0.0/104` →
 * `127.0.0.0/8`). Returns a reason string (as parseCidr does) for text that is no CIDR, or whose host bits are
 * set (`127.0.0.1/8`), so every list of networks refuses what the scan scope refuses.
 */
export function canonicalCidr(text: string): string | { problem: string } {
  if (!text.includes('/')) {
    const address = canonicalIpAddress(text);
    return address ?? { problem: 'is not an IPv4 or IPv6 address' };
  }
  const block = parseCidr(text);
  if (typeof block === 'string') return { problem: block };
  if (block.family === 6 && block.prefix >= 96 && isIPv4Mapped(block.first)) {
    return `${formatIPv4(Number(block.first - IPV4_MAPPED_PREFIX))}/${block.prefix - 96}`;
  }
  return `${formatIp(block.family, block.first)}/${block.prefix}`;
}

function familyBits(family: IpFamily): number {
  return family === 4 ? 32 : 128;
}

export function familyMax(family: IpFamily): bigint {
  return family === 4 ? 0xffffffffn : IPV6_MAX;
}

/** A CIDR block as an inclusive [first, last] interval of one family. */
export interface IpBlock {
  family: IpFamily;
  prefix: number;
  first: bigint;
  last: bigint;
}

/** `addr/prefix` (or a bare address) to a block; returns a reason string when it is not a valid CIDR. */
export function parseCidr(text: string): IpBlock | string {
  const slash = text.indexOf('/');
  const addrText = slash === -1 ? text : text.slice(0, slash);
  const v4 = parseIPv4(addrText);
  const v6 = v4 === undefined ? parseIPv6(addrText) : undefined;
  const addr: IpValue | undefined =
    v4 !== undefined
      ? { family: 4, value: BigInt(v4) }
      : v6 !== undefined
        ? { family: 6, value: v6 }
        : undefined;
  if (!addr) return 'is not an IPv4 or IPv6 address';
  const bits = familyBits(addr.family);
  let prefix = bits;
  if (slash !== -1) {
    const p = text.slice(slash + 1);
    if (!/^(0|[1-9]\d{0,2})$/.test(p) || Number(p) > bits) return `has a prefix length outside 0-${bits}`;
    prefix = Number(p);
  }
  const hostBits = BigInt(bits - prefix);
  const size = 1n << hostBits;
  const first = (addr.value >> hostBits) << hostBits;
  if (first !== addr.value)
    return `has host bits set (did you mean ${formatIp(addr.family, first)}/${prefix}?)`;
  return { family: addr.family, prefix, first, last: first + size - 1n };
}

export function formatIp(family: IpFamily, value: bigint): string {
  return family === 4 ? formatIPv4(Number(value)) : formatIPv6(value);
}
