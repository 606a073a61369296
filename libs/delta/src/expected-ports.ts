// Expected ports (issue 21): the state an operator expects of a scan — per host, or for every host — against which
// each open port of a run is `expected` or `unexpected`, and each expected port that is not open is `missing`.
// Pure: parsing the definition's `expected_ports` and judging one run's hosts.
import { canonicalIpAddress } from '@nso/nmap';

/** A port as `protocol/port`, e.g. `tcp/22`: nmap's own spelling in its normal output (`22/tcp`) turned around. */
export type PortKey = `${string}/${number}`;

/**
 * `expected_ports` of a definition: `"*"` (every host) and canonical addresses to the ports expected open there,
 * e.g. `{"*": ["tcp/22"], "127.0.9.5": ["tcp/80", "tcp/443"]}`. A host's expected ports are its own and `"*"`'s.
 */
export type ExpectedPorts = Readonly<Record<string, readonly PortKey[]>>;

/**
 * Protocols nmap scans ports of (`-sS`/`-sT`…, `-sU`, `-sY`/`-sZ`) with their highest port (0-65535, as the
 * policy's `-p` and imports take them), and `ip`: the IP protocol numbers an `-sO` run lists as its ports, 0-255.
 */
const PROTOCOLS: ReadonlyMap<string, number> = new Map([
  ['tcp', 65535],
  ['udp', 65535],
  ['sctp', 65535],
  ['ip', 255],
]);
const MAX_ENTRIES = 10_000;

/** A problem of an `expected_ports` value: where (`expected_ports["127.0.9.5"][1]`) and why. */
export interface ExpectedPortsProblem {
  path: string;
  message: string;
}

/**
 * Validates and normalises an `expected_ports` value as a client sent it: an object whose keys are `"*"` or IP
 * addresses (rewritten canonical: `::ffff:127.0.0.5` → `127.0.0.5`) and whose values are arrays of `tcp/N`,
 * `udp/N` or `sctp/N` with N in 0–65535, or `ip/N` with N in 0–255 (`-sO`) (deduplicated and sorted). Two keys naming one address are merged.
 * Answers the normal form, or every problem found (nothing is half-taken). At most 10,000 ports in all.
 */
export function parseExpectedPorts(
  value: unknown,
):
  | { expected: ExpectedPorts; problems?: undefined }
  | { expected?: undefined; problems: ExpectedPortsProblem[] } {
  const problems: ExpectedPortsProblem[] = [];
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return { problems: [{ path: 'expected_ports', message: 'must be an object of host → ["tcp/22", ...]' }] };
  const merged = new Map<string, Set<PortKey>>();
  let count = 0;
  for (const [key, ports] of Object.entries(value)) {
    const path = `expected_ports[${JSON.stringify(key)}]`;
    const host = key === '*' ? '*' : canonicalIpAddress(key);
    if (host === undefined) problems.push({ path, message: 'must be "*" or an IP address' });
    if (!Array.isArray(ports)) {
      problems.push({ path, message: 'must be an array of "protocol/port" strings' });
      continue;
    }
    const set = merged.get(host ?? key) ?? new Set<PortKey>();
    ports.forEach((port: unknown, i) => {
      const portKey = parsePortKey(port);
      if (portKey === undefined)
        problems.push({
          path: `${path}[${i}]`,
          message: 'must be "tcp/N", "udp/N" or "sctp/N" with N in 0-65535, or "ip/N" with N in 0-255',
        });
      else set.add(portKey);
    });
    count += set.size;
    merged.set(host ?? key, set);
  }
  if (count > MAX_ENTRIES)
    problems.push({ path: 'expected_ports', message: `holds ${count} ports; at most ${MAX_ENTRIES}` });
  if (problems.length > 0) return { problems };
  const expected: Record<string, PortKey[]> = {};
  for (const [host, set] of merged) expected[host] = [...set].sort(comparePortKeys);
  return { expected };
}

/** `tcp/22` (any case, no spaces) as a PortKey; undefined for anything else. */
export function parsePortKey(value: unknown): PortKey | undefined {
  if (typeof value !== 'string') return undefined;
  const match = /^([a-z]+)\/(\d{1,5})$/.exec(value.toLowerCase());
  const max = match ? PROTOCOLS.get(match[1]) : undefined;
  if (!match || max === undefined) return undefined;
  const port = Number(match[2]);
  return port <= max ? `${match[1]}/${port}` : undefined;
}

function comparePortKeys(a: PortKey, b: PortKey): number {
  const [pa, na] = a.split('/');
  const [pb, nb] = b.split('/');
  return pa === pb ? Number(na) - Number(nb) : pa < pb ? -1 : 1;
}

/** A host of a run as the exposure judgement needs it: its ports in nmap's states. */
export interface ExposureHostInput {
  address: string;
  /** nmap's host state: a host that is not `up` has no open port, so all its expected ports are missing. */
  state: string;
  ports: ReadonlyArray<{ protocol: string; port: number; state: string }>;
}

/** One port of the judgement. */
export interface ExposurePort {
  host: string;
  protocol: string;
  port: number;
}

/** A run's exposure: every open port is expected or unexpected; every expected port not open is missing. */
export interface Exposure {
  expected: ExposurePort[];
  unexpected: ExposurePort[];
  missing: ExposurePort[];
}

/**
 * Judges the hosts of one run against the expected ports. `looked(host, protocol, port)` says whether the run
 * looked at that port of that host (a target whose batch completed, a port its options scanned); a port it did
 * not look at is never `missing`, since the run cannot tell. `"*"` applies to the hosts that are up (an address
 * that did not answer in a sweep is not a host); a host's own entries apply whether it is up, down or absent from
 * `hosts` (then it has no open port). Output is sorted by host, protocol, port.
 */
export function judgeExposure(
  hosts: readonly ExposureHostInput[],
  expected: ExpectedPorts,
  looked: (host: string, protocol: string, port: number) => boolean,
): Exposure {
  const result: Exposure = { expected: [], unexpected: [], missing: [] };
  const everyHost = expected['*'] ?? [];
  const byAddress = new Map(hosts.map((host) => [host.address, host]));
  for (const address of Object.keys(expected))
    if (address !== '*' && !byAddress.has(address))
      byAddress.set(address, { address, state: 'down', ports: [] });
  for (const host of byAddress.values()) {
    const own = expected[host.address] ?? [];
    const wanted = new Set<string>(host.state === 'up' ? [...everyHost, ...own] : own);
    const open = new Set<string>();
    if (host.state === 'up')
      for (const port of host.ports)
        if (port.state === 'open') {
          const key = `${port.protocol}/${port.port}`;
          open.add(key);
          const entry = { host: host.address, protocol: port.protocol, port: port.port };
          (wanted.has(key) ? result.expected : result.unexpected).push(entry);
        }
    for (const key of wanted) {
      if (open.has(key)) continue;
      const [protocol, port] = key.split('/');
      if (looked(host.address, protocol, Number(port)))
        result.missing.push({ host: host.address, protocol, port: Number(port) });
    }
  }
  for (const list of Object.values(result)) list.sort(compareExposurePorts);
  return result;
}

function compareExposurePorts(a: ExposurePort, b: ExposurePort): number {
  if (a.host !== b.host) return a.host < b.host ? -1 : 1;
  if (a.protocol !== b.protocol) return a.protocol < b.protocol ? -1 : 1;
  return a.port - b.port;
}
