// In-memory stand-ins for the unit specs of the gateway's scans and results services: the scan aggregate
// (ScanRepository), the runs read model (RunQueries), projects, and the parts of RunService and ScanSchedules
// those services call. Rows are plain objects shaped like the entities the real repositories return.
import { NotFoundException } from '@nestjs/common';
import type {
  Batch,
  Host,
  NewScanDefinition,
  Port,
  RowWindow,
  RunHostFilter,
  Scan,
  ScanDefinitionPatch,
  ScanListQuery,
  ScanResult,
  ScanRunCounts,
  ScheduleFire,
} from '@nso/persistence';

/** A scan row as ScanRepository returns it. */
export type ScanRow = Scan;

/** The scans and schedule_fires tables (ScanRepository). */
export class FakeScanRepository {
  rows: ScanRow[] = [];
  fires: Array<
    Pick<ScheduleFire, 'dueAt' | 'firedAt' | 'outcome' | 'reason' | 'resultId'> & { scanId: number }
  > = [];
  private nextId = 1;

  /** Stores a scan as create() would, with `fields` over a valid definition owned by user 1. */
  seed(fields: Partial<NewScanDefinition> = {}): ScanRow {
    return this.insert({
      ownerId: 1,
      projectId: 1,
      name: 'lab',
      description: null,
      targets: ['127.0.0.1'],
      ports: null,
      nmapFlags: ['-T4', '-Pn'],
      runner: 'asyncio',
      chunkSize: 256,
      concurrency: 6,
      intervalMinutes: null,
      cron: null,
      timezone: null,
      isActive: true,
      isScheduled: false,
      ...fields,
    });
  }

  async findOrFail(scanId: number): Promise<ScanRow> {
    const scan = this.rows.find((s) => s.id === scanId);
    if (!scan) throw new Error(`Scan not found ('${scanId}')`);
    return scan;
  }

  async find(scanId: number): Promise<ScanRow | null> {
    return this.rows.find((s) => s.id === scanId) ?? null;
  }

  async findOwned(ownerId: number, scanId: number): Promise<ScanRow | null> {
    return this.rows.find((s) => s.id === scanId && s.owner.id === ownerId) ?? null;
  }

  async list(query: ScanListQuery): Promise<[ScanRow[], number]> {
    const mine = this.rows
      .filter((s) => s.owner.id === query.ownerId)
      .filter((s) => query.isActive === undefined || s.isActive === query.isActive)
      .filter((s) => query.isScheduled === undefined || s.isScheduled === query.isScheduled)
      .filter((s) => query.projectId === undefined || s.project.id === query.projectId)
      .sort((a, b) => b.id - a.id);
    return [mine.slice(query.offset, query.offset + query.limit), mine.length];
  }

  async create(input: NewScanDefinition): Promise<ScanRow> {
    return this.insert(input);
  }

  async update(scanId: number, patch: ScanDefinitionPatch): Promise<ScanRow> {
    const scan = await this.findOrFail(scanId);
    const { projectId, ...fields } = patch;
    if (projectId !== undefined) scan.project = { id: projectId } as Scan['project'];
    Object.assign(scan, fields);
    scan.updatedAt = new Date();
    return scan;
  }

  async recentFires(scanId: number, limit: number) {
    return this.fires
      .filter((f) => f.scanId === scanId)
      .reverse()
      .slice(0, limit) as unknown as ScheduleFire[];
  }

  async countSkippedFires(scanId: number): Promise<number> {
    return this.fires.filter((f) => f.scanId === scanId && f.outcome === 'skipped').length;
  }

  private insert(input: NewScanDefinition): ScanRow {
    const { ownerId, projectId, ...fields } = input;
    const now = new Date('2026-12-01T00:00:00Z');
    const scan = {
      id: this.nextId++,
      owner: { id: ownerId },
      project: { id: projectId },
      ...fields,
      isOneOff: false,
      lastRun: null,
      nextRun: null,
      eventSeqReserved: 0,
      createdAt: now,
      updatedAt: now,
    } as unknown as ScanRow;
    this.rows.push(scan);
    return scan;
  }
}

/** A run row as RunQueries returns it. */
export type RunRow = ScanResult;

/** The runs read model (RunQueries) over runs, batches, hosts and ports held here. */
export class FakeRunQueries {
  runs: RunRow[] = [];
  batches: Array<Batch & { resultId: number }> = [];
  hosts: Array<Host & { resultId: number }> = [];
  ports: Array<Port & { hostId: number }> = [];

  constructor(private readonly scans: FakeScanRepository) {}

