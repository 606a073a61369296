import { BadRequestException, ConflictException, Injectable } from '@nestjs/common';
import {
  definitionFlags,
  NmapArgumentPolicy,
  NmapPolicyError,
  parseTargets,
  resolveTargets,
  ScanScope,
  splitScanArguments,
  splitTargetList,
  TargetSet,
} from '@nso/nmap';
import {
  RunQueries,
  ScanRepository,
  type Scan,
  type ScanDefinitionFields,
  type ScanDefinitionPatch,
  type ScanResult,
} from '@nso/persistence';
import { parseExpectedPorts } from '@nso/delta';
import { RunService, ScanSchedules } from '@nso/runs';
import { pageFields, pageWindow } from '../common/pagination';
import { ProjectsService } from '../projects/projects.service';
import {
  CreateScanDto,
  ListScansQuery,
  SchedulePreviewDto,
  SchedulePreviewQuery,
  UpdateScanDto,
} from './scan-definitions.dto';
import { SCAN_DEFAULTS } from './scans.dto';
import { checkScheduleSettings } from './schedule-check';
import { scanView } from './scan-view';
import { ScansService, successRate } from './scans.service';

const SCANS_PER_PAGE = 50;

/**
 * Seed 003's scan management: definitions a user creates, edits, runs now or on a schedule, and deactivates.
 * Every definition is checked as a run of it would be (policy, targets, scope) before anything is stored.
 */
@Injectable()
export class ScanDefinitionsService {
  constructor(
    private readonly projects: ProjectsService,
    private readonly scans: ScansService,
    private readonly policy: NmapArgumentPolicy,
    private readonly scope: ScanScope,
    private readonly runs: RunService,
    private readonly schedules: ScanSchedules,
    private readonly scanRows: ScanRepository,
    private readonly runRows: RunQueries,
  ) {}

  /**
   * `GET /api/scans`: the user's scans, newest first, each with result_count, success_rate (percent) and
   * latest_run (`{result_id, status, progress, started_at, finished_at}`, null before the first run), filtered by
   * is_active, is_scheduled, project_id and the latest run's state (`status`).
   */
  async list(ownerId: number, query: ListScansQuery) {
    const window = pageWindow(query, SCANS_PER_PAGE);
    const [scans, total] = await this.scanRows.list({
      ownerId,
      isActive: query.is_active,
      isScheduled: query.is_scheduled,
      projectId: query.project_id,
      runState: query.status,
      limit: window.limit,
      offset: window.offset,
    });
    const ids = scans.map((s) => s.id);
    const [stats, latest] = await Promise.all([this.resultStats(ids), this.runRows.latestRuns(ids)]);
    const latestRuns = new Map(
      await Promise.all(
        [...latest].map(async ([scanId, run]) => [scanId, await this.latestRunView(run)] as const),
      ),
    );
    return {
      status: 'success',
      ...pageFields(total, window),
      scans: scans.map((scan) => ({
        ...scanView(scan),
        ...(stats.get(scan.id) ?? noResults),
        latest_run: latestRuns.get(scan.id) ?? null,
      })),
    };
  }

  private async latestRunView(run: ScanResult) {
    return {
      result_id: run.id,
      status: run.status,
      trigger: run.trigger,
      progress: await this.scans.progressOf(run),
      started_at: run.startedAt,
      finished_at: run.finishedAt,
    };
  }

  /**
   * `GET /api/schedule/preview`: the next `count` (default 5) fires of a schedule saved now, computed by the code
   * and cron library the schedulers use (ScanSchedules.upcoming), after the checks a saved definition passes.
   * 400 without cron or interval_minutes, or with both.
   */
  previewSchedule(query: SchedulePreviewQuery, now = Date.now()): SchedulePreviewDto {
    const schedule = {
      intervalMinutes: query.interval_minutes ?? null,
      cron: query.cron ?? null,
      timezone: query.timezone ?? null,
    };
    if (schedule.intervalMinutes === null && schedule.cron === null) {
      throw new BadRequestException({
        error: 'Missing required fields',
        missing_fields: ['interval_minutes'],
        details: ['a schedule preview needs interval_minutes (or cron)'],
      });
    }
    checkScheduleSettings(schedule);
    return {
      status: 'success',
      interval_minutes: schedule.intervalMinutes,
      cron: schedule.cron,
      timezone: schedule.cron === null ? null : (schedule.timezone ?? 'UTC'),
      next_runs: this.schedules.upcoming(schedule, query.count ?? 5, now).map((d) => d.toISOString()),
    };
  }

