import { Logger } from '@nestjs/common';
import type { AppConfig } from '@nso/config';
import type { JobSchedulers, ScheduleRepeat, SchedulerState } from '@nso/events';
import { NmapPolicyError } from '@nso/nmap';
import { DuplicateFireError, type Scan, type ScanRepository } from '@nso/persistence';
import { RunActiveError } from './run.errors';
import type { RunService } from './run.service';
import type { RunStateStore } from './run-state.store';
import { ScanSchedules } from './scan-schedules';

const as = <T>(fake: unknown) => fake as T;
const MINUTE = 60_000;

/** BullMQ's job schedulers, by id: what each would fire next. */
class FakeSchedulers {
  states = new Map<string, SchedulerState & { startDate?: number }>();

  async ensure(
    _queue: string,
    id: string,
    repeat: ScheduleRepeat & { startDate?: number },
  ): Promise<boolean> {
    const every = 'every' in repeat ? repeat.every : null;
    const next = repeat.startDate ?? Date.now() + MINUTE;
    this.states.set(id, {
      next,
      every,
      pattern: 'pattern' in repeat ? repeat.pattern : null,
      tz: 'tz' in repeat ? (repeat.tz ?? null) : null,
      startDate: repeat.startDate,
    });
    return true;
  }

  async remove(_queue: string, id: string): Promise<boolean> {
    return this.states.delete(id);
  }

  async get(_queue: string, id: string): Promise<SchedulerState | undefined> {
    return this.states.get(id);
  }
}

/** The scan aggregate as ScanSchedules uses it. */
class FakeScans {
  rows = new Map<number, Partial<Scan> & { id: number }>();
  nextRuns = new Map<number, Date | null>();
  skipped: Array<{ scanId: number; key: string; reason: string }> = [];
  lastDue: Date | null = null;

  async find(scanId: number) {
    return (this.rows.get(scanId) as Scan | undefined) ?? null;
  }

  async scheduledIds(): Promise<number[]> {
    return [...this.rows.values()].filter((s) => s.isActive && s.isScheduled).map((s) => s.id);
  }

  async setNextRun(scanId: number, next: Date | null): Promise<void> {
    this.nextRuns.set(scanId, next);
  }

  async lastFireDueAt(): Promise<Date | null> {
    return this.lastDue;
  }

  async recordSkippedFire(input: { scanId: number; key: string; reason: string }): Promise<void> {
    this.skipped.push({ scanId: input.scanId, key: input.key, reason: input.reason });
  }
}

function newSchedules() {
  const schedulers = new FakeSchedulers();
  const scans = new FakeScans();
  const runs = { start: jest.fn(async (_command: unknown) => ({ resultId: 12 })) };
  const state = { lockScanSchedule: async () => async () => undefined };
  const schedules = new ScanSchedules(
    as<JobSchedulers>(schedulers),
    as<RunService>(runs),
    as<ScanRepository>(scans),
    as<RunStateStore>(state),
    as<AppConfig>({ scheduleMinuteMs: MINUTE }),
  );
  const scan = (fields: Partial<Scan> = {}) => {
    const row = {
      id: 1,
      isActive: true,
      isScheduled: true,
      intervalMinutes: 30,
      cron: null,
      timezone: null,
      ...fields,
    };
    scans.rows.set(row.id, row);
    return row as Scan;
  };
  return { schedules, schedulers, scans, runs, scan };
}

const fire = { key: 'repeat:scan-1:1800000', dueAt: new Date(1_800_000) };

