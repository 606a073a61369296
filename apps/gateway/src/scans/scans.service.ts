import { EntityManager } from '@mikro-orm/core';
import { ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import { Scan, ScanResult, ScheduleFire } from '@nso/persistence';
import { RunService, RunStateStore } from '@nso/runs';
import { ProjectsService } from '../projects/projects.service';
import { runSummary } from '../results/results.service';
import { scanView } from './scan-view';
import { ScopeError } from '@nso/nmap';
import { SCAN_DEFAULTS, ScanStartedDto, ScanStoppingDto, StartPreviewDto, StartScanDto } from './scans.dto';

@Injectable()
export class ScansService {
  constructor(
    private readonly em: EntityManager,
    private readonly projects: ProjectsService,
    private readonly runs: RunService,
    private readonly state: RunStateStore,
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
      const latest = await this.em.fork().findOne(ScanResult, { scan: scan.id }, { orderBy: { id: 'desc' } });
      throw new ConflictException({
        error: `Scan ${scanId} is not running`,
        scan_status: latest?.status ?? 'idle',
      });
    }
    return { scan_id: scan.id, status: 'stopping' };
  }

  async describe(ownerId: number, scanId: number) {
    const scan = await this.findOwned(ownerId, scanId);
    const em = this.em.fork();
    const results = await em.find(ScanResult, { scan: scan.id }, { orderBy: { id: 'desc' }, limit: 10 });
    const [total, completed, failed] = await Promise.all([
      em.count(ScanResult, { scan: scan.id }),
      em.findOne(ScanResult, { scan: scan.id, status: 'completed' }, { orderBy: { id: 'desc' } }),
      em.findOne(ScanResult, { scan: scan.id, status: 'failed' }, { orderBy: { id: 'desc' } }),
    ]);
    const finished = await em.count(ScanResult, { scan: scan.id, status: { $in: ['completed', 'failed'] } });
    const succeeded = await em.count(ScanResult, { scan: scan.id, status: 'completed' });
    const latest = results[0];
    const fires = await em.find(ScheduleFire, { scan: scan.id }, { orderBy: { id: 'desc' }, limit: 10 });
    return {
      status: 'success',
      scan: {
        ...scanView(scan),
        status: latest?.status ?? 'idle',
        progress: latest ? await this.progressOf(latest) : null,
        recent_results: results.map(runSummary),
        statistics: {
          total_results: total,
          success_rate: finished ? Math.round((succeeded / finished) * 10000) / 100 : null,
          last_success: completed?.finishedAt ?? null,
          last_failure: failed?.finishedAt ?? null,
          skipped_fires: await em.count(ScheduleFire, { scan: scan.id, outcome: 'skipped' }),
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
  async findOwned(ownerId: number, scanId: number, em: EntityManager = this.em.fork()): Promise<Scan> {
    const scan = await em.findOne(Scan, { id: scanId, owner: ownerId });
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