  /** `POST /api/scans`: validated as a run would be, stored, and scheduled when active and scheduled. */
  async create(ownerId: number, input: CreateScanDto) {
    const projectId = input.project_id
      ? (await this.projects.findOwned(ownerId, input.project_id)).id
      : await this.projects.defaultIdFor(ownerId);
    const definition: ScanDefinitionFields = {
      projectId,
      name: input.name,
      description: input.description ?? null,
      targets: splitTargetList(input.target),
      ports: input.ports || null,
      nmapFlags:
        input.scan_arguments !== undefined
          ? splitScanArguments(input.scan_arguments)
          : [...SCAN_DEFAULTS.nmapFlags],
      runner: input.runner ?? SCAN_DEFAULTS.runner,
      chunkSize: input.chunk_size ?? SCAN_DEFAULTS.chunkSize,
      concurrency: input.concurrency ?? SCAN_DEFAULTS.concurrency,
      intervalMinutes: input.interval_minutes ?? null,
      cron: input.cron ?? null,
      timezone: input.timezone ?? null,
      isActive: input.is_active ?? true,
      isScheduled: input.is_scheduled ?? false,
      verifyChanges: input.verify_changes ?? true,
      verifyDelaySeconds: input.verify_delay_seconds ?? 30,
      announceUnconfirmed: input.announce_unconfirmed ?? false,
      flapWindow: input.flap_window ?? 10,
      flapThreshold: input.flap_threshold ?? 3,
      expectedPorts: expectedPortsField(input.expected_ports),
    };
    await this.check(definition);
    const scan = await this.scanRows.create({ ownerId, ...definition });
    await this.schedules.serialized(scan.id, () => this.schedules.apply(scan));
    return { status: 'success', message: 'Scan created successfully', scan: await this.view(scan.id) };
  }

  /**
   * `PUT /api/scans/{id}`: partial — a field not sent keeps its value; the schedule follows at once, keeping its
   * due time (an edit never fires the scan). Read, change, store and schedule run under the scan's schedule lock.
   */
  async update(ownerId: number, scanId: number, input: UpdateScanDto) {
    await this.schedules.serialized(scanId, () => this.applyUpdate(ownerId, scanId, input));
    return { status: 'success', message: 'Scan updated successfully', scan: await this.view(scanId) };
  }

  private async applyUpdate(ownerId: number, scanId: number, input: UpdateScanDto): Promise<void> {
    refuseNulls(input);
    const scan = await this.scans.findOwned(ownerId, scanId);
    const patch: ScanDefinitionPatch = {};
    if (input.project_id !== undefined) {
      patch.projectId = (await this.projects.findOwned(ownerId, input.project_id)).id;
    }
    if (input.name !== undefined) patch.name = input.name;
    if (input.description !== undefined) patch.description = input.description;
    if (input.target !== undefined) patch.targets = splitTargetList(input.target);
    if (input.ports !== undefined) patch.ports = input.ports || null;
    if (input.scan_arguments !== undefined) patch.nmapFlags = splitScanArguments(input.scan_arguments);
    if (input.runner !== undefined) patch.runner = input.runner;
    if (input.chunk_size !== undefined) patch.chunkSize = input.chunk_size;
    if (input.concurrency !== undefined) patch.concurrency = input.concurrency;
    // One way to say when: a new interval replaces a calendar and the other way round.
    if (input.interval_minutes !== undefined) {
      patch.intervalMinutes = input.interval_minutes;
      if (input.interval_minutes !== null && input.cron === undefined) patch.cron = null;
    }
    if (input.cron !== undefined) {
      patch.cron = input.cron;
      if (input.cron !== null && input.interval_minutes === undefined) patch.intervalMinutes = null;
    }
    if (input.timezone !== undefined) patch.timezone = input.timezone;
    if (input.is_active !== undefined) patch.isActive = input.is_active;
    if (input.is_scheduled !== undefined) patch.isScheduled = input.is_scheduled;
    if (input.verify_changes !== undefined) patch.verifyChanges = input.verify_changes;
    if (input.verify_delay_seconds !== undefined) patch.verifyDelaySeconds = input.verify_delay_seconds;
    if (input.announce_unconfirmed !== undefined) patch.announceUnconfirmed = input.announce_unconfirmed;
    if (input.flap_window !== undefined) patch.flapWindow = input.flap_window;
    if (input.flap_threshold !== undefined) patch.flapThreshold = input.flap_threshold;
    if (input.expected_ports !== undefined) patch.expectedPorts = expectedPortsField(input.expected_ports);
    await this.check({ ...definitionOf(scan), ...patch });
    await this.schedules.apply(await this.scanRows.update(scanId, patch));
  }

