// Seed 003's "Submit Scan Results" body as the host and port rows a worker's batch stores: parsed_results keyed
// by address, each with its state, host name, open_ports and port_details keyed by port number. Pure, one pass
// over the body; every malformed entry is counted and the first MAX_PROBLEMS are named in the error.
import { canonicalIpAddress, NMAP_HOST_STATES, NMAP_PORT_STATES } from '@nso/nmap';
import type { HostResultInput, PortResultInput } from '@nso/persistence';
import { createHash } from 'node:crypto';

const PROTOCOLS = new Set(['tcp', 'udp', 'sctp', 'ip']);
const SERVICE_FIELDS = ['name', 'product', 'version', 'extrainfo'] as const;
/** nmap's host states (`<status state=...>`); the original agent adds `error` for a host it could not read. */
const HOST_STATES: ReadonlySet<string> = new Set(NMAP_HOST_STATES);
/** nmap's port states (`<state state=...>`). */
const PORT_STATES: ReadonlySet<string> = new Set(NMAP_PORT_STATES);
/** A port as nmap writes it: 1 to 65535 in canonical decimal (no sign, spaces, exponent, hex or leading 0). */
const PORT_KEY = /^[1-9][0-9]{0,4}$/;
/** Problems a refusal names; the rest are counted. */
export const MAX_PROBLEMS = 20;
/** Longest text kept of a host name or a service field (nmap's own are far shorter). */
const MAX_TEXT = 255;

// C0 and C1 controls and DEL: nmap never writes them (XML 1.0 cannot hold most), PostgreSQL refuses NUL in text,
// and a CSV or terminal must not be driven by them. Stripped, so that both databases store the same text.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;
// Half of a UTF-16 surrogate pair: not a character.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Text from an agent as stored: control characters and unpaired surrogates removed, trimmed, at most 255. */
export function agentText(value: string): string {
  return value.replace(CONTROL, '').replace(LONE_SURROGATE, '').trim().slice(0, MAX_TEXT);
}

/** A body that cannot be read as hosts: `problems` names the first MAX_PROBLEMS, `count` how many in all. */
export class AgentResultsFormatError extends Error {
  constructor(
    readonly problems: string[],
    readonly count: number,
  ) {
    super(
      `parsed_results is malformed: ${problems.slice(0, 10).join('; ')}` +
        (count > 10 ? ` (and ${count - 10} more)` : ''),
    );
  }
}

/**
 * The hosts of `parsed_results`, each address in canonical form (`127.0.52.1`, compressed IPv6). Ports come from
 * port_details (keyed by port number; the detail's `protocol`, tcp by default, its `state`, open by default) and
 * from open_ports numbers without details (tcp, open). A host's `state` must be one of nmap's (up, down, unknown,
 * skipped); the original agent's `error` (it could not read nmap's answer for the host) is stored as unknown.
 * Text is stripped of control characters and bounded (agentText). Other keys of a host (the original agent's
 * `target`, `nmap`, `addresses`, `vendor`, `os_detection`) are ignored. Throws AgentResultsFormatError.
 */
