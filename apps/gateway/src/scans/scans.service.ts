import { EntityManager } from '@mikro-orm/core';
import {
  ConflictException,
  Inject,
  Injectable,
  Logger,
  NotFoundException,
  ServiceUnavailableException,
} from '@nestjs/common';
import { ControlMessage } from '@nso/contracts';
import { REDIS_CLIENT, REDIS_KEYS, RedisKeys } from '@nso/events';
import { NmapArgumentPolicy, parseTargets, resolveTargets, ScanScope, TargetSet } from '@nso/nmap';
import { Batch, insertOneOffScan, Scan, ScanResult } from '@nso/persistence';
import { BatchScheduler, RunFinalizer, RunStateStore } from '@nso/runs';
import Redis from 'ioredis';
import { ProjectsService } from '../projects/projects.service';
import { SCAN_DEFAULTS, ScanStartedDto, ScanStoppingDto, StartScanDto } from './scans.dto';

@Injectable()
export class ScansService {
  private readonly logger = new Logger(ScansService.name);

  constructor(
    private readonly em: EntityManager,
    private readonly projects: ProjectsService,
    private readonly policy: NmapArgumentPolicy,
    private readonly scope: ScanScope,
    private readonly state: RunStateStore,
    private readonly scheduler: BatchScheduler,
    private readonly finalizer: RunFinalizer,
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    @Inject(REDIS_KEYS) private readonly keys: RedisKeys,
  ) {}

  /**
   * Validates everything, stores the scan and its first run, enqueues the first window, and answers at once.
   * Host names are resolved here, once: their addresses are scope-checked, stored with the run, and are what
   * the batches hand nmap. Fields left out take SCAN_DEFAULTS.
   */
  async start(ownerId: number, input: StartScanDto): Promise<ScanStartedDto> {
    const projectId = input.project_id
      ? (await this.projects.findOwned(ownerId, input.project_id)).id
      : await this.projects.defaultIdFor(ownerId);
    const flags = this.policy.validate(input.nmap_flags ?? [...SCAN_DEFAULTS.nmapFlags]);
    const specs = parseTargets(input.targets);
    const resolvedNames = await resolveTargets(specs, flags, this.scope);
    const chunkSize = input.chunk_size ?? SCAN_DEFAULTS.chunkSize;
    const concurrency = input.concurrency ?? SCAN_DEFAULTS.concurrency;
    const runner = input.runner ?? SCAN_DEFAULTS.runner;
    // Each address once: overlapping targets and names resolving to listed addresses are merged.
    const targetsTotal = TargetSet.build(specs, flags, resolvedNames).count;
    const batchesTotal = Math.ceil(targetsTotal / chunkSize);

    const { scanId, resultId } = await insertOneOffScan(this.em, {
      ownerId,
      projectId,
      name: `Scan of ${input.targets.join(', ')}`.slice(0, 200),
      targets: input.targets,
      resolvedNames,
      nmapFlags: flags,
      runner,
      chunkSize,
      concurrency,
      targetsTotal,
      batchesTotal,
    });

    try {
      const plan = {
        scanId,
        resultId,
        targets: input.targets,
        resolvedNames,
        chunkSize,
        nmapFlags: flags,
      };
      await this.scheduler.enqueue(plan, await this.state.start(resultId, batchesTotal, concurrency));
    } catch (error) {
      // Nothing half-done stays behind as "queued": the run is marked failed and the client told to retry.
      this.logger.error(`could not enqueue scan ${scanId}: ${(error as Error).message}`);
      await this.em
        .fork()
        .nativeUpdate(ScanResult, { id: resultId }, { status: 'failed', error: 'could not enqueue' });
      throw new ServiceUnavailableException({ error: 'The queue is not available; try again' });
    }
    return { scan_id: scanId, status: 'started' };
  }

  /** Stops the scan's active run: no batch starts afterwards, running nmap processes end on every worker. */
  async stop(ownerId: number, scanId: number): Promise<ScanStoppingDto> {
    const scan = await this.findOwned(ownerId, scanId);
    const em = this.em.fork();
    const active = await em.find(ScanResult, { scan: scan.id, status: { $in: ['queued', 'running'] } });
    if (active.length === 0) {
      const latest = await em.findOne(ScanResult, { scan: scan.id }, { orderBy: { id: 'desc' } });
      throw new ConflictException({
        error: `Scan ${scanId} is not running`,
        scan_status: latest?.status ?? 'idle',
      });
    }
    for (const result of active) {
      const inflight = await this.state.stop(result.id);
      await this.scheduler.withdraw(result.id, inflight);
      const message: ControlMessage = { type: 'stop', scanId: scan.id, resultId: result.id };
      await this.redis.publish(this.keys.controlChannel, JSON.stringify(message));
      await em.nativeUpdate(
        Batch,
        { result: result.id, status: { $in: ['pending', 'running'] } },
        { status: 'stopped', finishedAt: new Date() },
      );
      await this.finalizer.stop(scan.id, result.id);
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
    return {
      status: 'success',
      scan: {
        id: scan.id,
        project_id: scan.project.id,
        name: scan.name,
        description: scan.description ?? null,
        target: scan.targets.join(','),
        targets: scan.targets,
        ports: scan.ports ?? null,
        scan_arguments: scan.nmapFlags.join(' '),
        nmap_flags: scan.nmapFlags,
        runner: scan.runner,
        chunk_size: scan.chunkSize,
        concurrency: scan.concurrency,
        interval_minutes: scan.intervalMinutes ?? null,
        is_active: scan.isActive,
        is_scheduled: scan.isScheduled,
        last_run: scan.lastRun ?? null,
        next_run: scan.nextRun ?? null,
        created_at: scan.createdAt,
        updated_at: scan.updatedAt,
        status: latest?.status ?? 'idle',
        progress: latest ? await this.progressOf(latest) : null,
        recent_results: results.map((r) => this.resultSummary(r)),
        statistics: {
          total_results: total,
          success_rate: finished ? Math.round((succeeded / finished) * 10000) / 100 : null,
          last_success: completed?.finishedAt ?? null,
          last_failure: failed?.finishedAt ?? null,
        },
      },
    };
  }

  async findOwned(ownerId: number, scanId: number): Promise<Scan> {
    const scan = await this.em.fork().findOne(Scan, { id: scanId, owner: ownerId });
    if (!scan) throw new NotFoundException({ error: 'Scan not found' });
    return scan;
  }

  private async progressOf(result: ScanResult) {
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

  private resultSummary(r: ScanResult) {
    return {
      result_id: r.id,
      status: r.status,
      runner: r.runner,
      targets_total: r.targetsTotal,
      batches_total: r.batchesTotal,
      batches_done: r.batchesDone,
      batches_failed: r.batchesFailed,
      hosts_up: r.hostsUp,
      open_ports: r.openPorts,
      error: r.error,
      created_at: r.createdAt,
      started_at: r.startedAt,
      finished_at: r.finishedAt,
    };
  }
}