  /**
   * `DELETE /api/scans/{id}`: the scan is deactivated, not erased — unscheduled at once, a running run stopped,
   * its runs and reports kept.
   */
  async deactivate(ownerId: number, scanId: number) {
    await this.schedules.serialized(scanId, async () => {
      await this.scans.findOwned(ownerId, scanId);
      await this.schedules.apply(await this.scanRows.update(scanId, { isActive: false, isScheduled: false }));
    });
    await this.runs.stop(scanId);
    return { status: 'success', message: 'Scan deactivated successfully' };
  }

  /**
   * `POST /api/scans/{id}/toggle`: active ↔ inactive; a scheduled scan's schedule follows at once (re-activated,
   * it fires when it would have, or at once when that has passed). Under the scan's schedule lock, so parallel
   * toggles each see the one before.
   */
  async toggle(ownerId: number, scanId: number) {
    const isActive = await this.schedules.serialized(scanId, async () => {
      const scan = await this.scans.findOwned(ownerId, scanId);
      const isActive = !scan.isActive;
      if (isActive) await this.check({ ...definitionOf(scan), isActive });
      await this.schedules.apply(await this.scanRows.update(scanId, { isActive }));
      return isActive;
    });
    return {
      status: 'success',
      message: isActive ? 'Scan activated' : 'Scan deactivated',
      scan: await this.view(scanId),
    };
  }

  /**
   * `GET /api/scans/{id}/execute`: a run now, delegated by scan_range to the approved, online clients (seed 003's
   * answer: how many clients got work, and the targets none covers). 409 when the scan is inactive or already
   * running, or when no client covers any target (NoCoveringClientError, nothing started).
   */
  async execute(ownerId: number, scanId: number) {
    const scan = await this.scans.findOwned(ownerId, scanId);
    if (!scan.isActive) {
      throw new ConflictException({
        error: `Scan ${scanId} is inactive; activate it first`,
        scan_id: scanId,
      });
    }
    const run = await this.runs.start({ scanId: scan.id, trigger: 'execute' });
    const n = run.clientsTriggered;
    return {
      status: 'success',
      message: `Scan delegated to ${n} client${n === 1 ? '' : 's'}`,
      result_id: run.resultId,
      clients_triggered: n,
      unassigned_targets: run.unassignedTargets,
    };
  }

  private async view(scanId: number) {
    const scan = await this.scanRows.findOrFail(scanId);
    const stats = await this.resultStats([scanId]);
    return { ...scanView(scan), ...(stats.get(scanId) ?? noResults) };
  }

  /**
   * Checks a definition as a run of it would be checked: nmap options (scan_arguments and ports together),
   * targets and scope (names resolved now; again at each run), and the schedule. Throws the 400 that names the
   * problem; nothing is stored then.
   */
  private async check(scan: ScanDefinitionFields): Promise<void> {
    if (scan.ports) checkPortsField(this.policy, scan.ports);
    const flags = this.policy.validate(definitionFlags(scan.nmapFlags, scan.ports));
    const specs = parseTargets(scan.targets);
    TargetSet.build(specs, flags, await resolveTargets(specs, flags, this.scope));
    checkScheduleSettings(scan);
    const flap = { window: scan.flapWindow ?? 10, threshold: scan.flapThreshold ?? 3 };
    if (flap.threshold >= flap.window) {
      throw new BadRequestException({
        error: `flap_threshold (${flap.threshold}) must be smaller than flap_window (${flap.window})`,
        field: 'flap_threshold',
        details: ['a port can change state at most flap_window - 1 times within flap_window runs'],
      });
    }
    if (scan.isScheduled && scan.isActive && scan.intervalMinutes === null && scan.cron === null) {
      throw new BadRequestException({
        error: 'Missing required fields',
        missing_fields: ['interval_minutes'],
        details: ['a scheduled scan needs interval_minutes (or cron)'],
      });
    }
  }

