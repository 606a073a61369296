// Assets over time (issue 21, docs/delta.md "Assets over time", "Port history"): what the runs of a user's scans
// tell about one address, one scan's hosts and one port of a host, read through AssetQueries. Runs are ordered
// by id (the order they were made in, as the delta service orders baselines); "looked at" is coverage: a
// completed batch of the run held the address, and its nmap options scanned the port (@nso/delta portScanned).
import { BadRequestException, Injectable, NotFoundException } from '@nestjs/common';
import { judgeExposure, portScanned, scanOptionsOf, type ExpectedPorts, type ScanOptions } from '@nso/delta';
import { canonicalIpAddress, parseIpAddress } from '@nso/nmap';
import {
  AssetQueries,
  type AssetPortRow,
  type AssetRun,
  type AssetSighting,
  type ScanHostSummary,
} from '@nso/persistence';
import { PageQuery, pageFields, pageWindow } from '../common/pagination';
import type { PortProtocol, ScanHostsQuery } from './assets.dto';

const RUNS_SHOWN = 50;
const HOSTS_PER_PAGE = 100;
const HISTORY_PER_PAGE = 50;

/** A run as the asset answers point at it. */
export interface Sighting {
  result_id: number;
  scan_id: number;
  finished_at: string | null;
}

const sightingOf = (run: AssetRun): Sighting => ({
  result_id: run.result_id,
  scan_id: run.scan_id,
  finished_at: run.finished_at,
});

/** A run that looked at an address, with its host row there when nmap listed the host. */
export interface Look {
  run: AssetRun;
  row?: AssetSighting;
}

@Injectable()
export class AssetsService {
  constructor(private readonly assets: AssetQueries) {}

  /**
   * `GET /api/hosts/{address}`: the address across the runs of the user's scans — first run that found it up,
   * last run that found it up, last run that looked at it (listed or not), every port ever seen open (with the
   * first and last run that found it open, and `open_now`: open in the latest run that looked at that port), the
   * scans and the runs (newest 50, and their total) that listed it. 400 for an address that is no IP; 404
   * `{"error": "Host not found"}` when no run of the user's scans listed it.
   */
  async host(ownerId: number, rawAddress: string) {
    const address = assetAddress(rawAddress);
    const sightings = await this.sightingsOrNotFound(ownerId, address);
    const openRows = await this.assets.portsOf(
      sightings.map((s) => s.host_id),
      { state: 'open' },
    );
    const rowByHost = new Map(sightings.map((s) => [s.host_id, s]));
    const ports = new Map<
      string,
      { protocol: string; port: number; open: AssetSighting[]; latest: AssetPortRow }
    >();
    for (const row of openRows) {
      const key = `${row.protocol}/${row.port}`;
      const sighting = rowByHost.get(row.host_id)!;
      const entry = ports.get(key);
      if (!entry) ports.set(key, { protocol: row.protocol, port: row.port, open: [sighting], latest: row });
      else {
        entry.open.push(sighting);
        if (sighting.result_id > rowByHost.get(entry.latest.host_id)!.result_id) entry.latest = row;
      }
    }
    // Only runs after the oldest of the ports' last open runs can close a port; only runs after the last row can
    // be the last run that looked.
    const lastOpen = (entry: { open: AssetSighting[] }) =>
      entry.open.reduce((max, s) => Math.max(max, s.result_id), 0);
    const after = [...ports.values()].reduce(
      (min, entry) => Math.min(min, lastOpen(entry)),
      sightings[0].result_id,
    );
    const looks = mergeLooks(sightings, await this.assets.coveringRuns(ownerId, address, after));
    const lastLook = looks[0];
    const options = new OptionsCache();
    const views = [...ports.values()].map((entry) => {
      const newest = lastOpen(entry);
      const closedBy = looks.find(
        (look) =>
          look.run.result_id > newest && lookedAtPort(look, options.of(look.run), entry.protocol, entry.port),
      );
      const byRun = [...entry.open].sort((a, b) => a.result_id - b.result_id);
      return {
        protocol: entry.protocol,
        port: entry.port,
        service: entry.latest.service,
        product: entry.latest.product,
        version: entry.latest.version,
        open_now: closedBy === undefined,
        first_seen: sightingOf(byRun[0]),
        last_seen: sightingOf(byRun[byRun.length - 1]),
      };
    });
    views.sort(
      (a, b) =>
        Number(b.open_now) - Number(a.open_now) ||
        (a.protocol === b.protocol ? a.port - b.port : a.protocol < b.protocol ? -1 : 1),
    );
    const up = sightings.filter((s) => s.state === 'up');
    const scans = new Map<number, { scan_id: number; scan_name: string; runs: number }>();
    for (const s of sightings) {
      const scan = scans.get(s.scan_id) ?? { scan_id: s.scan_id, scan_name: s.scan_name, runs: 0 };
      scan.runs++;
      scans.set(s.scan_id, scan);
    }
    return {
      status: 'success',
      address,
      state: lastLook.row?.state ?? 'down',
      hostnames: sightings.find((s) => s.hostnames.length > 0)?.hostnames ?? [],
      first_seen: up.length > 0 ? sightingOf(up[up.length - 1]) : null,
      last_seen_up: up.length > 0 ? sightingOf(up[0]) : null,
      last_seen: sightingOf(lastLook.run),
      ports: views,
      scans: [...scans.values()].sort((a, b) => a.scan_id - b.scan_id),
      runs_total: sightings.length,
      runs: sightings.slice(0, RUNS_SHOWN).map((s) => ({
        result_id: s.result_id,
        scan_id: s.scan_id,
        scan_name: s.scan_name,
        trigger: s.trigger,
        finished_at: s.finished_at,
        state: s.state,
      })),
    };
  }

