// Recurring scans: each active, scheduled scan has one BullMQ job scheduler (`scan-<id>` on SCHEDULE_QUEUE)
// whose fires become runs through RunService, one run of a scan at a time, one run per fire. Every change of a
// scan's schedule runs under one lock per scan (serialized), on every gateway and worker, so the database row and
// the scheduler agree after any interleaving of edits, toggles and deletes.
import { setTimeout as sleep } from 'node:timers/promises';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@nso/config';
import { FIRE_SCHEDULE_JOB, SCHEDULE_QUEUE } from '@nso/contracts';
import { JobSchedulers, ScheduleRepeat, upcomingFires } from '@nso/events';
import { NmapPolicyError, ScopeError, TargetError } from '@nso/nmap';
import { DuplicateFireError, type FireInput, type Scan, ScanRepository } from '@nso/persistence';
import { NoCoveringClientError, RunActiveError, ScheduleBusyError } from './run.errors';
import { RunService } from './run.service';
import { RunStateStore } from './run-state.store';

/** How long a schedule change waits for another one of the same scan before giving up (ScheduleBusyError). */
const SCHEDULE_LOCK_WAIT_MS = 20_000;

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

/** The id of the scan's BullMQ job scheduler on SCHEDULE_QUEUE. */
export const scheduleId = (scanId: number): string => `scan-${scanId}`;

/**
 * The schedules of scan definitions: keeps each scan's job scheduler in step with its row (apply, ensureAll),
 * turns a fire into a run or a skipped fire (fire), and previews fires (upcoming). Rows go through ScanRepository.
 */
@Injectable()
export class ScanSchedules {
  private readonly logger = new Logger(ScanSchedules.name);

  constructor(
    private readonly schedulers: JobSchedulers,
    private readonly runs: RunService,
    private readonly scans: ScanRepository,
    private readonly state: RunStateStore,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * Runs `change` (read the scan, change it, store it, apply its schedule) while holding the scan's schedule
   * lock in Redis, so changes of one scan from any number of gateway replicas happen one after another. Waits
   * for the lock (polling, up to 20 s: then ScheduleBusyError); the lock expires by itself should its holder die.
   */
  async serialized<T>(scanId: number, change: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + SCHEDULE_LOCK_WAIT_MS;
    let release = await this.state.lockScanSchedule(scanId);
    for (let wait = 5; !release; wait = Math.min(wait * 2, 100)) {
      if (Date.now() > deadline) throw new ScheduleBusyError(scanId);
      await sleep(wait + Math.random() * wait);
      release = await this.state.lockScanSchedule(scanId);
    }
    try {
      return await change();
    } finally {
      await release();
    }
  }

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
   * Makes BullMQ match the definition (call it inside serialized): puts the scan's job scheduler when it should
   * fire and has none or one with other settings, leaves a matching one alone (editing the name must not fire the
   * scan), removes it at once when the scan should not fire, and stores next_run. Returns next_run. An interval
   * schedule keeps its due time (firstIntervalFire): an edit never fires the scan at once.
   */
  async apply(scan: ScheduleFields): Promise<Date | null> {
    const found = this.repeatOf(scan);
    const id = scheduleId(scan.id);
    if (found) {
      const repeat =
        'every' in found
          ? { ...found, startDate: await this.firstIntervalFire(scan.id, found.every) }
          : found;
      await this.schedulers.ensure(SCHEDULE_QUEUE, id, repeat, {
        name: FIRE_SCHEDULE_JOB,
        data: { scanId: scan.id },
      });
    } else {
      await this.schedulers.remove(SCHEDULE_QUEUE, id);
    }
    const state = found ? await this.schedulers.get(SCHEDULE_QUEUE, id) : undefined;
    const next = state?.next ? new Date(state.next) : null;
    await this.scans.setNextRun(scan.id, next);
    return next;
  }

  /**
   * When a (re)written interval schedule first fires, in ms since the epoch: the scheduler's pending fire when it
   * has one (changing the interval keeps the due time); else one interval after the scan's last fire (a
   * re-activation keeps the time it would have fired), or now when that has passed or it never fired (a new
   * schedule fires at once, once).
   */
  private async firstIntervalFire(scanId: number, every: number): Promise<number> {
    const pending = (await this.schedulers.get(SCHEDULE_QUEUE, scheduleId(scanId)))?.next;
    if (pending) return pending;
    const last = await this.scans.lastFireDueAt(scanId);
    return Math.max(last ? last.getTime() + every : 0, Date.now());
  }

  /**
   * Puts back the scheduler of every active, scheduled scan that lacks one (a Redis that restarted empty lost
   * them); leaves the others alone, so no fire is added or moved. Returns how many it put back.
   */
  async ensureAll(): Promise<number> {
    let restored = 0;
    for (const id of await this.scans.scheduledIds()) {
      // Under the scan's lock, from the row as it is now: a deactivation in between is not undone.
      const put = await this.serialized(id, async () => {
        const scan = await this.scans.find(id);
        if (!scan || !this.repeatOf(scan)) return false;
        const had = await this.schedulers.get(SCHEDULE_QUEUE, scheduleId(id));
        await this.apply(scan);
        return !had;
      });
      if (put) restored++;
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
    const scan = await this.scans.find(scanId);
    if (!scan) return { outcome: 'skipped', reason: 'the scan no longer exists' };
    // BullMQ put the scheduler's next fire when this one became active: stored first, so next_run is never
    // older than the run this fire starts. Under the lock: an edit that removed the scheduler is not undone.
    await this.serialized(scanId, async () => {
      const state = await this.schedulers.get(SCHEDULE_QUEUE, scheduleId(scanId));
      await this.scans.setNextRun(scanId, state?.next ? new Date(state.next) : null);
    });
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
    return result;
  }

  private async skip(scanId: number, fire: FireInput, reason: string): Promise<FireResult> {
    this.logger.log(`schedule of scan ${scanId}: fire ${fire.key} skipped: ${reason}`);
    await this.scans.recordSkippedFire({ scanId, ...fire, reason });
    return { outcome: 'skipped', reason };
  }
}
