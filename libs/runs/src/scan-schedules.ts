// Recurring scans: each active, scheduled scan has one BullMQ job scheduler (`scan-<id>` on SCHEDULE_QUEUE)
// whose fires become runs through RunService, one run of a scan at a time, one run per fire.
import { EntityManager } from '@mikro-orm/core';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@nso/config';
import { FIRE_SCHEDULE_JOB, SCHEDULE_QUEUE } from '@nso/contracts';
import { JobSchedulers, ScheduleRepeat, upcomingFires } from '@nso/events';
import { NmapPolicyError, ScopeError, TargetError } from '@nso/nmap';
import { DuplicateFireError, type FireInput, Scan, ScheduleFireRepository } from '@nso/persistence';
import { NoCoveringClientError, RunActiveError } from './run.errors';
import { RunService } from './run.service';

/** The schedule fields of a scan definition. */
export type ScheduleFields = Pick<
  Scan,
  'id' | 'isActive' | 'isScheduled' | 'intervalMinutes' | 'cron' | 'timezone'
>;

/** What became of one fire. */
export type FireResult =
  | { outcome: 'started'; resultId: number }
  | { outcome: 'skipped'; reason: string }
  | { outcome: 'duplicate' };

export const scheduleId = (scanId: number): string => `scan-${scanId}`;

@Injectable()
export class ScanSchedules {
  private readonly logger = new Logger(ScanSchedules.name);

  constructor(
    private readonly em: EntityManager,
    private readonly schedulers: JobSchedulers,
    private readonly runs: RunService,
    private readonly fires: ScheduleFireRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * When the scan fires, or null when it does not (inactive, unscheduled, or neither interval nor calendar):
   * `interval_minutes` × one minute (SCHEDULE_MINUTE_MS, 60 s outside tests), or its cron in its time zone.
   */
  repeatOf(scan: ScheduleFields): ScheduleRepeat | null {
    if (!scan.isActive || !scan.isScheduled) return null;
    if (scan.cron) return { pattern: scan.cron, tz: scan.timezone ?? 'UTC' };
    if (scan.intervalMinutes) return { every: scan.intervalMinutes * this.config.scheduleMinuteMs };
    return null;
  }

  /**
   * The first `count` fires of a schedule with these settings put at `from` (ms since the epoch), as apply()
   * would put it: repeatOf's interval or cron, computed like BullMQ does (upcomingFires). An interval schedule
   * fires at once, then every interval; [] when neither interval nor cron is set. The settings are not checked
   * here (a malformed cron throws cron-parser's error): the caller validates them as a definition's.
   */
  upcoming(
    fields: Pick<ScheduleFields, 'intervalMinutes' | 'cron' | 'timezone'>,
    count: number,
    from: number,
  ): Date[] {
    const repeat = this.repeatOf({ id: 0, isActive: true, isScheduled: true, ...fields });
    return repeat ? upcomingFires(repeat, count, from).map((ms) => new Date(ms)) : [];
  }

  /**
   * Makes BullMQ match the definition: puts the scan's job scheduler when it should fire and has none or one with
   * other settings (a new or re-activated interval schedule fires at once, then every interval), leaves a
   * matching one alone (editing the name must not fire the scan), removes it at once when the scan should not
   * fire, and stores next_run. Returns next_run.
   */
  async apply(scan: ScheduleFields): Promise<Date | null> {
    const repeat = this.repeatOf(scan);
    const id = scheduleId(scan.id);
    if (repeat) {
      await this.schedulers.ensure(SCHEDULE_QUEUE, id, repeat, {
        name: FIRE_SCHEDULE_JOB,
        data: { scanId: scan.id },
      });
    } else {
      await this.schedulers.remove(SCHEDULE_QUEUE, id);
    }
    const state = repeat ? await this.schedulers.get(SCHEDULE_QUEUE, id) : undefined;
    const next = state?.next ? new Date(state.next) : null;
    await this.em.fork().nativeUpdate(Scan, { id: scan.id }, { nextRun: next });
    return next;
  }

  /**
   * Puts back the scheduler of every active, scheduled scan that lacks one (a Redis that restarted empty lost
   * them); leaves the others alone, so no fire is added or moved. Returns how many it put back.
   */
  async ensureAll(): Promise<number> {
    const scans = await this.em.fork().find(Scan, { isActive: true, isScheduled: true });
    let restored = 0;
    for (const scan of scans) {
      const repeat = this.repeatOf(scan);
      if (!repeat) continue;
      const job = { name: FIRE_SCHEDULE_JOB, data: { scanId: scan.id } } as const;
      if (await this.schedulers.ensure(SCHEDULE_QUEUE, scheduleId(scan.id), repeat, job)) restored++;
    }
    return restored;
  }

  /**
   * One fire of the scan's schedule (a job of its scheduler; `fire.key` is the job's id). Starts a run unless
   * the scan is no longer active and scheduled, its previous run is still running, or its definition no longer
   * passes the policy and scope — those fires are recorded as skipped, with the reason. A fire delivered again
   * starts nothing. Other errors (Redis, database) propagate, so BullMQ retries the fire.
   */
  async fire(scanId: number, fire: FireInput): Promise<FireResult> {
    const em = this.em.fork();
    const scan = await em.findOne(Scan, scanId);
    if (!scan) return { outcome: 'skipped', reason: 'the scan no longer exists' };
    let result: FireResult;
    if (!this.repeatOf(scan)) {
      result = await this.skip(scanId, fire, 'the scan is not active and scheduled');
    } else {
      try {
        const run = await this.runs.start({ scanId, trigger: 'schedule', fire });
        result = { outcome: 'started', resultId: run.resultId };
      } catch (error) {
        if (error instanceof DuplicateFireError) return { outcome: 'duplicate' };
        if (error instanceof RunActiveError) {
          result = await this.skip(scanId, fire, `the previous run (${error.resultId}) is still running`);
        } else if (
          error instanceof NmapPolicyError ||
          error instanceof TargetError ||
          error instanceof ScopeError ||
          error instanceof NoCoveringClientError
        ) {
          result = await this.skip(scanId, fire, error.message);
        } else {
          throw error;
        }
      }
    }
    const state = await this.schedulers.get(SCHEDULE_QUEUE, scheduleId(scanId));
    await em.nativeUpdate(Scan, { id: scanId }, { nextRun: state?.next ? new Date(state.next) : null });
    return result;
  }

  private async skip(scanId: number, fire: FireInput, reason: string): Promise<FireResult> {
    this.logger.log(`schedule of scan ${scanId}: fire ${fire.key} skipped: ${reason}`);
    await this.fires.recordSkipped({ scanId, ...fire, reason });
    return { outcome: 'skipped', reason };
  }
}