  /** Stores a run of `scanId` with `fields` over a queued run of one batch. */
  addRun(scanId: number, fields: Partial<ScanResult> = {}): RunRow {
    const run = {
      id: this.runs.length + 1,
      scan: { id: scanId },
      status: 'queued',
      trigger: 'execute',
      runner: 'asyncio',
      targets: ['127.0.0.1'],
      nmapFlags: ['-T4', '-Pn'],
      resolvedNames: {},
      delegation: [{ clients: ['local'], ranges: ['127.0.0.0/8'] }],
      unassignedTargets: [],
      chunkSize: 256,
      concurrency: 6,
      targetsTotal: 1,
      batchesTotal: 1,
      batchesDone: 0,
      batchesFailed: 0,
      hostsUp: 0,
      openPorts: 0,
      error: null,
      createdAt: new Date('2026-12-01T00:00:00Z'),
      startedAt: null,
      finishedAt: null,
      ...fields,
    } as unknown as RunRow;
    this.runs.push(run);
    return run;
  }

  private ofScan(scanId: number): RunRow[] {
    return this.runs.filter((r) => r.scan.id === scanId).sort((a, b) => b.id - a.id);
  }

  async latestRuns(scanIds: readonly number[]): Promise<Map<number, RunRow>> {
    const latest = new Map<number, RunRow>();
    for (const id of scanIds) {
      const run = this.ofScan(id)[0];
      if (run) latest.set(id, run);
    }
    return latest;
  }

  async latestRun(scanId: number, status?: string): Promise<RunRow | null> {
    return this.ofScan(scanId).find((r) => status === undefined || r.status === status) ?? null;
  }

  async runCounts(scanIds: readonly number[]): Promise<Map<number, ScanRunCounts>> {
    const counts = new Map<number, ScanRunCounts>();
    for (const id of scanIds) {
      const runs = this.ofScan(id);
      if (runs.length === 0) continue;
      counts.set(id, {
        runs: runs.length,
        completed: runs.filter((r) => r.status === 'completed').length,
        finished: runs.filter((r) => r.status === 'completed' || r.status === 'failed').length,
      });
    }
    return counts;
  }

  async runsOfScan(scanId: number, window: RowWindow): Promise<[RunRow[], number]> {
    const runs = this.ofScan(scanId);
    return [runs.slice(window.offset, window.offset + window.limit), runs.length];
  }

  async ownedRun(ownerId: number, resultId: number): Promise<RunRow | null> {
    const run = this.runs.find((r) => r.id === resultId);
    if (!run) return null;
    return (await this.scans.findOwned(ownerId, run.scan.id)) ? run : null;
  }

  async hostsOfRun(resultId: number, filter: RunHostFilter, window: RowWindow): Promise<[Host[], number]> {
    const hosts = this.hosts
      .filter((h) => h.resultId === resultId)
      .filter((h) => !filter.hostState || h.state === filter.hostState)
      .filter(
        (h) => !filter.portState || this.ports.some((p) => p.hostId === h.id && p.state === filter.portState),
      );
    return [hosts.slice(window.offset, window.offset + window.limit), hosts.length];
  }

  async portsOfHosts(hostIds: readonly number[], state?: string): Promise<Map<number, Port[]>> {
    const byHost = new Map<number, Port[]>();
    for (const port of this.ports) {
      if (!hostIds.includes(port.hostId) || (state && port.state !== state)) continue;
      byHost.set(port.hostId, [...(byHost.get(port.hostId) ?? []), port]);
    }
    return byHost;
  }

  async batchesOfRun(resultId: number, first: number, last: number): Promise<Batch[]> {
    return this.batches.filter((b) => b.resultId === resultId && b.seq >= first && b.seq <= last);
  }
}

/** Projects: user `ownerId` owns the projects listed for them; the default project of everyone is 1. */
export class FakeProjects {
  constructor(private readonly owned: Record<number, number[]> = { 1: [1, 2] }) {}

  async findOwned(ownerId: number, projectId: number): Promise<{ id: number }> {
    if (!(this.owned[ownerId] ?? []).includes(projectId)) {
      throw new NotFoundException({ error: 'Project not found' });
    }
    return { id: projectId };
  }

  async defaultIdFor(): Promise<number> {
    return 1;
  }
}

/** ScanSchedules as the definitions service uses it: the lock runs the change; apply records what it was given. */
export class FakeSchedules {
  applied: Array<Pick<Scan, 'id' | 'isActive' | 'isScheduled' | 'intervalMinutes' | 'cron' | 'timezone'>> =
    [];
  locked: number[] = [];

  async serialized<T>(scanId: number, change: () => Promise<T>): Promise<T> {
    this.locked.push(scanId);
    return change();
  }

  async apply(scan: FakeSchedules['applied'][number]): Promise<Date | null> {
    const { id, isActive, isScheduled, intervalMinutes, cron, timezone } = scan;
    this.applied.push({ id, isActive, isScheduled, intervalMinutes, cron, timezone });
    return null;
  }
}
