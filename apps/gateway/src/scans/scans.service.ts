import { ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import { RunQueries, ScanRepository, type Scan, type ScanResult } from '@nso/persistence';
import { RunService, RunStateStore } from '@nso/runs';
import { ProjectsService } from '../projects/projects.service';
import { runSummary } from '../results/run-summary';
import { scanView } from './scan-view';
import { ScopeError } from '@nso/nmap';
import { SCAN_DEFAULTS, ScanStartedDto, ScanStoppingDto, StartPreviewDto, StartScanDto } from './scans.dto';

/**
 * Seed 000's scans: start a one-off scan (or preview the start), stop it, describe it; and the owner check and
 * run progress the other scan endpoints share. Rows are read through ScanRepository and RunQueries; runs are
 * RunService's.
 */
@Injectable()
export class ScansService {
  constructor(
    private readonly projects: ProjectsService,
    private readonly runs: RunService,
    private readonly state: RunStateStore,
    private readonly scans: ScanRepository,
    private readonly runRows: RunQueries,
  ) {}

  /**
   * POST /api/scans/start: the request becomes a one-off scan and its first run (RunService validates, stores
   * and enqueues), answered at once. Fields left out take SCAN_DEFAULTS.
   */
  async start(ownerId: number, input: StartScanDto): Promise<ScanStartedDto> {
    const projectId = input.project_id
      ? (await this.projects.findOwned(ownerId, input.project_id)).id
      : await this.projects.defaultIdFor(ownerId);
    const { scanId, unassignedTargets } = await this.runs.startOneOff({
      ownerId,
      projectId,
      name: `Scan of ${input.targets.join(', ')}`.slice(0, 200),
      targets: input.targets,
      nmapFlags: input.nmap_flags ?? [...SCAN_DEFAULTS.nmapFlags],
      runner: input.runner ?? SCAN_DEFAULTS.runner,
      chunkSize: input.chunk_size ?? SCAN_DEFAULTS.chunkSize,
      concurrency: input.concurrency ?? SCAN_DEFAULTS.concurrency,
    });
    // Seed 000's body, with unassigned_targets only when there are some (docs/clients.md, delegation).
    const unassigned = unassignedTargets.length > 0 ? { unassigned_targets: unassignedTargets } : {};
    return { scan_id: scanId, status: 'started', ...unassigned };
  }

  /**
   * POST /api/scans/start/preview: what POST /api/scans/start would do with this body, with nothing stored,
   * enqueued or published (RunService.preview). A refused option, a malformed target or an unknown project_id
   * answer as the start would; targets outside the scope and addresses no client covers are listed, and
   * `refusal` holds the 400 or 409 the start would answer for them.
   */
  async preview(ownerId: number, input: StartScanDto): Promise<StartPreviewDto> {
    if (input.project_id) await this.projects.findOwned(ownerId, input.project_id);
    const chunkSize = input.chunk_size ?? SCAN_DEFAULTS.chunkSize;
    const plan = await this.runs.preview({
      targets: input.targets,
      nmapFlags: input.nmap_flags ?? [...SCAN_DEFAULTS.nmapFlags],
      runner: input.runner ?? SCAN_DEFAULTS.runner,
      chunkSize,
      concurrency: input.concurrency ?? SCAN_DEFAULTS.concurrency,
    });
    const refusal = plan.refusal
      ? plan.refusal instanceof ScopeError
        ? { status: 400 as const, error: plan.refusal.message, out_of_scope: plan.refusal.outOfScope }
        : { status: 409 as const, error: plan.refusal.message, unassigned_targets: plan.refusal.targets }
      : null;
    return {
      status: 'success',
      dry_run: true,
      would_start: refusal === null,
      refusal,
      nmap_flags: plan.nmapFlags,
      resolved_names: plan.resolvedNames,
      addresses: plan.addresses,
      targets_total: plan.targetsTotal,
      batches_total: plan.batchesTotal,
      chunk_size: chunkSize,
      concurrency: input.concurrency ?? SCAN_DEFAULTS.concurrency,
      delegation: plan.delegation.map((part) => ({
        clients: part.clients,
        agents: part.agents,
        target_ranges: part.cidrs,
        targets: part.targets,
        batches: part.batches,
        chunk_size: part.chunkSize,
      })),
      clients_triggered: plan.clientsTriggered,
      unassigned_targets: plan.unassignedTargets,
      out_of_scope: plan.outOfScope,
    };
  }

  /** Stops the scan's active run: no batch starts afterwards, running nmap processes end on every worker. */
  async stop(ownerId: number, scanId: number): Promise<ScanStoppingDto> {
    const scan = await this.findOwned(ownerId, scanId);
    const stopped = await this.runs.stop(scan.id);
    if (stopped.length === 0) {
      const latest = await this.runRows.latestRun(scan.id);
      throw new ConflictException({
        error: `Scan ${scanId} is not running`,
        scan_status: latest?.status ?? 'idle',
      });
    }
    return { scan_id: scan.id, status: 'stopping' };
  }

  /**
   * `GET /api/scans/{id}`: the definition with its state (the latest run's status, `idle` before the first) and
   * progress, its 10 latest runs and fires, and statistics (total_results, success_rate in percent of finished
   * runs, last_success, last_failure, skipped_fires). 404 for another user's scan.
   */
  async describe(ownerId: number, scanId: number) {
    const scan = await this.findOwned(ownerId, scanId);
    const [[results, total], completed, failed, counts, fires, skippedFires] = await Promise.all([
      this.runRows.runsOfScan(scan.id, { limit: 10, offset: 0 }),
      this.runRows.latestRun(scan.id, 'completed'),
      this.runRows.latestRun(scan.id, 'failed'),
      this.runRows.runCounts([scan.id]),
      this.scans.recentFires(scan.id, 10),
      this.scans.countSkippedFires(scan.id),
    ]);
    const { finished, completed: succeeded } = counts.get(scan.id) ?? { finished: 0, completed: 0 };
    const latest = results[0];
    return {
      status: 'success',
      scan: {
        ...scanView(scan),
        status: latest?.status ?? 'idle',
        progress: latest ? await this.progressOf(latest) : null,
        recent_results: results.map(runSummary),
        statistics: {
          total_results: total,
          success_rate: successRate(succeeded, finished),
          last_success: completed?.finishedAt ?? null,
          last_failure: failed?.finishedAt ?? null,
          skipped_fires: skippedFires,
        },
        recent_fires: fires.map((f) => ({
          due_at: f.dueAt,
          fired_at: f.firedAt,
          outcome: f.outcome,
          reason: f.reason,
          result_id: f.resultId,
        })),
      },
    };
  }

  /** The user's scan, or 404 `{"error": "Scan not found"}` (another user's scan is not found either). */
  async findOwned(ownerId: number, scanId: number): Promise<Scan> {
    const scan = await this.scans.findOwned(ownerId, scanId);
    if (!scan) throw new NotFoundException({ error: 'Scan not found' });
    return scan;
  }

  /**
   * How far a run is: batches done and failed of batches_total, in percent (100 for a run without batches).
   * A queued or running run's counts come from its live state in Redis, which moves before the database row.
   */
  async progressOf(result: ScanResult) {
    const live =
      result.status === 'running' || result.status === 'queued'
        ? await this.state.progress(result.id)
        : undefined;
    const done = live?.done ?? result.batchesDone;
    const failed = live?.failed ?? result.batchesFailed;
    const total = result.batchesTotal;
    return {
      percent: total ? Math.floor(((done + failed) * 100) / total) : 100,
      batches_done: done,
      batches_failed: failed,
      batches_total: total,
    };
  }
}

/** Completed runs in percent of finished (completed or failed) ones, to two decimals; null before any finished. */
export function successRate(completed: number, finished: number): number | null {
  return finished ? Math.round((completed / finished) * 10000) / 100 : null;
}