  /** result_count and success_rate (completed of finished runs, in percent) of each scan that has runs. */
  private async resultStats(scanIds: number[]) {
    const stats = new Map<number, { result_count: number; success_rate: number | null }>();
    for (const [scanId, counts] of await this.runRows.runCounts(scanIds)) {
      stats.set(scanId, {
        result_count: counts.runs,
        success_rate: successRate(counts.completed, counts.finished),
      });
    }
    return stats;
  }
}

const noResults = { result_count: 0, success_rate: null };

/**
 * A definition's `ports` is nmap's `-p` value: refused by the field's name (as every other field's error is),
 * with nmap's reason from the argument policy. Throws the 400 `{error: "ports ...", field: "ports"}`.
 */
function checkPortsField(policy: NmapArgumentPolicy, ports: string): void {
  try {
    policy.validate(['-p', ports]);
  } catch (error) {
    if (!(error instanceof NmapPolicyError)) throw error;
    const reason = /: (must .*)$/.exec(error.message)?.[1] ?? 'is not an nmap port list';
    throw new BadRequestException({
      error: `ports ${JSON.stringify(ports)} is invalid: ${reason}`,
      field: 'ports',
      details: [`ports ${reason}`],
    });
  }
}

/**
 * A definition's `expected_ports` in normal form (@nso/delta parseExpectedPorts), null for none; a value that is
 * not one is the 400 `{error: "expected_ports ...", field: "expected_ports", details: [every problem]}`.
 */
function expectedPortsField(value: unknown): Record<string, string[]> | null {
  if (value === undefined || value === null) return null;
  const parsed = parseExpectedPorts(value);
  if (parsed.problems) {
    throw new BadRequestException({
      error: `expected_ports is invalid: ${parsed.problems[0].path} ${parsed.problems[0].message}`,
      field: 'expected_ports',
      details: parsed.problems.map((p) => `${p.path} ${p.message}`),
    });
  }
  return Object.keys(parsed.expected).length === 0 ? null : (parsed.expected as Record<string, string[]>);
}

/** The fields of a definition that always hold a value: `null` for one of them is no change a PUT can make. */
const NOT_NULL_FIELDS = [
  'project_id',
  'name',
  'target',
  'scan_arguments',
  'runner',
  'chunk_size',
  'concurrency',
  'is_active',
  'is_scheduled',
  'verify_changes',
  'verify_delay_seconds',
  'announce_unconfirmed',
  'flap_window',
  'flap_threshold',
] as const;

/**
 * A PUT's `null` for a field that always holds a value is the 400 `{error: "<field> must not be null", field,
 * details}` (naming every such field), not a database error. `description`, `ports`, `interval_minutes`, `cron`,
 * `timezone` and `expected_ports` may be null: it clears them.
 */
function refuseNulls(input: UpdateScanDto): void {
  const nulls = NOT_NULL_FIELDS.filter((field) => (input as Record<string, unknown>)[field] === null);
  if (nulls.length === 0) return;
  throw new BadRequestException({
    error: `${nulls[0]} must not be null`,
    field: nulls[0],
    details: nulls.map((field) => `${field} must not be null (leave it out to keep its value)`),
  });
}

/** The definition fields of a stored scan, to check it as a change would leave it. */
function definitionOf(scan: Scan): ScanDefinitionFields {
  return {
    projectId: scan.project.id,
    name: scan.name,
    description: scan.description,
    targets: scan.targets,
    ports: scan.ports,
    nmapFlags: scan.nmapFlags,
    runner: scan.runner,
    chunkSize: scan.chunkSize,
    concurrency: scan.concurrency,
    intervalMinutes: scan.intervalMinutes,
    cron: scan.cron,
    timezone: scan.timezone,
    isActive: scan.isActive,
    isScheduled: scan.isScheduled,
    flapWindow: scan.flapWindow,
    flapThreshold: scan.flapThreshold,
  };
}
