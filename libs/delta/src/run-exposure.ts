// One run against a scan's expected ports (docs/delta.md "Expected ports"): the expected ports a run's open ports
// make (POST /api/scans/{id}/expected/accept-current), and the run's exposure with what it looked at
// (GET /api/scans/{id}/exposure). Pure: the gateway reads the run and stores the result.
import {
  judgeExposure,
  parseExpectedPorts,
  parsePortKey,
  type ExpectedPorts,
  type PortKey,
  type ExposureHostInput,
  type ExposurePort,
} from './expected-ports';
import { portScanned, type ScanOptions } from './scan-options';

/** A host of a run as read for its exposure: ExposureHostInput with each port's service name. */
export interface ExposureRunHost extends ExposureHostInput {
  ports: ReadonlyArray<{ protocol: string; port: number; state: string; service?: string | null }>;
}

/** One run: its hosts, the targets of its completed batches, its options (scanOptionsOf of its nmap flags). */
export interface ExposureRun {
  hosts: readonly ExposureRunHost[];
  scanned: ReadonlySet<string>;
  options: ScanOptions;
}

/** An open port of the judgement, with the service nmap named (null: none). */
export interface ExposureOpenPort extends ExposurePort {
  service: string | null;
}

/** A run's exposure, open ports with their service: see judgeExposure. */
export interface RunExposure {
  expected: ExposureOpenPort[];
  unexpected: ExposureOpenPort[];
  missing: ExposurePort[];
}

/**
 * The open ports of a run as `expected_ports` in normal form (parseExpectedPorts): each host that is up with its
 * open ports (`open` only: `open|filtered` is no answer; a port no `protocol/N` key can name is left out), hosts
 * without an open port left out. When no host has
 * one, `{"*": []}`: nothing is expected open anywhere, so every port that opens later is unexpected (an empty
 * object would read as "none set", which judges nothing).
 */
export function expectedPortsOfRun(hosts: readonly ExposureHostInput[]): ExpectedPorts {
  const open: Record<string, string[]> = {};
  for (const host of hosts) {
    if (host.state !== 'up') continue;
    // An imported file or an agent may hold what no expected port can name (an IP protocol above 255): left out.
    const ports = host.ports
      .filter((p) => p.state === 'open')
      .map((p) => parsePortKey(`${p.protocol}/${p.port}`))
      .filter((key): key is PortKey => key !== undefined);
    if (ports.length > 0) open[host.address] = [...(open[host.address] ?? []), ...ports];
  }
  if (Object.keys(open).length === 0) return { '*': [] };
  const parsed = parseExpectedPorts(open);
  // A run's own rows are canonical addresses and nmap's protocols; a port nmap cannot list would be a bug upstream.
  if (parsed.problems) throw new Error(`run ports are no expected ports: ${parsed.problems[0].message}`);
  return parsed.expected;
}

/**
 * Whether the run looked at a port of a host, for judgeExposure: a completed batch of the run had the host as a
 * target, and the run's options scanned the port. A top-N or otherwise unknown port selection (`portScanned`
 * undefined) counts only for a host that answered (is up): which ports nmap's top N are is not known here, and a
 * host that did not answer tells nothing of any port.
 */
export function runLookedAt(run: ExposureRun): (host: string, protocol: string, port: number) => boolean {
  const up = new Set(run.hosts.filter((h) => h.state === 'up').map((h) => h.address));
  return (host, protocol, port) => {
    if (!run.scanned.has(host)) return false;
    const scanned = portScanned(run.options, protocol, port);
    return scanned === true || (scanned === undefined && up.has(host));
  };
}

/** The run judged against `expected` (judgeExposure with runLookedAt), its open ports with their service names. */
export function runExposure(run: ExposureRun, expected: ExpectedPorts): RunExposure {
  const judged = judgeExposure(run.hosts, expected, runLookedAt(run));
  const services = new Map<string, string | null>();
  for (const host of run.hosts)
    for (const p of host.ports) services.set(`${host.address} ${p.protocol}/${p.port}`, p.service ?? null);
  const withService = (p: ExposurePort): ExposureOpenPort => ({
    ...p,
    service: services.get(`${p.host} ${p.protocol}/${p.port}`) ?? null,
  });
  return {
    expected: judged.expected.map(withService),
    unexpected: judged.unexpected.map(withService),
    missing: judged.missing,
  };
}
