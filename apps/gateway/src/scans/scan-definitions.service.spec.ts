import { BadRequestException, ConflictException, NotFoundException } from '@nestjs/common';
import { NmapArgumentPolicy, NmapPolicyError, ScanScope, ScopeError } from '@nso/nmap';
import type { RunQueries, ScanRepository } from '@nso/persistence';
import type { RunService, RunStateStore, ScanSchedules } from '@nso/runs';
import { ProjectsService } from '../projects/projects.service';
import { CreateScanDto, UpdateScanDto } from './scan-definitions.dto';
import { ScanDefinitionsService } from './scan-definitions.service';
import { ScansService } from './scans.service';
import { FakeProjects, FakeRunQueries, FakeScanRepository, FakeSchedules } from './testing/scan-fakes';

const as = <T>(fake: unknown) => fake as T;

function newService() {
  const scans = new FakeScanRepository();
  const runRows = new FakeRunQueries(scans);
  const projects = new FakeProjects({ 1: [1, 2], 2: [3] });
  const schedules = new FakeSchedules();
  const runs = {
    start: jest.fn(async () => ({ resultId: 41, clientsTriggered: 2, unassignedTargets: ['127.0.0.9'] })),
    stop: jest.fn(async () => []),
  };
  const progress = new Map<number, { done: number; failed: number }>();
  const state = { progress: async (resultId: number) => progress.get(resultId) };
  const scansService = new ScansService(
    as<ProjectsService>(projects),
    as<RunService>(runs),
    as<RunStateStore>(state),
    as<ScanRepository>(scans),
    as<RunQueries>(runRows),
  );
  const service = new ScanDefinitionsService(
    as<ProjectsService>(projects),
    scansService,
    new NmapArgumentPolicy(),
    new ScanScope(['127.0.0.0/8', '::1/128'], []),
    as<RunService>(runs),
    as<ScanSchedules>(schedules),
    as<ScanRepository>(scans),
    as<RunQueries>(runRows),
  );
  return { service, scans, runRows, schedules, runs, progress };
}

const definition = (fields: Partial<CreateScanDto> = {}): CreateScanDto =>
  ({ name: 'Lab listeners', target: '127.0.0.0/28, 127.0.1.1', ...fields }) as CreateScanDto;

