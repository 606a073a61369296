import { ConflictException, NotFoundException } from '@nestjs/common';
import type { RunQueries, ScanRepository } from '@nso/persistence';
import type { RunService, RunStateStore } from '@nso/runs';
import { ProjectsService } from '../projects/projects.service';
import { ScansService, successRate } from './scans.service';
import { FakeProjects, FakeRunQueries, FakeScanRepository } from './testing/scan-fakes';

const as = <T>(fake: unknown) => fake as T;

function newService() {
  const scans = new FakeScanRepository();
  const runRows = new FakeRunQueries(scans);
  const runs = {
    startOneOff: jest.fn(async () => ({ scanId: 5, resultId: 6, unassignedTargets: [] as string[] })),
    stop: jest.fn(async (): Promise<number[]> => []),
  };
  const progress = new Map<number, { done: number; failed: number }>();
  const service = new ScansService(
    as<ProjectsService>(new FakeProjects({ 1: [1, 2] })),
    as<RunService>(runs),
    as<RunStateStore>({ progress: async (resultId: number) => progress.get(resultId) }),
    as<ScanRepository>(scans),
    as<RunQueries>(runRows),
  );
  return { service, scans, runRows, runs, progress };
}

describe('ScansService', () => {
  describe('start', () => {
    it('starts a one-off scan with the defaults in the default project, naming it after its targets', async () => {
      const { service, runs } = newService();
      await expect(service.start(1, { targets: ['127.0.0.1', '::1'] })).resolves.toEqual({
        scan_id: 5,
        status: 'started',
      });
      expect(runs.startOneOff).toHaveBeenCalledWith({
        ownerId: 1,
        projectId: 1,
        name: 'Scan of 127.0.0.1, ::1',
        targets: ['127.0.0.1', '::1'],
        nmapFlags: ['-T4', '-Pn'],
        runner: 'asyncio',
        chunkSize: 256,
        concurrency: 6,
      });
    });

    it('lists unassigned_targets only when some address has no client', async () => {
      const { service, runs } = newService();
      runs.startOneOff.mockResolvedValueOnce({ scanId: 5, resultId: 6, unassignedTargets: ['127.0.0.9'] });
      await expect(service.start(1, { targets: ['127.0.0.9'], project_id: 2 })).resolves.toEqual({
        scan_id: 5,
        status: 'started',
        unassigned_targets: ['127.0.0.9'],
      });
    });

    it("answers 404 for another user's project and starts nothing", async () => {
      const { service, runs } = newService();
      await expect(service.start(1, { targets: ['127.0.0.1'], project_id: 9 })).rejects.toBeInstanceOf(
        NotFoundException,
      );
      expect(runs.startOneOff).not.toHaveBeenCalled();
    });
  });

  describe('stop', () => {
    it('answers stopping when a run was stopped', async () => {
      const { service, scans, runs } = newService();
      scans.seed();
      runs.stop.mockResolvedValueOnce([4]);
      await expect(service.stop(1, 1)).resolves.toEqual({ scan_id: 1, status: 'stopping' });
    });

    it("answers 409 with the latest run's status when nothing runs, idle before any run", async () => {
      const { service, scans, runRows } = newService();
      scans.seed();
      await expect(service.stop(1, 1)).rejects.toMatchObject({
        response: { error: 'Scan 1 is not running', scan_status: 'idle' },
      });
      runRows.addRun(1, { status: 'completed' });
      const error = await service.stop(1, 1).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConflictException);
      expect((error as ConflictException).getResponse()).toMatchObject({ scan_status: 'completed' });
    });

    it("answers 404 for another user's scan and stops nothing", async () => {
      const { service, scans, runs } = newService();
      scans.seed({ ownerId: 2 });
      await expect(service.stop(1, 1)).rejects.toMatchObject({ response: { error: 'Scan not found' } });
      expect(runs.stop).not.toHaveBeenCalled();
    });
  });

  describe('describe', () => {
    it('shows the state, progress, recent runs and fires, and the statistics', async () => {
      const { service, scans, runRows, progress } = newService();
      scans.seed({ isScheduled: true, intervalMinutes: 60 });
      const finishedAt = new Date('2026-12-02T10:00:00Z');
      runRows.addRun(1, { status: 'completed', finishedAt });
      runRows.addRun(1, { status: 'failed', finishedAt: new Date('2026-12-02T11:00:00Z') });
      runRows.addRun(1, { status: 'stopped' });
      const live = runRows.addRun(1, { status: 'running', batchesTotal: 3 });
      progress.set(live.id, { done: 1, failed: 1 });
      const due = new Date('2026-12-02T12:00:00Z');
      scans.fires.push(
        { scanId: 1, dueAt: due, firedAt: due, outcome: 'started', reason: null, resultId: live.id },
        { scanId: 1, dueAt: due, firedAt: due, outcome: 'skipped', reason: 'busy', resultId: null },
      );

      const { scan } = await service.describe(1, 1);
      expect(scan).toMatchObject({
        id: 1,
        status: 'running',
        progress: { percent: 66, batches_done: 1, batches_failed: 1, batches_total: 3 },
        statistics: {
          total_results: 4,
          success_rate: 50,
          last_success: finishedAt,
          last_failure: new Date('2026-12-02T11:00:00Z'),
          skipped_fires: 1,
        },
      });
      expect(scan.recent_results.map((r) => r.status)).toEqual(['running', 'stopped', 'failed', 'completed']);
      expect(scan.recent_fires).toEqual([
        { due_at: due, fired_at: due, outcome: 'skipped', reason: 'busy', result_id: null },
        { due_at: due, fired_at: due, outcome: 'started', reason: null, result_id: live.id },
      ]);
    });

    it('shows a scan that never ran as idle, without progress or rate', async () => {
      const { service, scans } = newService();
      scans.seed();
      const { scan } = await service.describe(1, 1);
      expect(scan).toMatchObject({
        status: 'idle',
        progress: null,
        recent_results: [],
        recent_fires: [],
        statistics: { total_results: 0, success_rate: null, last_success: null, last_failure: null },
      });
    });
  });

  describe('progressOf', () => {
    it("reads an active run's counts from its live state and an ended run's from its row", async () => {
      const { service, runRows, progress } = newService();
      const active = runRows.addRun(1, { status: 'running', batchesTotal: 4, batchesDone: 0 });
      progress.set(active.id, { done: 2, failed: 1 });
      await expect(service.progressOf(active)).resolves.toEqual({
        percent: 75,
        batches_done: 2,
        batches_failed: 1,
        batches_total: 4,
      });
      const ended = runRows.addRun(1, { status: 'completed', batchesTotal: 0 });
      await expect(service.progressOf(ended)).resolves.toMatchObject({ percent: 100 });
    });
  });

  it.each([
    [0, 0, null],
    [1, 3, 33.33],
    [2, 3, 66.67],
    [4, 4, 100],
  ])('successRate(%p of %p) is %p', (completed, finished, rate) => {
    expect(successRate(completed, finished)).toBe(rate);
  });
});
