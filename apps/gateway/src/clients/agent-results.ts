// Seed 003's "Submit Scan Results" body as the host and port rows a worker's batch stores: parsed_results keyed
// by address, each with its state, host name, open_ports and port_details keyed by port number. Pure; every
// malformed entry is named in the error.
import { formatIPv6, parseIpAddress } from '@nso/nmap';
import type { HostResultInput, PortResultInput } from '@nso/persistence';

const PROTOCOLS = new Set(['tcp', 'udp', 'sctp', 'ip']);
const SERVICE_FIELDS = ['name', 'product', 'version', 'extrainfo'] as const;

/** A body that cannot be read as hosts: `problems` names the addresses and fields. */
export class AgentResultsFormatError extends Error {
  constructor(readonly problems: string[]) {
    super(`parsed_results is malformed: ${problems.slice(0, 10).join('; ')}`);
  }
}

/**
 * The hosts of `parsed_results`, each address in canonical form (`127.0.52.1`, compressed IPv6). Ports come from
 * port_details (keyed by protocol and number: the detail's `protocol`, tcp by default, its `state`, open by
 * default) and from open_ports numbers without details (tcp, open). Throws AgentResultsFormatError.
 */
export function agentResultHosts(parsed: Record<string, unknown> | undefined): HostResultInput[] {
  const problems: string[] = [];
  const hosts: HostResultInput[] = [];
  for (const [key, value] of Object.entries(parsed ?? {})) {
    const ip = parseIpAddress(key);
    if (!ip) {
      problems.push(`${JSON.stringify(key.slice(0, 64))} is not an IP address`);
      continue;
    }
    const address =
      ip.family === 4
        ? [24n, 16n, 8n, 0n].map((shift) => Number((ip.value >> shift) & 255n)).join('.')
        : formatIPv6(ip.value);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      problems.push(`${address}: expected an object`);
      continue;
    }
    const entry = value as Record<string, unknown>;
    const ports = new Map<string, PortResultInput>();
    const details = entry.port_details ?? {};
    if (details === null || typeof details !== 'object' || Array.isArray(details)) {
      problems.push(`${address}: port_details must be an object keyed by port number`);
      continue;
    }
    for (const [portKey, detailValue] of Object.entries(details as Record<string, unknown>)) {
      const port = Number(portKey);
      const detail = (detailValue ?? {}) as Record<string, unknown>;
      const protocol = typeof detail.protocol === 'string' ? detail.protocol : 'tcp';
      if (!Number.isInteger(port) || port < 1 || port > 65535 || !PROTOCOLS.has(protocol)) {
        problems.push(
          `${address}: port_details ${JSON.stringify(portKey.slice(0, 16))} is not a port of tcp/udp/sctp`,
        );
        continue;
      }
      const service: PortResultInput['service'] = {};
      for (const field of SERVICE_FIELDS) {
        if (typeof detail[field] === 'string' && detail[field])
          service[field] = (detail[field] as string).slice(0, 255);
      }
      ports.set(`${protocol}/${port}`, {
        protocol,
        port,
        state: typeof detail.state === 'string' ? detail.state.slice(0, 32) : 'open',
        ...(Object.keys(service).length > 0 ? { service } : {}),
      });
    }
    const open = entry.open_ports ?? [];
    if (!Array.isArray(open) || open.some((p) => !Number.isInteger(p) || p < 1 || p > 65535)) {
      problems.push(`${address}: open_ports must be port numbers`);
      continue;
    }
    for (const port of open as number[]) {
      if (!ports.has(`tcp/${port}`) && ![...ports.values()].some((p) => p.port === port)) {
        ports.set(`tcp/${port}`, { protocol: 'tcp', port, state: 'open' });
      }
    }
    const hostname = typeof entry.hostname === 'string' ? entry.hostname.trim().slice(0, 255) : '';
    hosts.push({
      address,
      addressType: ip.family === 4 ? 'ipv4' : 'ipv6',
      hostnames: hostname ? [{ name: hostname, type: 'PTR' }] : [],
      state: typeof entry.state === 'string' ? entry.state.slice(0, 16) : 'up',
      ports: [...ports.values()],
    });
  }
  if (problems.length > 0) throw new AgentResultsFormatError(problems);
  return hosts;
}