describe('ScanDefinitionsService', () => {
  describe('create', () => {
    it('stores the definition with the run defaults in the default project and answers with its view', async () => {
      const { service, scans, schedules } = newService();
      const body = await service.create(1, definition({ ports: '22,80' }));
      expect(body).toMatchObject({
        status: 'success',
        message: 'Scan created successfully',
        scan: {
          id: 1,
          project_id: 1,
          name: 'Lab listeners',
          target: '127.0.0.0/28, 127.0.1.1',
          targets: ['127.0.0.0/28', '127.0.1.1'],
          ports: '22,80',
          scan_arguments: '-T4 -Pn',
          runner: 'asyncio',
          chunk_size: 256,
          concurrency: 6,
          is_active: true,
          is_scheduled: false,
          result_count: 0,
          success_rate: null,
        },
      });
      expect(scans.rows).toHaveLength(1);
      expect(scans.rows[0].owner.id).toBe(1);
      // Scheduled or not, the scheduler is made to match the row, under the scan's lock.
      expect(schedules.locked).toEqual([1]);
      expect(schedules.applied).toEqual([
        { id: 1, isActive: true, isScheduled: false, intervalMinutes: null, cron: null, timezone: null },
      ]);
    });

    it('splits scan_arguments as a shell would and stores a scheduled scan in the project asked for', async () => {
      const { service, scans, schedules } = newService();
      await service.create(
        1,
        definition({ scan_arguments: '-sT  -T4', project_id: 2, is_scheduled: true, interval_minutes: 60 }),
      );
      expect(scans.rows[0]).toMatchObject({
        nmapFlags: ['-sT', '-T4'],
        isScheduled: true,
        intervalMinutes: 60,
      });
      expect(scans.rows[0].project.id).toBe(2);
      expect(schedules.applied[0]).toMatchObject({ isScheduled: true, intervalMinutes: 60 });
    });

    it.each([
      ['a target outside the scope', definition({ target: '10.0.0.1' }), ScopeError],
      ['a refused nmap option', definition({ scan_arguments: '-oN /tmp/x' }), NmapPolicyError],
      ['a malformed port list', definition({ ports: '22;rm' }), BadRequestException],
      ['a schedule without interval or cron', definition({ is_scheduled: true }), BadRequestException],
      [
        'both interval_minutes and cron',
        definition({ interval_minutes: 5, cron: '0 * * * *' }),
        BadRequestException,
      ],
    ])('refuses %s and stores nothing', async (_, input, error) => {
      const { service, scans, schedules } = newService();
      await expect(service.create(1, input)).rejects.toBeInstanceOf(error);
      expect(scans.rows).toEqual([]);
      expect(schedules.applied).toEqual([]);
    });

    it('names the ports field in the 400 of a bad port list', async () => {
      const { service } = newService();
      const error = await service.create(1, definition({ ports: '22;rm' })).catch((e: unknown) => e);
      expect((error as BadRequestException).getResponse()).toMatchObject({ field: 'ports' });
    });

    it("answers 404 for another user's project", async () => {
      const { service, scans } = newService();
      await expect(service.create(1, definition({ project_id: 3 }))).rejects.toBeInstanceOf(
        NotFoundException,
      );
      expect(scans.rows).toEqual([]);
    });
  });

  describe('update', () => {
    it('changes only the fields sent and follows with the schedule', async () => {
      const { service, scans, schedules } = newService();
      scans.seed({ name: 'old', ports: '22', isScheduled: true, intervalMinutes: 30 });
      const body = await service.update(1, 1, { name: 'new', concurrency: 2 } as UpdateScanDto);
      expect(body.scan).toMatchObject({
        name: 'new',
        concurrency: 2,
        ports: '22',
        interval_minutes: 30,
        is_scheduled: true,
      });
      expect(schedules.applied).toEqual([
        { id: 1, isActive: true, isScheduled: true, intervalMinutes: 30, cron: null, timezone: null },
      ]);
    });

    it('replaces an interval by a calendar (and back), and clears ports with an empty string', async () => {
      const { service, scans } = newService();
      scans.seed({ ports: '22', isScheduled: true, intervalMinutes: 30 });
      await service.update(1, 1, { cron: '0 6 * * 1', timezone: 'Europe/Paris', ports: '' } as UpdateScanDto);
      expect(scans.rows[0]).toMatchObject({
        cron: '0 6 * * 1',
        timezone: 'Europe/Paris',
        intervalMinutes: null,
        ports: null,
      });
      await service.update(1, 1, { interval_minutes: 15 } as UpdateScanDto);
      expect(scans.rows[0]).toMatchObject({ cron: null, intervalMinutes: 15 });
    });

    it('leaves the row as it was when the change does not pass the checks', async () => {
      const { service, scans, schedules } = newService();
      scans.seed({ name: 'kept' });
      await expect(
        service.update(1, 1, { name: 'lost', target: '192.0.2.1' } as UpdateScanDto),
      ).rejects.toBeInstanceOf(ScopeError);
      expect(scans.rows[0]).toMatchObject({ name: 'kept', targets: ['127.0.0.1'] });
      expect(schedules.applied).toEqual([]);
    });

    it("answers 404 for another user's scan and for another user's project", async () => {
      const { service, scans } = newService();
      scans.seed({ ownerId: 2, projectId: 3 });
      scans.seed();
      await expect(service.update(1, 1, { name: 'x' } as UpdateScanDto)).rejects.toMatchObject({
        response: { error: 'Scan not found' },
      });
      await expect(service.update(1, 2, { project_id: 3 } as UpdateScanDto)).rejects.toMatchObject({
        response: { error: 'Project not found' },
      });
      expect(scans.rows[1].project.id).toBe(1);
    });
  });

  describe('toggle and deactivate', () => {
    it('toggles active and inactive, and says which', async () => {
      const { service, scans, schedules } = newService();
      scans.seed({ isScheduled: true, intervalMinutes: 5 });
      await expect(service.toggle(1, 1)).resolves.toMatchObject({
        message: 'Scan deactivated',
        scan: { is_active: false },
      });
      await expect(service.toggle(1, 1)).resolves.toMatchObject({
        message: 'Scan activated',
        scan: { is_active: true },
      });
      expect(schedules.applied.map((s) => s.isActive)).toEqual([false, true]);
    });

    it('does not re-activate a definition that no longer passes the checks', async () => {
      const { service, scans } = newService();
      scans.seed({ isActive: false, targets: ['10.1.1.1'] });
      await expect(service.toggle(1, 1)).rejects.toBeInstanceOf(ScopeError);
      expect(scans.rows[0].isActive).toBe(false);
    });

    it('deactivates: inactive, unscheduled, unscheduled in BullMQ, and its run stopped', async () => {
      const { service, scans, schedules, runs } = newService();
      scans.seed({ isScheduled: true, intervalMinutes: 5 });
      await expect(service.deactivate(1, 1)).resolves.toEqual({
        status: 'success',
        message: 'Scan deactivated successfully',
      });
      expect(scans.rows[0]).toMatchObject({ isActive: false, isScheduled: false });
      expect(schedules.applied).toEqual([expect.objectContaining({ isActive: false, isScheduled: false })]);
      expect(runs.stop).toHaveBeenCalledWith(1);
    });

    it("answers 404 for another user's scan and changes nothing", async () => {
      const { service, scans, runs } = newService();
      scans.seed({ ownerId: 2, projectId: 3 });
      await expect(service.deactivate(1, 1)).rejects.toBeInstanceOf(NotFoundException);
      await expect(service.toggle(1, 1)).rejects.toBeInstanceOf(NotFoundException);
      expect(scans.rows[0].isActive).toBe(true);
      expect(runs.stop).not.toHaveBeenCalled();
    });
  });

  describe('execute', () => {
    it("starts a run and answers with seed 003's delegation counts", async () => {
      const { service, scans, runs } = newService();
      scans.seed();
      await expect(service.execute(1, 1)).resolves.toEqual({
        status: 'success',
        message: 'Scan delegated to 2 clients',
        result_id: 41,
        clients_triggered: 2,
        unassigned_targets: ['127.0.0.9'],
      });
      expect(runs.start).toHaveBeenCalledWith({ scanId: 1, trigger: 'execute' });
    });

    it('answers 409 for an inactive scan and starts nothing', async () => {
      const { service, scans, runs } = newService();
      scans.seed({ isActive: false });
      await expect(service.execute(1, 1)).rejects.toBeInstanceOf(ConflictException);
      expect(runs.start).not.toHaveBeenCalled();
    });
  });

  describe('list', () => {
    it('shows each scan with its run counts, success rate and latest run with progress', async () => {
      const { service, scans, runRows, progress } = newService();
      scans.seed({ name: 'never ran' });
      scans.seed({ name: 'ran' });
      scans.seed({ ownerId: 2, projectId: 3, name: 'not mine' });
      runRows.addRun(2, { status: 'completed', batchesTotal: 2, batchesDone: 2 });
      runRows.addRun(2, { status: 'failed', batchesTotal: 2, batchesFailed: 2 });
      runRows.addRun(2, { status: 'completed', batchesTotal: 2, batchesDone: 2 });
      const live = runRows.addRun(2, { status: 'running', batchesTotal: 4 });
      progress.set(live.id, { done: 1, failed: 0 });

      const body = await service.list(1, {});
      expect(body).toMatchObject({ status: 'success', total: 2 });
      expect(body.scans.map((s) => s.name)).toEqual(['ran', 'never ran']);
      expect(body.scans[0]).toMatchObject({
        result_count: 4,
        success_rate: 66.67,
        latest_run: {
          result_id: live.id,
          status: 'running',
          progress: { percent: 25, batches_done: 1, batches_failed: 0, batches_total: 4 },
        },
      });
      expect(body.scans[1]).toMatchObject({ result_count: 0, success_rate: null, latest_run: null });
    });
  });

  describe('previewSchedule', () => {
    it('answers 400 without interval_minutes or cron', () => {
      const { service } = newService();
      expect(() => service.previewSchedule({})).toThrow(BadRequestException);
    });
  });
});