  /**
   * `GET /api/scans/{scan_id}/hosts`: one entry per address any run of the scan listed, in address order: first
   * and last run that found it up, last run that looked at it, its state there (`down` when that run did not list
   * it) and its open ports there; with the scan's expected_ports, each port's `exposure` and the host's
   * `unexpected` count (@nso/delta judgeExposure). Filters: see ScanHostsQuery. 404 `{"error": "Scan not found"}`
   * for another user's scan.
   */
  async scanHosts(ownerId: number, scanId: number, query: ScanHostsQuery) {
    const scan = await this.assets.ownedScan(ownerId, scanId);
    if (!scan) throw new NotFoundException({ error: 'Scan not found' });
    const window = pageWindow(query, HOSTS_PER_PAGE);
    const [runs, summaries] = await Promise.all([
      this.assets.inventoryRuns(scanId),
      this.assets.hostSummaries(scanId),
    ]);
    const runById = new Map(runs.map((run) => [run.result_id, run]));
    const latest = await latestLooks(runs, summaries, (resultId) => this.assets.coveredBy(resultId));
    const current = summaries.filter(
      (s) => latest.get(s.address) === s.last_row_result_id && s.last_row_state === 'up',
    );
    const openPorts = await this.assets.portsOf(
      current.map((s) => s.last_row_host_id),
      { state: 'open' },
    );
    const portsByHost = new Map<number, AssetPortRow[]>();
    for (const port of openPorts) {
      const list = portsByHost.get(port.host_id) ?? [];
      list.push(port);
      portsByHost.set(port.host_id, list);
    }
    const hosts = summaries.map((summary) => {
      const look = latest.get(summary.address)!;
      const state = look === summary.last_row_result_id ? summary.last_row_state : 'down';
      return {
        summary,
        state,
        lastSeen: runById.get(look)!,
        ports: state === 'up' ? (portsByHost.get(summary.last_row_host_id) ?? []) : [],
      };
    });
    const unexpected = new Set<string>();
    if (scan.expectedPorts) {
      const judged = judgeExposure(
        hosts.map((h) => ({
          address: h.summary.address,
          state: h.state,
          ports: h.ports.map((p) => ({ ...p, state: 'open' })),
        })),
        scan.expectedPorts as ExpectedPorts,
        () => false,
      );
      for (const p of judged.unexpected) unexpected.add(`${p.host} ${p.protocol}/${p.port}`);
    }
    const views = hosts.map((h) => {
      const open_ports = h.ports.map((p) => ({
        protocol: p.protocol,
        port: p.port,
        service: p.service,
        product: p.product,
        version: p.version,
        ...(scan.expectedPorts
          ? {
              exposure: unexpected.has(`${h.summary.address} ${p.protocol}/${p.port}`)
                ? ('unexpected' as const)
                : ('expected' as const),
            }
          : {}),
      }));
      const at = (id: number | null) => (id === null ? null : sightingOf(runById.get(id)!));
      return {
        address: h.summary.address,
        state: h.state,
        first_seen: at(h.summary.first_up_result_id),
        last_seen_up: at(h.summary.last_up_result_id),
        last_seen: sightingOf(h.lastSeen),
        open_ports,
        ...(scan.expectedPorts
          ? { unexpected: open_ports.filter((p) => p.exposure === 'unexpected').length }
          : {}),
      };
    });
    const service = query.service?.toLowerCase();
    const matching = views
      .filter((host) => {
        // nmap's other host states (`unknown`, `skipped`) are not up: `down` for the filter.
        if (query.state !== undefined && (host.state === 'up' ? 'up' : 'down') !== query.state) return false;
        if (query.unexpected !== undefined && (host.unexpected ?? 0) > 0 !== query.unexpected) return false;
        if (query.port === undefined && query.protocol === undefined && service === undefined) return true;
        return host.open_ports.some(
          (p) =>
            (query.port === undefined || p.port === query.port) &&
            (query.protocol === undefined || p.protocol === query.protocol) &&
            (service === undefined || p.service?.toLowerCase() === service),
        );
      })
      .sort((a, b) => compareAddresses(a.address, b.address));
    return {
      status: 'success',
      scan_id: scanId,
      expected_ports: scan.expectedPorts !== null,
      ...pageFields(matching.length, window),
      hosts: matching.slice(window.offset, window.offset + window.limit),
    };
  }

