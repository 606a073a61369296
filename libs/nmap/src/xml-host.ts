// The nmap XML → NmapHost mapping both parsers share: an element is an xml2js-shaped node (attributes under `$`,
// text under `_`, children as arrays), built for the whole document by xml2js or for one <host> at a time by the
// streaming parser, so the two give the same hosts by construction.
import {
  NMAP_PORT_STATES,
  NmapExtraPorts,
  NmapHost,
  NmapHostname,
  NmapOsMatch,
  NmapPort,
  NmapProtocol,
  NmapRunSummary,
  NmapService,
} from './types';
import { canonicalIpAddress } from './ip-address';

/** The shape xml2js produces with its defaults: attributes under `$`, text under `_`, children as arrays. */
export interface XmlNode {
  $?: Record<string, string>;
  _?: string;
  [child: string]: unknown;
}

const PORT_STATES: ReadonlySet<string> = new Set(NMAP_PORT_STATES);
const PROTOCOLS: ReadonlySet<string> = new Set<NmapProtocol>(['tcp', 'udp', 'sctp', 'ip']);

/**
 * The latest Unix time (seconds) a result may carry: 9999-12-31T23:59:59Z, the end of what SQL timestamps,
 * ISO 8601 text and JavaScript dates all hold. nmap writes the current time; anything past this is not a time.
 */
export const MAX_UNIX_TIME = 253402300799;

/** Ports are identified by protocol and number: tcp/53 and udp/53 are different keys. */
export function portKey(p: Pick<NmapPort, 'protocol' | 'port'>): string {
  return `${p.protocol}/${p.port}`;
}

/** Running totals over the hosts of a run, for the counts nmap's <runstats><hosts> may leave out. */
export interface HostCounts {
  up: number;
  down: number;
  total: number;
  /** Ports in state "open", over all hosts. */
  openPorts: number;
}

/** Zero counts. */
export function noHosts(): HostCounts {
  return { up: 0, down: 0, total: 0, openPorts: 0 };
}

/** Adds one host to the counts (in place) and returns them. */
export function countHost(counts: HostCounts, host: NmapHost): HostCounts {
  counts.total++;
  if (host.state === 'up') counts.up++;
  else if (host.state === 'down') counts.down++;
  for (const p of host.ports) if (p.state === 'open') counts.openPorts++;
  return counts;
}

/**
 * The run-level facts of <nmaprun> (its attributes and its <runstats> child): nmap's own host counts when it
 * wrote them, else `counts`. Throws a plain Error naming the attribute when a time is not a storable time.
 */
export function runSummary(root: XmlNode, counts: HostCounts): NmapRunSummary {
  const runstats = children(root, 'runstats')[0];
  const finished = runstats ? children(runstats, 'finished')[0] : undefined;
  const reported = runstats ? children(runstats, 'hosts')[0] : undefined;
  const startedAt = unixTime(root, 'start', '<nmaprun start>');
  const finishedAt = unixTime(finished, 'time', '<finished time>');
  if (startedAt !== undefined && finishedAt !== undefined && finishedAt < startedAt) {
    throw new Error(`<finished time="${finishedAt}"> is before <nmaprun start="${startedAt}">`);
  }
  return {
    args: attr(root, 'args'),
    version: attr(root, 'version'),
    startedAt,
    finishedAt,
    elapsed: unixTime(finished, 'elapsed', '<finished elapsed>'),
    exit: attr(finished, 'exit'),
    errorMessage: attr(finished, 'errormsg'),
    summary: attr(finished, 'summary'),
    stats: {
      hostsUp: num(attr(reported, 'up')) ?? counts.up,
      hostsDown: num(attr(reported, 'down')) ?? counts.down,
      hostsTotal: num(attr(reported, 'total')) ?? counts.total,
    },
    openPorts: counts.openPorts,
  };
}

/**
 * Each name once, with the type it was first given (nmap lists a name the user gave, type "user", before the
 * same name found by reverse DNS, type "PTR"): `localhost` user + `localhost` PTR → one `localhost` (user).
 */