export function agentResultHosts(parsed: Record<string, unknown> | undefined): HostResultInput[] {
  const problems: string[] = [];
  let count = 0;
  const problem = (text: string) => {
    count++;
    if (problems.length < MAX_PROBLEMS) problems.push(text);
  };
  const hosts: HostResultInput[] = [];
  const seen = new Set<string>();
  for (const [key, value] of Object.entries(parsed ?? {})) {
    // The one canonical form of libs/nmap, as the import, the workers and the history routes store it.
    const address = canonicalIpAddress(key);
    if (address === undefined) {
      problem(`${JSON.stringify(key.slice(0, 64))} is not an IP address`);
      continue;
    }
    if (seen.has(address)) {
      problem(`${address}: listed twice (as ${JSON.stringify(key.slice(0, 64))})`);
      continue;
    }
    seen.add(address);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      problem(`${address}: expected an object`);
      continue;
    }
    const entry = value as Record<string, unknown>;
    const state = entry.state ?? 'up';
    if (typeof state !== 'string' || (!HOST_STATES.has(state) && state !== 'error')) {
      problem(`${address}: state must be one of nmap's host states (up, down, unknown, skipped)`);
      continue;
    }
    const ports = new Map<string, PortResultInput>();
    const details = entry.port_details ?? {};
    if (details === null || typeof details !== 'object' || Array.isArray(details)) {
      problem(`${address}: port_details must be an object keyed by port number`);
      continue;
    }
    let portsValid = true;
    for (const [portKey, detailValue] of Object.entries(details as Record<string, unknown>)) {
      const port = PORT_KEY.test(portKey) ? Number(portKey) : NaN;
      const detail = (detailValue ?? {}) as Record<string, unknown>;
      const protocol = detail.protocol ?? 'tcp';
      const portState = detail.state ?? 'open';
      if (!(port <= 65535) || typeof detail !== 'object' || Array.isArray(detail)) {
        problem(
          `${address}: port_details ${JSON.stringify(portKey.slice(0, 16))} is not a port number (1-65535)`,
        );
        portsValid = false;
        continue;
      }
      if (typeof protocol !== 'string' || !PROTOCOLS.has(protocol)) {
        problem(`${address}: port_details ${portKey} protocol must be tcp, udp, sctp or ip`);
        portsValid = false;
        continue;
      }
      if (typeof portState !== 'string' || !PORT_STATES.has(portState)) {
        problem(`${address}: port_details ${portKey} state must be one of nmap's port states`);
        portsValid = false;
        continue;
      }
      const service: PortResultInput['service'] = {};
      for (const field of SERVICE_FIELDS) {
        const text = typeof detail[field] === 'string' ? agentText(detail[field] as string) : '';
        if (text) service[field] = text;
      }
      ports.set(`${protocol}/${port}`, {
        protocol,
        port,
        state: portState,
        ...(Object.keys(service).length > 0 ? { service } : {}),
      });
    }
    if (!portsValid) continue;
    const open = entry.open_ports ?? [];
    if (!Array.isArray(open) || open.some((p) => !Number.isInteger(p) || p < 1 || p > 65535)) {
      problem(`${address}: open_ports must be port numbers (1-65535)`);
      continue;
    }
    const detailed = new Set([...ports.values()].map((p) => p.port));
    for (const port of open as number[]) {
      if (!detailed.has(port)) ports.set(`tcp/${port}`, { protocol: 'tcp', port, state: 'open' });
    }
    const hostname = typeof entry.hostname === 'string' ? agentText(entry.hostname) : '';
    hosts.push({
      address,
      addressType: address.includes(':') ? 'ipv6' : 'ipv4',
      hostnames: hostname ? [{ name: hostname, type: 'PTR' }] : [],
      state: state === 'error' ? 'unknown' : state,
      ports: [...ports.values()],
    });
  }
  if (count > 0) throw new AgentResultsFormatError(problems, count);
  return hosts;
}

/**
 * SHA-256 of what a results post means: its status, error and hosts (as agentResultHosts read them, sorted by
 * address, ports by protocol and number). Key order, spacing and fields that are not stored (timestamp,
 * scan_duration, summary_stats) do not change it, so a retry of the same results is recognised.
 */
export function agentResultsDigest(
  status: string,
  error: string | undefined,
  hosts: readonly HostResultInput[],
): string {
  const hash = createHash('sha256');
  hash.update(JSON.stringify([status, error ?? null]));
  const byAddress = [...hosts].sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
  for (const host of byAddress) {
    const ports = [...host.ports]
      .sort((a, b) => (a.protocol < b.protocol ? -1 : a.protocol > b.protocol ? 1 : a.port - b.port))
      .map((p) => [p.protocol, p.port, p.state, ...SERVICE_FIELDS.map((f) => p.service?.[f] ?? null)]);
    hash.update(JSON.stringify([host.address, host.state, host.hostnames.map((h) => h.name), ports]));
  }
  return hash.digest('hex');
}