  /**
   * `GET /api/hosts/{address}/ports/{protocol}/{port}/history`: the port's state in every run of the user's scans
   * that looked at it, newest first (see portStateIn, lookedAtPort). 400 for an address that is no IP (the
   * protocol and port are checked by their pipes); 404 `{"error": "Host not found"}` when no run of the user's
   * scans listed the address.
   */
  async portHistory(
    ownerId: number,
    rawAddress: string,
    protocol: PortProtocol,
    port: number,
    query: PageQuery,
  ) {
    const address = assetAddress(rawAddress);
    const window = pageWindow(query, HISTORY_PER_PAGE);
    const sightings = await this.sightingsOrNotFound(ownerId, address);
    const options = new OptionsCache();
    const looks = mergeLooks(sightings, await this.assets.coveringRuns(ownerId, address)).filter((look) =>
      lookedAtPort(look, options.of(look.run), protocol, port),
    );
    const page = looks.slice(window.offset, window.offset + window.limit);
    const rows = await this.assets.portsOf(
      page.flatMap((look) => (look.row ? [look.row.host_id] : [])),
      { protocol, port },
    );
    const rowByHost = new Map(rows.map((row) => [row.host_id, row]));
    return {
      status: 'success',
      address,
      protocol,
      port,
      ...pageFields(looks.length, window),
      history: page.map((look) => {
        const row = look.row ? rowByHost.get(look.row.host_id) : undefined;
        return {
          result_id: look.run.result_id,
          scan_id: look.run.scan_id,
          trigger: look.run.trigger,
          finished_at: look.run.finished_at,
          state: portStateIn(look, row),
          service: row?.service ?? null,
          product: row?.product ?? null,
          version: row?.version ?? null,
        };
      }),
    };
  }

  private async sightingsOrNotFound(ownerId: number, address: string): Promise<AssetSighting[]> {
    const sightings = await this.assets.sightings(ownerId, address);
    if (sightings.length === 0) throw new NotFoundException({ error: 'Host not found' });
    return sightings;
  }
}

/**
 * The address of an asset route in the canonical form results are stored in (canonicalIpAddress), or 400
 * `{"error": "address must be an IPv4 or IPv6 address", "field": "address"}`.
 */