export function distinctHostnames(names: readonly NmapHostname[]): NmapHostname[] {
  const seen = new Set<string>();
  return names.filter((n) => !seen.has(n.name) && seen.add(n.name));
}

/**
 * One host per address: nmap lists an address twice when it was given twice (or a file was concatenated), and
 * one address is one target. The first entry's fields win, except that `up` wins over any other state; ports
 * (by protocol and number, the first entry's first) and host names are merged.
 */
export function oneHostPerAddress(hosts: readonly NmapHost[]): NmapHost[] {
  const byAddress = new Map<string, NmapHost>();
  for (const host of hosts) {
    const seen = byAddress.get(host.address);
    if (!seen) {
      byAddress.set(host.address, host);
      continue;
    }
    const ports = new Map(seen.ports.map((p) => [portKey(p), p]));
    for (const p of host.ports) if (!ports.has(portKey(p))) ports.set(portKey(p), p);
    byAddress.set(host.address, {
      ...seen,
      state: seen.state !== 'up' && host.state === 'up' ? 'up' : seen.state,
      reason: seen.state !== 'up' && host.state === 'up' ? host.reason : seen.reason,
      mac: seen.mac ?? host.mac,
      hostnames: distinctHostnames([...seen.hostnames, ...host.hostnames]),
      ports: [...ports.values()],
      os: seen.os ?? host.os,
    });
  }
  return [...byAddress.values()];
}

/**
 * One <host> element as an NmapHost, or undefined when it has no address. Throws a plain Error naming the
 * attribute when an address, a port number or a time cannot be stored.
 *
 * Written as loops over the children (no filtered copies of each list): every host of a scan passes
 * through here, and a wide scan's batch is 4,096 of them (docs/performance.md, "2026-12-07 batch store").
 */
export function toHost(node: XmlNode): NmapHost | undefined {
  let ip: XmlNode | undefined;
  let mac: XmlNode | undefined;
  forEachChild(node, 'address', (a) => {
    const type = attr(a, 'addrtype');
    if (ip === undefined && (type === 'ipv4' || type === 'ipv6')) ip = a;
    else if (mac === undefined && type === 'mac') mac = a;
  });
  const primary = ip ?? mac;
  const written = attr(primary, 'addr');
  if (!primary || !written) return undefined;
  // One spelling of an address everywhere: ::ffff:127.0.0.5 is 127.0.0.5, 0:0:0:0:0:0:0:1 is ::1.
  const address = ip ? canonicalIpAddress(written) : written;
  if (address === undefined) {
    throw new Error(`<address addr=${JSON.stringify(written.slice(0, 64))}> is not an IPv4 or IPv6 address`);
  }
  const status = firstChild(node, 'status');
  let hostnames: NmapHostname[] = [];
  forEachChild(node, 'hostnames', (hn) =>
    forEachChild(hn, 'hostname', (h) => {
      const name = attr(h, 'name');
      if (name) hostnames.push({ name, type: attr(h, 'type') });
    }),
  );
  if (hostnames.length > 1) hostnames = distinctHostnames(hostnames);
  const ports: NmapPort[] = [];
  const extraPorts: NmapExtraPorts[] = [];
  forEachChild(node, 'ports', (ps) => {
    forEachChild(ps, 'port', (p) => {
      const port = toPort(p);
      if (port !== undefined) ports.push(port);
    });
    forEachChild(ps, 'extraports', (e) => {
      const state = attr(e, 'state') ?? '';
      if (PORT_STATES.has(state)) extraPorts.push({ state, count: num(attr(e, 'count')) ?? 0 });
    });
  });
  // A host nmap gave up on (`--host-timeout`: `timedout="true"`) keeps nmap's state, but its ports were not all
  // scanned and nmap lists none of them: those it does not list are in an unknown state, not closed.
  if (attr(node, 'timedout') === 'true')
    extraPorts.splice(0, extraPorts.length, { state: 'unknown', count: 0 });
  const osMatches: NmapOsMatch[] = [];
  forEachChild(node, 'os', (os) =>
    forEachChild(os, 'osmatch', (m) => {
      const name = attr(m, 'name') ?? '';
      if (name !== '') osMatches.push({ name, accuracy: num(attr(m, 'accuracy')) ?? 0 });
    }),
  );
  return {
    address,
    addressType: ip ? (address.includes(':') ? 'ipv6' : 'ipv4') : 'mac',
    mac: ip && mac ? attr(mac, 'addr') : undefined,
    hostnames,
    state: attr(status, 'state') ?? 'unknown',
    reason: attr(status, 'reason'),
    ports,
    ...(extraPorts.length > 0 ? { extraPorts } : {}),
    os: osMatches.length > 0 ? osMatches : undefined,
    startedAt: unixTime(node, 'starttime', '<host starttime>'),
    endedAt: unixTime(node, 'endtime', '<host endtime>'),
  };
}

