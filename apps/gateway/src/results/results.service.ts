import { BadRequestException, Injectable, NotFoundException } from '@nestjs/common';
import { canonicalIpAddress } from '@nso/nmap';
import { RunQueries, ScanRepository, type Batch, type Host, type Port } from '@nso/persistence';
import { RunService } from '@nso/runs';
import { PageQuery, pageFields, pageWindow } from '../common/pagination';
import { RunHostsQuery } from './results.dto';
import { RunProgressReader } from './run-progress.view';
import { RunSummaries, runSummary } from './run-summary';

const RUNS_PER_PAGE = 20;
const HOSTS_PER_PAGE = 100;
const HISTORY_PER_PAGE = 50;
const BATCHES_PER_PAGE = 100;

/**
 * The run history a user browses: a scan's runs, one run with its hosts and ports, one address across runs.
 * Reads through RunQueries (and ScanRepository for the owner check of a scan).
 */
@Injectable()
export class ResultsService {
  constructor(
    private readonly runRows: RunQueries,
    private readonly scans: ScanRepository,
    private readonly summaries: RunSummaries,
    private readonly runs: RunService,
    private readonly progress: RunProgressReader,
  ) {}

  /** `GET /api/scans/{scan_id}/results`: the scan's runs, newest first. 404 for another user's scan. */
  async runsOfScan(ownerId: number, scanId: number, query: PageQuery) {
    const scan = await this.scans.findOwned(ownerId, scanId);
    if (!scan) throw new NotFoundException({ error: 'Scan not found' });
    const window = pageWindow(query, RUNS_PER_PAGE);
    const [runs, total] = await this.runRows.runsOfScan(scanId, window);
    return {
      status: 'success',
      scan_id: scanId,
      ...pageFields(total, window),
      results: runs.map(runSummary),
    };
  }

  /**
   * `GET /api/results/{result_id}`: the run, seed 003's `summary` (RunSummaries), its `progress` (live while it
   * runs: RunProgressReader) and a page of its hosts, each with its ports, in target order.
   * `host_state` keeps hosts in that state; `port_state` keeps hosts with such a port, and only those ports.
   * 404 for another user's run.
   */
  async run(ownerId: number, resultId: number, query: RunHostsQuery) {
    const run = await this.runRows.ownedRun(ownerId, resultId);
    if (!run) throw new NotFoundException({ error: 'Result not found' });
    const window = pageWindow(query, HOSTS_PER_PAGE);
    const [hosts, total] = await this.runRows.hostsOfRun(
      resultId,
      { hostState: query.host_state, portState: query.port_state },
      window,
    );
    const ports = await this.runRows.portsOfHosts(
      hosts.map((h) => h.id),
      query.port_state,
    );
    const summary = await this.summaries.of(run.id);
    return {
      status: 'success',
      result: runSummary(run),
      summary,
      progress: await this.progress.of(run, summary.completed_targets),
      hosts: { ...pageFields(total, window), items: hosts.map((h) => hostView(h, ports.get(h.id) ?? [])) },
    };
  }

  /**
   * `GET /api/results/{result_id}/batches`: the run's batches 1 … batches_total in order, a page at a time, each
   * as its row holds it once a worker or agent took it, else `pending`; every one with the client it was
   * delegated to and its addresses (as the queue cut them). What the WebSocket's batch events told, for runs
   * whose events were trimmed from the replay log. 404 for another user's run.
   */
  async batches(ownerId: number, resultId: number, query: PageQuery) {
    const run = await this.runRows.ownedRun(ownerId, resultId);
    if (!run) throw new NotFoundException({ error: 'Result not found' });
    const window = pageWindow(query, BATCHES_PER_PAGE);
    const first = window.offset + 1;
    const last = Math.min(run.batchesTotal, window.offset + window.limit);
    const seqs = Array.from({ length: Math.max(0, last - first + 1) }, (_, i) => first + i);
    const rows = await this.runRows.batchesOfRun(resultId, first, last);
    const bySeq = new Map(rows.map((row) => [row.seq, row]));
    // A run made by an nmap XML import has no cut to re-make: its one batch row is all there is.
    const planned = new Map(
      run.trigger === 'import' ? [] : this.runs.plannedBatches(run, seqs).map((p) => [p.seq, p]),
    );
    return {
      status: 'success',
      result_id: run.id,
      scan_id: run.scan.id,
      run_status: run.status,
      ...pageFields(run.batchesTotal, window),
      // A stopped run starts no batch after the stop: the ones no worker took will never run.
      batches: seqs.map((seq) =>
        batchView(seq, bySeq.get(seq), planned.get(seq), run.status === 'stopped' ? 'stopped' : 'pending'),
      ),
    };
  }

