// The one owner of a run's lifecycle at its edges: start (a one-off scan, or a run of a stored scan definition
// by execute or schedule) and stop. Controllers and processors turn their input into these commands.
import { EntityManager } from '@mikro-orm/core';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { ControlMessage } from '@nso/contracts';
import { REDIS_CLIENT, REDIS_KEYS, RedisKeys, ScanEventPublisher } from '@nso/events';
import {
  definitionFlags,
  NmapArgumentPolicy,
  parseTargets,
  resolveTargets,
  ResolvedNames,
  ScanScope,
  TargetSet,
} from '@nso/nmap';
import {
  Batch,
  type FireInput,
  insertOneOffScan,
  insertRun,
  RunTrigger,
  Scan,
  ScanResult,
  type ScanRunner,
} from '@nso/persistence';
import Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import { BatchScheduler } from './batch-scheduler';
import { RunFinalizer } from './run-finalizer';
import { RunStateStore } from './run-state.store';
import { QueueUnavailableError, RunActiveError } from './run.errors';

/** How a run is cut and driven: seed 000's settings. */
export interface RunSettings {
  /** Target specs as the user gave them (addresses, ranges, CIDRs, host names). */
  targets: string[];
  /** nmap options, before the policy normalises them. */
  nmapFlags: string[];
  runner: ScanRunner;
  chunkSize: number;
  concurrency: number;
}

/** POST /api/scans/start: a scan that exists for this one run. */
export interface StartOneOffCommand extends RunSettings {
  ownerId: number;
  projectId: number;
  name: string;
}

/** A new run of a stored scan definition (`GET /api/scans/{id}/execute`, or a fire of its schedule). */
export interface StartRunCommand {
  scanId: number;
  trigger: Exclude<RunTrigger, 'api-start'>;
  /** The schedule fire behind a `schedule` run: recorded with the run, once (DuplicateFireError otherwise). */
  fire?: FireInput;
}

export interface StartedRun {
  scanId: number;
  resultId: number;
  targetsTotal: number;
  batchesTotal: number;
}

/** What validation of a run's settings yields: what the run stores and how its batches are cut. */
interface PreparedRun {
  flags: string[];
  resolvedNames: ResolvedNames;
  targetsTotal: number;
  batchesTotal: number;
}

const ACTIVE = ['queued', 'running'] as const;
/** Held while one process starts a run of a scan, so two starts cannot both find the scan idle. */
const START_LOCK_MS = 30_000;

@Injectable()
export class RunService {
  private readonly logger = new Logger(RunService.name);

  constructor(
    private readonly em: EntityManager,
    private readonly policy: NmapArgumentPolicy,
    private readonly scope: ScanScope,
    private readonly state: RunStateStore,
    private readonly batches: BatchScheduler,
    private readonly finalizer: RunFinalizer,
    private readonly events: ScanEventPublisher,
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    @Inject(REDIS_KEYS) private readonly keys: RedisKeys,
  ) {}

  /**
   * Validates the settings (policy, targets, scope; host names resolved here, once), stores the scan and its
   * queued run in one transaction, and enqueues the first window of batches. Throws NmapPolicyError,
   * TargetError or ScopeError (nothing stored), or QueueUnavailableError (the run is stored as failed).
   */
  async startOneOff(command: StartOneOffCommand): Promise<StartedRun> {
    const prepared = await this.prepare(command);
    const { scanId, resultId } = await insertOneOffScan(this.em, {
      ownerId: command.ownerId,
      projectId: command.projectId,
      name: command.name,
      targets: command.targets,
      resolvedNames: prepared.resolvedNames,
      nmapFlags: prepared.flags,
      runner: command.runner,
      chunkSize: command.chunkSize,
      concurrency: command.concurrency,
      targetsTotal: prepared.targetsTotal,
      batchesTotal: prepared.batchesTotal,
    });
    await this.enqueueFirstWindow({ scanId, resultId }, command, prepared);
    return { scanId, resultId, targetsTotal: prepared.targetsTotal, batchesTotal: prepared.batchesTotal };
  }