describe('ScanSchedules', () => {
  beforeEach(() => jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined));
  afterEach(() => jest.restoreAllMocks());

  describe('fire', () => {
    it('starts a run of an active, scheduled scan and stores the next fire as next_run', async () => {
      const { schedules, schedulers, scans, runs, scan } = newSchedules();
      scan();
      schedulers.states.set('scan-1', { next: 3_600_000, every: 30 * MINUTE, pattern: null, tz: null });
      await expect(schedules.fire(1, fire)).resolves.toEqual({ outcome: 'started', resultId: 12 });
      expect(runs.start).toHaveBeenCalledWith({ scanId: 1, trigger: 'schedule', fire });
      expect(scans.nextRuns.get(1)).toEqual(new Date(3_600_000));
      expect(scans.skipped).toEqual([]);
    });

    it('skips a fire of a scan that is gone, starting nothing and recording nothing', async () => {
      const { schedules, scans, runs } = newSchedules();
      await expect(schedules.fire(1, fire)).resolves.toEqual({
        outcome: 'skipped',
        reason: 'the scan no longer exists',
      });
      expect(runs.start).not.toHaveBeenCalled();
      expect(scans.skipped).toEqual([]);
    });

    it('records a skipped fire of a scan that is no longer active and scheduled', async () => {
      const { schedules, scans, runs, scan } = newSchedules();
      scan({ isActive: false });
      await expect(schedules.fire(1, fire)).resolves.toEqual({
        outcome: 'skipped',
        reason: 'the scan is not active and scheduled',
      });
      expect(runs.start).not.toHaveBeenCalled();
      expect(scans.skipped).toEqual([
        { scanId: 1, key: fire.key, reason: 'the scan is not active and scheduled' },
      ]);
      expect(scans.nextRuns.get(1)).toBeNull();
    });

    it.each([
      [
        'its previous run is still running',
        new RunActiveError(1, 7),
        /^the previous run \(7\) is still running$/,
      ],
      [
        'its options are refused now',
        new NmapPolicyError('option --script is not allowed', '--script'),
        /--script/,
      ],
    ])('records a skipped fire when %s', async (_, error, reason) => {
      const { schedules, scans, runs, scan } = newSchedules();
      scan();
      runs.start.mockRejectedValueOnce(error);
      const result = await schedules.fire(1, fire);
      expect(result).toEqual({ outcome: 'skipped', reason: expect.stringMatching(reason) });
      expect(scans.skipped).toEqual([{ scanId: 1, key: fire.key, reason: expect.stringMatching(reason) }]);
    });

    it('starts nothing for a fire delivered again, and records nothing', async () => {
      const { schedules, scans, runs, scan } = newSchedules();
      scan();
      runs.start.mockRejectedValueOnce(new DuplicateFireError('handled before'));
      await expect(schedules.fire(1, fire)).resolves.toEqual({ outcome: 'duplicate' });
      expect(scans.skipped).toEqual([]);
    });

    it('lets other errors through, so BullMQ retries the fire', async () => {
      const { schedules, runs, scan } = newSchedules();
      scan();
      runs.start.mockRejectedValueOnce(new Error('database is down'));
      await expect(schedules.fire(1, fire)).rejects.toThrow('database is down');
    });
  });

  describe('apply', () => {
    it('puts an interval schedule due one interval after the last fire, and stores next_run', async () => {
      const { schedules, schedulers, scans, scan } = newSchedules();
      const last = Date.now() + 5 * MINUTE;
      scans.lastDue = new Date(last);
      const next = await schedules.apply(scan({ intervalMinutes: 30 }));
      expect(schedulers.states.get('scan-1')).toMatchObject({
        every: 30 * MINUTE,
        startDate: last + 30 * MINUTE,
      });
      expect(next).toEqual(new Date(last + 30 * MINUTE));
      expect(scans.nextRuns.get(1)).toEqual(next);
    });

    it('puts a calendar in its time zone (UTC by default)', async () => {
      const { schedules, schedulers, scan } = newSchedules();
      await schedules.apply(scan({ intervalMinutes: null, cron: '0 6 * * 1' }));
      expect(schedulers.states.get('scan-1')).toMatchObject({ pattern: '0 6 * * 1', tz: 'UTC' });
    });

    it('removes the schedule of a scan that should not fire, and clears next_run', async () => {
      const { schedules, schedulers, scans, scan } = newSchedules();
      schedulers.states.set('scan-1', { next: 1, every: MINUTE, pattern: null, tz: null });
      await expect(schedules.apply(scan({ isScheduled: false }))).resolves.toBeNull();
      expect(schedulers.states.has('scan-1')).toBe(false);
      expect(scans.nextRuns.get(1)).toBeNull();
    });
  });

  it('ensureAll puts back only the schedulers that are missing', async () => {
    const { schedules, schedulers, scan } = newSchedules();
    scan({ id: 1 });
    scan({ id: 2 });
    scan({ id: 3, isActive: false });
    schedulers.states.set('scan-1', { next: 1, every: 30 * MINUTE, pattern: null, tz: null });
    await expect(schedules.ensureAll()).resolves.toBe(1);
    expect([...schedulers.states.keys()].sort()).toEqual(['scan-1', 'scan-2']);
  });

  it('upcoming lists the fires of an interval from now, and of nothing none', () => {
    const { schedules } = newSchedules();
    expect(schedules.upcoming({ intervalMinutes: 10, cron: null, timezone: null }, 3, 0)).toEqual([
      new Date(0),
      new Date(10 * MINUTE),
      new Date(20 * MINUTE),
    ]);
    expect(schedules.upcoming({ intervalMinutes: null, cron: null, timezone: null }, 3, 0)).toEqual([]);
  });
});