  /**
   * `GET /api/hosts/{address}/history`: every run of this user's scans that saw the address, newest first, with
   * the host's state and open ports in that run. The address is an IP literal, compared in its canonical form.
   */
  async hostHistory(ownerId: number, rawAddress: string, query: PageQuery) {
    const address = canonicalAddress(rawAddress);
    const window = pageWindow(query, HISTORY_PER_PAGE);
    const [hosts, total] = await this.runRows.hostHistory(ownerId, address, window);
    const ports = await this.runRows.portsOfHosts(
      hosts.map((h) => h.id),
      'open',
    );
    return {
      status: 'success',
      address,
      ...pageFields(total, window),
      history: hosts.map((host) => ({
        result_id: host.result.id,
        scan_id: host.result.scan.id,
        scan_name: host.result.scan.name,
        run_status: host.result.status,
        started_at: host.result.startedAt,
        finished_at: host.result.finishedAt,
        state: host.state,
        hostnames: host.hostnames,
        open_ports: (ports.get(host.id) ?? []).map(portView),
      })),
    };
  }
}

/**
 * The address of a history route in the one canonical form results are stored in (canonicalIpAddress:
 * `::ffff:127.0.0.5` is 127.0.0.5, `0:0:0:0:0:0:0:1` is ::1); anything else is a 400. A zone
 * (`fe80::1%eth0`) is refused: no stored address has one.
 */
export function canonicalAddress(raw: string): string {
  const address = canonicalIpAddress(raw);
  if (address === undefined) {
    throw new BadRequestException({ error: 'address must be an IPv4 or IPv6 address' });
  }
  return address;
}

/**
 * A batch of a run: its row once started, else `unstarted` (`pending`, or `stopped` when the run was stopped
 * before a worker took it) with what it was cut to scan.
 */
function batchView(
  seq: number,
  row: Batch | undefined,
  planned: { clientId: string; agent: boolean; targets: string[] } | undefined,
  unstarted: 'pending' | 'stopped',
) {
  return {
    batch_id: seq,
    status: row?.status ?? unstarted,
    client_id: planned?.clientId ?? null,
    client_kind: planned ? (planned.agent ? 'agent' : 'pool') : null,
    targets: row?.targets ?? planned?.targets ?? [],
    worker_id: row?.workerId ?? null,
    attempts: row?.attempts ?? 0,
    started_at: row?.startedAt ?? null,
    finished_at: row?.finishedAt ?? null,
    exit_code: row?.exitCode ?? null,
    stderr: row?.stderr ?? null,
    hosts_up: row?.hostsUp ?? 0,
    open_ports: row?.openPorts ?? 0,
  };
}

function hostView(host: Host, ports: Port[]) {
  return {
    address: host.address,
    address_type: host.addressType,
    hostnames: host.hostnames,
    state: host.state,
    reason: host.reason,
    mac: host.mac,
    os: host.os,
    ports: ports.map(portView),
  };
}

function portView(port: Port) {
  return {
    protocol: port.protocol,
    port: port.port,
    state: port.state,
    reason: port.reason,
    service: {
      name: port.serviceName,
      product: port.product,
      version: port.version,
      extrainfo: port.extrainfo,
      cpe: port.cpe,
    },
  };
}