export function assetAddress(raw: string): string {
  const address = canonicalIpAddress(raw);
  if (address === undefined)
    throw new BadRequestException({ error: 'address must be an IPv4 or IPv6 address', field: 'address' });
  return address;
}

/**
 * The runs that looked at an address, newest first: those with a host row of it (`row`) and those whose
 * completed batches covered it without nmap listing it. A host row implies the coverage, so both lists merge by
 * run id.
 */
export function mergeLooks(sightings: readonly AssetSighting[], covering: readonly AssetRun[]): Look[] {
  const looks = new Map<number, Look>();
  for (const run of covering) looks.set(run.result_id, { run });
  for (const row of sightings) looks.set(row.result_id, { run: row, row });
  return [...looks.values()].sort((a, b) => b.run.result_id - a.run.result_id);
}

/**
 * Whether a run that looked at the host looked at protocol/port too: its options scanned that port; for a
 * selection that cannot be enumerated (top-N, --port-ratio: portScanned's undefined) only when nmap listed the
 * host, since only then did the run say anything about it.
 */
export function lookedAtPort(look: Look, options: ScanOptions, protocol: string, port: number): boolean {
  const scanned = portScanned(options, protocol, port);
  return scanned === true || (scanned === undefined && look.row !== undefined);
}

/**
 * The port's state in a run that looked at it: `host-down` when the host did not answer (no row, or not up);
 * else its port row's state; else (scanned, not listed) the first of the host's unlisted states, or `closed`.
 */
export function portStateIn(look: Look, port: { state: string } | undefined): string {
  if (!look.row || look.row.state !== 'up') return 'host-down';
  return port?.state ?? look.row.unlisted_states[0] ?? 'closed';
}

/**
 * The latest run that looked at each address of a scan's inventory (by run id): its latest row's run, unless a
 * newer run covered it without listing it. Runs are walked newest first, reading a run's coverage only while an
 * address whose latest row is older is still open, so a scan whose latest run listed every host reads none.
 */
export async function latestLooks(
  runs: readonly AssetRun[],
  summaries: readonly ScanHostSummary[],
  coveredBy: (resultId: number) => Promise<Set<string>>,
): Promise<Map<string, number>> {
  const latest = new Map<string, number>();
  // Open addresses, by their latest row's run id, newest first.
  const open = [...summaries].sort((a, b) => b.last_row_result_id - a.last_row_result_id);
  let resolvedUpTo = 0;
  for (const run of runs) {
    // Addresses listed by this run (or a newer one) are settled by their own row.
    while (resolvedUpTo < open.length && open[resolvedUpTo].last_row_result_id >= run.result_id) {
      const summary = open[resolvedUpTo++];
      if (!latest.has(summary.address)) latest.set(summary.address, summary.last_row_result_id);
    }
    if (latest.size === open.length) break;
    if (run.status === 'queued') continue;
    const covered = await coveredBy(run.result_id);
    for (let i = resolvedUpTo; i < open.length && covered.size > 0; i++)
      if (!latest.has(open[i].address) && covered.has(open[i].address))
        latest.set(open[i].address, run.result_id);
  }
  for (const summary of open)
    if (!latest.has(summary.address)) latest.set(summary.address, summary.last_row_result_id);
  return latest;
}

/** IPv4 before IPv6, each in numeric order. */
export function compareAddresses(a: string, b: string): number {
  const x = parseIpAddress(a);
  const y = parseIpAddress(b);
  if (!x || !y) return a < b ? -1 : a > b ? 1 : 0;
  if (x.family !== y.family) return x.family - y.family;
  return x.value < y.value ? -1 : x.value > y.value ? 1 : 0;
}

/** scanOptionsOf once per run. */
class OptionsCache {
  private readonly byRun = new Map<number, ScanOptions>();

  of(run: AssetRun): ScanOptions {
    let options = this.byRun.get(run.result_id);
    if (!options) {
      options = scanOptionsOf(run.nmap_flags);
      this.byRun.set(run.result_id, options);
    }
    return options;
  }
}