function toPort(node: XmlNode): NmapPort | undefined {
  const protocol = attr(node, 'protocol');
  const port = num(attr(node, 'portid'));
  if (!protocol || !PROTOCOLS.has(protocol) || port === undefined || !Number.isInteger(port))
    return undefined;
  if (port < 0 || port > 65535) throw new Error(`<port portid="${port}"> is outside 0-65535`);
  const state = firstChild(node, 'state');
  const service = firstChild(node, 'service');
  return {
    protocol: protocol as NmapProtocol,
    port,
    state: attr(state, 'state') ?? 'unknown',
    reason: attr(state, 'reason'),
    service: service ? toService(service) : undefined,
  };
}

function toService(node: XmlNode): NmapService {
  const cpe: string[] = [];
  const listed = node['cpe'];
  if (Array.isArray(listed)) {
    for (const c of listed as unknown[]) {
      const text = typeof c === 'string' ? c : isNode(c) ? c._ : undefined;
      if (typeof text === 'string' && text.trim() !== '') cpe.push(text.trim());
    }
  }
  return {
    name: attr(node, 'name'),
    product: attr(node, 'product'),
    version: attr(node, 'version'),
    extrainfo: attr(node, 'extrainfo'),
    tunnel: attr(node, 'tunnel'),
    method: attr(node, 'method'),
    conf: num(attr(node, 'conf')),
    cpe,
  };
}

/** Calls `each` with every child element named `name`, in order (what `children` lists, without the copy). */
function forEachChild(node: XmlNode, name: string, each: (child: XmlNode) => void): void {
  const value = node[name];
  if (!Array.isArray(value)) return;
  for (const child of value as unknown[]) if (isNode(child)) each(child);
}

/** The first child element named `name` (`children(node, name)[0]` without the copy). */
function firstChild(node: XmlNode, name: string): XmlNode | undefined {
  const value = node[name];
  if (!Array.isArray(value)) return undefined;
  for (const child of value as unknown[]) if (isNode(child)) return child;
  return undefined;
}

/** Whether an xml2js value is an element node (not a string: xml2js turns bare elements into strings). */
export function isNode(value: unknown): value is XmlNode {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Child elements with that name that are elements (xml2js gives whitespace-only elements as strings). */
export function children(node: XmlNode | undefined, name: string): XmlNode[] {
  const value = node?.[name];
  return Array.isArray(value) ? value.filter(isNode) : [];
}

/** An attribute's text, or undefined when absent. */
export function attr(node: XmlNode | undefined, name: string): string | undefined {
  const value = node?.$?.[name];
  return typeof value === 'string' ? value : undefined;
}

/** An attribute's text as a finite number, or undefined (absent, blank or not a number). */
export function num(value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * A time attribute (Unix seconds, or elapsed seconds): absent is undefined; anything but a number from 0 to
 * MAX_UNIX_TIME throws, naming the attribute, so `start="abc"` is a refused file, not a run of negative length.
 */
export function unixTime(node: XmlNode | undefined, name: string, label: string): number | undefined {
  const value = attr(node, name);
  if (value === undefined || value.trim() === '') return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > MAX_UNIX_TIME) {
    throw new Error(
      `${label}=${JSON.stringify(value.slice(0, 32))} is not a time in seconds from 0 to ${MAX_UNIX_TIME}`,
    );
  }
  return n;
}

/** The first line of an error's message (sax appends the line and column on further lines). */
export function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split('\n')[0];
}