  /**
   * A new run of the stored scan `scanId` (its owner was checked by the caller). The definition's targets and
   * options are validated again (the scope or a name's address may have changed since it was saved). Throws
   * RunActiveError when the scan has a queued or running run, besides the errors of startOneOff.
   */
  async start(command: StartRunCommand): Promise<StartedRun> {
    const lock = this.keys.scanStartLock(command.scanId);
    const token = randomBytes(8).toString('hex');
    if ((await this.redis.set(lock, token, 'PX', START_LOCK_MS, 'NX')) !== 'OK') {
      const active = await this.activeRun(command.scanId);
      throw new RunActiveError(command.scanId, active?.id ?? 0);
    }
    try {
      const em = this.em.fork();
      const scan = await em.findOneOrFail(Scan, command.scanId);
      const active = await this.activeRun(scan.id);
      if (active) throw new RunActiveError(scan.id, active.id);
      const settings: RunSettings = {
        targets: scan.targets,
        nmapFlags: definitionFlags(scan.nmapFlags, scan.ports),
        runner: scan.runner,
        chunkSize: scan.chunkSize,
        concurrency: scan.concurrency,
      };
      const prepared = await this.prepare(settings);
      const resultId = await insertRun(this.em, {
        scanId: scan.id,
        trigger: command.trigger,
        targets: settings.targets,
        resolvedNames: prepared.resolvedNames,
        nmapFlags: prepared.flags,
        runner: settings.runner,
        chunkSize: settings.chunkSize,
        concurrency: settings.concurrency,
        targetsTotal: prepared.targetsTotal,
        batchesTotal: prepared.batchesTotal,
        fire: command.fire,
      });
      await this.enqueueFirstWindow({ scanId: scan.id, resultId }, settings, prepared);
      return {
        scanId: scan.id,
        resultId,
        targetsTotal: prepared.targetsTotal,
        batchesTotal: prepared.batchesTotal,
      };
    } finally {
      await this.redis
        .eval(
          "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end",
          1,
          lock,
          token,
        )
        .catch(() => undefined);
    }
  }

  /**
   * Stops every queued or running run of the scan: no batch starts afterwards, queued batches are withdrawn,
   * running nmap processes end on every worker, each run ends `stopped` with `scan_stopped`. Returns the ids of
   * the runs it stopped (none: the scan was not running).
   */
  async stop(scanId: number): Promise<number[]> {
    const em = this.em.fork();
    const active = await em.find(ScanResult, { scan: scanId, status: { $in: [...ACTIVE] } });
    for (const result of active) {
      const inflight = await this.state.stop(result.id);
      await this.batches.withdraw(result.id, inflight);
      const message: ControlMessage = { type: 'stop', scanId, resultId: result.id };
      await this.redis.publish(this.keys.controlChannel, JSON.stringify(message));
      await em.nativeUpdate(
        Batch,
        { result: result.id, status: { $in: ['pending', 'running'] } },
        { status: 'stopped', finishedAt: new Date() },
      );
      await this.finalizer.stop(scanId, result.id);
    }
    return active.map((r) => r.id);
  }

  /** The scan's queued or running run, if any. */
  activeRun(scanId: number): Promise<ScanResult | null> {
    return this.em.fork().findOne(ScanResult, { scan: scanId, status: { $in: [...ACTIVE] } });
  }

  private async prepare(settings: RunSettings): Promise<PreparedRun> {
    const flags = this.policy.validate(settings.nmapFlags);
    const specs = parseTargets(settings.targets);
    const resolvedNames = await resolveTargets(specs, flags, this.scope);
    // Each address once: overlapping targets and names resolving to listed addresses are merged.
    const targetsTotal = TargetSet.build(specs, flags, resolvedNames).count;
    return { flags, resolvedNames, targetsTotal, batchesTotal: Math.ceil(targetsTotal / settings.chunkSize) };
  }

  private async enqueueFirstWindow(
    ref: { scanId: number; resultId: number },
    settings: RunSettings,
    prepared: PreparedRun,
  ): Promise<void> {
    try {
      await this.events.ensureCounter(ref.scanId);
      const plan = {
        ...ref,
        targets: settings.targets,
        resolvedNames: prepared.resolvedNames,
        chunkSize: settings.chunkSize,
        nmapFlags: prepared.flags,
      };
      await this.batches.enqueue(
        plan,
        await this.state.start(ref.resultId, prepared.batchesTotal, settings.concurrency),
      );
    } catch (error) {
      // Nothing half-done stays behind as "queued": the run is marked failed and the caller told to retry.
      this.logger.error(
        `could not enqueue run ${ref.resultId} of scan ${ref.scanId}: ${(error as Error).message}`,
      );
      await this.em
        .fork()
        .nativeUpdate(ScanResult, { id: ref.resultId }, { status: 'failed', error: 'could not enqueue' });
      throw new QueueUnavailableError(error);
    }
  }
}
