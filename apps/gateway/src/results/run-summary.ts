// Seed 003's results summary of a run: the same object on `GET /api/results/{result_id}` and in the answer to an
// agent's results (`POST /api/clients/{id}/results`).
import { Injectable } from '@nestjs/common';
import { ApiProperty } from '@nestjs/swagger';
import { RunQueries, type RunSummaryRows, type ScanResult } from '@nso/persistence';

const AGENT_WORKER = 'agent:';

/** Seed 003's `summary`, over the run so far. */
export class RunResultsSummaryDto {
  @ApiProperty({ example: 254, description: 'Addresses the run delegated to clients' })
  total_targets!: number;
  @ApiProperty({ example: 254, description: 'Addresses of completed batches' }) completed_targets!: number;
  @ApiProperty({ example: 0, description: 'Addresses of failed batches' }) failed_targets!: number;
  @ApiProperty({ example: 156 }) total_open_ports!: number;
  @ApiProperty({ example: 3, description: 'Scanner clients whose batches completed' })
  contributing_clients!: number;
  @ApiProperty({ example: ['local', 'pdr-agent-1'], type: [String], description: 'Their client ids, sorted' })
  contributing_client_ids!: string[];
  @ApiProperty({ example: 12 }) hosts_up!: number;
}

/**
 * Reads run summaries. A completed batch counts for its client: an HTTP agent's batch (worker id `agent:<id>`)
 * for that agent; a worker's batch for the run's worker pool when the run was delegated to one pool, else for
 * the worker process (batch rows do not record which pool a moved batch went to).
 */
@Injectable()
export class RunSummaries {
  constructor(private readonly runRows: RunQueries) {}

  /** The summary of the run; NotFoundError (isNotFoundError) when it does not exist. */
  async of(resultId: number): Promise<RunResultsSummaryDto> {
    const { run, batches } = await this.runRows.summaryRows(resultId);
    return summarize(run, batches);
  }
}

/** The summary of `run` from its batch rows (pure; see RunSummaries). */
export function summarize(
  run: Pick<ScanResult, 'targetsTotal' | 'openPorts' | 'hostsUp' | 'delegation'>,
  batches: RunSummaryRows['batches'],
): RunResultsSummaryDto {
  const sum = (status: string) =>
    batches.filter((b) => b.status === status).reduce((n, b) => n + b.targetCount, 0);
  const agents = new Set(
    (run.delegation ?? []).flatMap((part) => (part as { agents?: string[] }).agents ?? []),
  );
  const pools = [
    ...new Set((run.delegation ?? []).flatMap((part) => part.clients).filter((id) => !agents.has(id))),
  ];
  const clients = new Set<string>();
  for (const batch of batches) {
    if (batch.status !== 'completed') continue;
    const worker = batch.workerId ?? '';
    if (worker.startsWith(AGENT_WORKER)) clients.add(worker.slice(AGENT_WORKER.length));
    else clients.add(pools.length === 1 ? pools[0] : worker);
  }
  return {
    total_targets: run.targetsTotal,
    completed_targets: sum('completed'),
    failed_targets: sum('failed'),
    total_open_ports: run.openPorts,
    contributing_clients: clients.size,
    contributing_client_ids: [...clients].sort(),
    hosts_up: run.hostsUp,
  };
}

/** A run as every list and detail shows it. */
export function runSummary(r: ScanResult) {
  return {
    result_id: r.id,
    scan_id: r.scan.id,
    status: r.status,
    trigger: r.trigger,
    runner: r.runner,
    targets: r.targets,
    nmap_flags: r.nmapFlags,
    targets_total: r.targetsTotal,
    unassigned_targets: r.unassignedTargets ?? [],
    batches_total: r.batchesTotal,
    batches_done: r.batchesDone,
    batches_failed: r.batchesFailed,
    hosts_up: r.hostsUp,
    open_ports: r.openPorts,
    error: r.error,
    created_at: r.createdAt,
    started_at: r.startedAt,
    finished_at: r.finishedAt,
    duration_seconds:
      r.startedAt && r.finishedAt ? (r.finishedAt.getTime() - r.startedAt.getTime()) / 1000 : null,
  };
}
