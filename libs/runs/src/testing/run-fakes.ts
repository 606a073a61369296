// In-memory stand-ins for the infrastructure of the run's domain (the table repositories, the run state in Redis,
// the batch queue, the event publisher), for unit tests of RunService, RunFinalizer and RunReconciler. Each
// keeps what a test asserts on (rows, events in order, jobs) and follows the real one's contract; the real ones
// are covered by the integration tier.
import type { BatchSummary, ScanEventBody } from '@nso/contracts';
import type { DeltaJobs, ScanEventPublisher } from '@nso/events';
import { NmapArgumentPolicy, ScanScope } from '@nso/nmap';
import type { AppConfig } from '@nso/config';
import type {
  AgentTaskRepository,
  Batch,
  BatchFailure,
  ClientRepository,
  DelegableClientRow,
  BatchRepository,
  BatchResultInput,
  BatchStart,
  BatchStartInput,
  BatchStatus,
  CompletedRun,
  Host,
  OneOffScanInput,
  RunInput,
  RunRepository,
  ScanResultStatus as RunStatus,
  Scan,
  ScanRepository,
  ScanResult,
  StoreBatchResultOutcome,
} from '@nso/persistence';
import type { AgentTasks } from '../agent-tasks';
import type { BatchQueue, RunPlan } from '../batch-queue';
import type { ClientBatchQueues } from '../client-batch-queues';
import { RunFinalizer } from '../run-finalizer';
import type { RunNotifier, RunOutcome } from '../run-notifier';
import { RunReconciler } from '../run-reconciler';
import type {
  FinishOutcome,
  RebuiltRunState,
  ReleaseLock,
  RunProgress,
  RunStateStore,
} from '../run-state.store';
import { RunService } from '../run.service';

const ACTIVE: RunStatus[] = ['queued', 'running'];

export interface RunRow {
  id: number;
  scanId: number;
  status: RunStatus;
  trigger: string;
  targets: string[];
  resolvedNames: Record<string, string[]>;
  nmapFlags: string[];
  runner: 'asyncio' | 'multiprocessing';
  chunkSize: number;
  concurrency: number;
  batchesTotal: number;
  delegation: Array<{ clients: string[]; ranges: string[] }>;
  unassignedTargets: string[];
  createdAt: Date;
  finishedAt?: Date;
  error?: string;
}

export interface BatchRow {
  id: number;
  resultId: number;
  seq: number;
  targets: string[];
  status: BatchStatus;
  attempts: number;
  hostsUp: number;
  openPorts: number;
  exitCode: number | null;
  stderr: string | null;
}

/** The batches table. */
export class FakeBatchRepository {
  rows: BatchRow[] = [];
  /** The runs table, whose row a started batch marks running. */
  runs?: FakeRunRepository;

  private row(id: number): BatchRow | undefined {
    return this.rows.find((r) => r.id === id);
  }

  async start(input: BatchStartInput): Promise<BatchStart> {
    const start = this.take(input);
    const run = this.runs?.rows.find((r) => r.id === input.resultId);
    if (start.runnable && run?.status === 'queued') run.status = 'running';
    return start;
  }

  private take(input: BatchStartInput): BatchStart {
    let row = this.rows.find((r) => r.resultId === input.resultId && r.seq === input.seq);
    if (!row) {
      row = {
        id: this.rows.length + 1,
        resultId: input.resultId,
        seq: input.seq,
        targets: input.targets,
        status: 'running',
        attempts: 1,
        hostsUp: 0,
        openPorts: 0,
        exitCode: null,
        stderr: null,
      };
      this.rows.push(row);
      return { runnable: true, batchId: row.id };
    }
    if (row.status === 'completed' || row.status === 'stopped') {
      const { status, hostsUp, openPorts } = row;
      return { runnable: false, batchId: row.id, status, hostsUp, openPorts };
    }
    row.status = 'running';
    row.attempts += 1;
    return { runnable: true, batchId: row.id };
  }

  async attemptFailed(batchId: number, failure: BatchFailure): Promise<void> {
    Object.assign(this.row(batchId)!, { exitCode: failure.exitCode, stderr: failure.stderr });
  }

  async fail(batchId: number, failure: BatchFailure): Promise<boolean> {
    const row = this.row(batchId);
    if (!row || (row.status !== 'pending' && row.status !== 'running')) return false;
    Object.assign(row, { status: 'failed', exitCode: failure.exitCode, stderr: failure.stderr });
    return true;
  }

  async stopped(batchId: number): Promise<void> {
    this.row(batchId)!.status = 'stopped';
  }

  async stopAllOfRun(resultId: number): Promise<void> {
    for (const row of this.rows) {
      if (row.resultId === resultId && (row.status === 'pending' || row.status === 'running')) {
        row.status = 'stopped';
      }
    }
  }

  async storeResult(input: BatchResultInput): Promise<StoreBatchResultOutcome> {
    const row = this.row(input.batchId);
    if (!row) throw new Error(`Batch ${input.batchId} does not exist`);
    if (row.status === 'completed') {
      return { stored: false, hostsUp: row.hostsUp, openPorts: row.openPorts, resultId: row.resultId };
    }
    row.status = 'completed';
    row.exitCode = input.exitCode;
    row.hostsUp = input.hosts.filter((h) => h.state === 'up').length;
    row.openPorts = input.hosts.flatMap((h) => h.ports).filter((p) => p.state === 'open').length;
    return { stored: true, hostsUp: row.hostsUp, openPorts: row.openPorts, resultId: row.resultId };
  }

  async finishedSeqs(resultId: number): Promise<{ completed: number[]; failed: number[] }> {
    const of = (status: BatchStatus) =>
      this.rows.filter((r) => r.resultId === resultId && r.status === status).map((r) => r.seq);
    return { completed: of('completed'), failed: of('failed') };
  }

  async findWithHosts(resultId: number): Promise<Array<{ batch: Batch; hosts: Host[] }>> {
    return this.rows
      .filter((r) => r.resultId === resultId)
      .sort((a, b) => a.seq - b.seq)
      .map((r) => ({ batch: r as unknown as Batch, hosts: [] }));
  }
}

/** The scan_results table; `complete` sums the batch rows, as the real one does in SQL. */
export class FakeRunRepository {
  rows: RunRow[] = [];
  /** A one-off scan's row, as insertOneOff stores it. */
  scans: Array<{ id: number; name: string }> = [];

  constructor(private readonly batches: FakeBatchRepository) {
    batches.runs = this;
  }

  async insertOneOff(input: OneOffScanInput): Promise<{ scanId: number; resultId: number }> {
    const scanId = 100 + this.scans.length + 1;
    this.scans.push({ id: scanId, name: input.name });
    const resultId = await this.insert({ ...input, scanId, trigger: 'api-start' });
    return { scanId, resultId };
  }

  async insert(input: RunInput): Promise<number> {
    const id = this.rows.length + 1;
    this.rows.push({
      id,
      scanId: input.scanId,
      status: 'queued',
      trigger: input.trigger,
      targets: input.targets,
      resolvedNames: input.resolvedNames,
      nmapFlags: input.nmapFlags,
      runner: input.runner,
      chunkSize: input.chunkSize,
      concurrency: input.concurrency,
      batchesTotal: input.batchesTotal,
      delegation: input.delegation,
      unassignedTargets: input.unassignedTargets,
      createdAt: new Date(0),
    });
    return id;
  }

  /** The row as the entity a caller reads (scan as a reference). */
  private entity(row: RunRow): ScanResult {
    return { ...row, scan: { id: row.scanId } } as unknown as ScanResult;
  }

  row(id: number): RunRow {
    const row = this.rows.find((r) => r.id === id);
    if (!row) throw new Error(`no run ${id}`);
    return row;
  }

  async find(resultId: number): Promise<ScanResult | null> {
    const row = this.rows.find((r) => r.id === resultId);
    return row ? this.entity(row) : null;
  }

  async findOrFail(resultId: number): Promise<ScanResult> {
    return this.entity(this.row(resultId));
  }

  async findActive(scanId: number): Promise<ScanResult[]> {
    return this.rows
      .filter((r) => r.scanId === scanId && ACTIVE.includes(r.status))
      .map((r) => this.entity(r));
  }

  async findActiveIds(before: Date): Promise<number[]> {
    return this.rows.filter((r) => ACTIVE.includes(r.status) && r.createdAt < before).map((r) => r.id);
  }

  async fail(resultId: number, error: string, finishedAt: Date | null = new Date()): Promise<boolean> {
    return this.end(resultId, { status: 'failed', error, ...(finishedAt ? { finishedAt } : {}) });
  }

  async stop(resultId: number): Promise<boolean> {
    return this.end(resultId, { status: 'stopped', finishedAt: new Date() });
  }

  async complete(resultId: number): Promise<CompletedRun | undefined> {
    const batches = this.batches.rows.filter((b) => b.resultId === resultId);
    const done = batches.filter((b) => b.status === 'completed').length;
    const failed = batches.filter((b) => b.status === 'failed').length;
    const status = done === 0 && failed > 0 ? 'failed' : 'completed';
    const finishedAt = new Date();
    if (!this.end(resultId, { status, finishedAt })) return undefined;
    return { status, batchesFailed: failed, runner: this.row(resultId).runner, finishedAt };
  }

  /** The conditional update every status change is: only an active run moves. */
  private end(resultId: number, fields: Partial<RunRow>): boolean {
    const row = this.rows.find((r) => r.id === resultId);
    if (!row || !ACTIVE.includes(row.status)) return false;
    Object.assign(row, fields);
    return true;
  }
}

/** The scans table. */
export class FakeScanRepository {
  scans = new Map<number, Partial<Scan> & { id: number }>();

  async findOrFail(scanId: number): Promise<Scan> {
    const scan = this.scans.get(scanId);
    if (!scan) throw new Error(`Scan not found ('${scanId}')`);
    return scan as Scan;
  }
}

interface RunState {
  total: number;
  next: number;
  done: number;
  failed: number;
  stopped: boolean;
  inflight: Set<number>;
  finished: Set<number>;
}

/** The run state in Redis, with the semantics of RunStateStore's Lua scripts; `lose()` is Redis restarted empty. */
export class FakeRunState {
  runs = new Map<number, RunState>();
  locks = new Set<string>();
  stopsAnnounced: Array<{ scanId: number; resultId: number }> = [];

  async start(resultId: number, total: number, window: number): Promise<number[]> {
    const claimed = Array.from({ length: Math.min(window, total) }, (_, i) => i + 1);
    this.runs.set(resultId, {
      total,
      next: claimed.length + 1,
      done: 0,
      failed: 0,
      stopped: false,
      inflight: new Set(claimed),
      finished: new Set(),
    });
    return claimed;
  }

  async finish(resultId: number, seq: number, kind: 'done' | 'failed'): Promise<FinishOutcome> {
    const run = this.runs.get(resultId);
    if (!run) return { outcome: 'lost', done: 0, failed: 0, total: 0 };
    if (run.stopped) {
      run.inflight.delete(seq);
      return { outcome: 'stopped', done: 0, failed: 0, total: run.total };
    }
    let nextSeq: number | undefined;
    const first = !run.finished.has(seq);
    if (first) {
      run.finished.add(seq);
      run[kind] += 1;
      run.inflight.delete(seq);
      if (run.next <= run.total) {
        nextSeq = run.next++;
        run.inflight.add(nextSeq);
      }
    }
    const outcome = first ? 'counted' : 'duplicate';
    return { outcome, done: run.done, failed: run.failed, total: run.total, nextSeq };
  }

  async stop(resultId: number): Promise<number[]> {
    const run = this.runs.get(resultId);
    if (!run) return [];
    run.stopped = true;
    return [...run.inflight];
  }

  async rebuild(resultId: number, state: RebuiltRunState): Promise<boolean> {
    if (this.runs.has(resultId)) return false;
    this.runs.set(resultId, {
      total: state.total,
      next: state.next,
      done: state.completed.length,
      failed: state.failed.length,
      stopped: false,
      inflight: new Set(state.inflight),
      finished: new Set([...state.completed, ...state.failed]),
    });
    return true;
  }

  async inflight(resultId: number): Promise<number[]> {
    return [...(this.runs.get(resultId)?.inflight ?? [])];
  }

  async isInflight(resultId: number, seq: number): Promise<boolean> {
    return this.runs.get(resultId)?.inflight.has(seq) ?? false;
  }

  async isStopped(resultId: number): Promise<boolean> {
    return this.runs.get(resultId)?.stopped ?? false;
  }

  async progress(resultId: number): Promise<RunProgress | undefined> {
    const run = this.runs.get(resultId);
    return run && { done: run.done, failed: run.failed, total: run.total, stopped: run.stopped };
  }

  async announceStop(scanId: number, resultId: number): Promise<void> {
    this.stopsAnnounced.push({ scanId, resultId });
  }

  lockScanStart(scanId: number): Promise<ReleaseLock | undefined> {
    return this.lock(`start:${scanId}`);
  }

  lockReconcile(resultId: number): Promise<ReleaseLock | undefined> {
    return this.lock(`reconcile:${resultId}`);
  }

  /** Redis restarted empty: every run's state is gone. */
  lose(): void {
    this.runs.clear();
  }

  private async lock(key: string): Promise<ReleaseLock | undefined> {
    if (this.locks.has(key)) return undefined;
    this.locks.add(key);
    return async () => void this.locks.delete(key);
  }
}

/** The batch queue: remembers what was enqueued; jobs are pending until a test says otherwise. */
export class FakeBatchQueue {
  enqueued: Array<{ resultId: number; seq: number }> = [];
  requeued: Array<{ resultId: number; seq: number }> = [];
  withdrawn: Array<{ resultId: number; seq: number }> = [];
  /** Jobs that are gone from the queue (`r<run>-b<seq>`). */
  lost = new Set<string>();
  failNext?: Error;

  async enqueue(run: RunPlan, seqs: number[]): Promise<[]> {
    if (this.failNext) throw this.failNext;
    this.enqueued.push(...seqs.map((seq) => ({ resultId: run.resultId, seq })));
    return [];
  }

  async requeue(run: RunPlan, seqs: number[]): Promise<void> {
    if (this.failNext) throw this.failNext;
    this.requeued.push(...seqs.map((seq) => ({ resultId: run.resultId, seq })));
    for (const seq of seqs) this.lost.delete(`r${run.resultId}-b${seq}`);
  }

  async withdraw(run: RunPlan, seqs: number[]): Promise<number> {
    this.withdrawn.push(...seqs.map((seq) => ({ resultId: run.resultId, seq })));
    return seqs.length;
  }

  async isPending(run: RunPlan, seq: number): Promise<boolean> {
    return !this.lost.has(`r${run.resultId}-b${seq}`);
  }

  /** The batch numbers enqueued for a run, in order. */
  seqsOf(resultId: number): number[] {
    return this.enqueued.filter((j) => j.resultId === resultId).map((j) => j.seq);
  }
}

/** The clients table: by default the single-machine `local` pool covering the whole loopback scope. */
export class FakeClientRepository {
  delegable: DelegableClientRow[] = [
    { clientId: 'local', kind: 'pool', scanRange: ['127.0.0.0/8', '::1/128'] },
  ];

  /** Pools revoked (or disabled) since they were given work. */
  revoked = new Set<string>();

  async findDelegable(_now: Date, _offlineAfterMs: number, kinds: readonly string[]) {
    return this.delegable.filter((c) => kinds.includes(c.kind));
  }

  async isApprovedPool(clientId: string): Promise<boolean> {
    return (
      this.delegable.some((c) => c.clientId === clientId && c.kind === 'pool') && !this.revoked.has(clientId)
    );
  }
}

/** The event publisher: the events each run published, in order. */
export class FakePublisher {
  events: Array<ScanEventBody & { result_id: number }> = [];
  /** Scans whose seq counter was made before their first event. */
  counters = new Set<number>();

  async ensureCounter(scanId: number): Promise<void> {
    this.counters.add(scanId);
  }

  async publish(ref: { resultId: number }, body: ScanEventBody) {
    return (await this.publishMany(ref, [body]))[0];
  }

  async publishMany(ref: { resultId: number }, bodies: readonly ScanEventBody[]) {
    this.events.push(...bodies.map((body) => ({ ...body, result_id: ref.resultId })));
    return [];
  }

  /** The run's events as `name` or `name:batch_id`, in order. */
  namesOf(resultId: number): string[] {
    return this.events
      .filter((e) => e.result_id === resultId && e.event !== 'line')
      .map((e) => ('batch_id' in e ? `${e.event}:${e.batch_id}` : e.event));
  }
}

/** The delta queue: the runs whose diff was queued, in order. */
export class FakeDeltaJobs {
  queued: Array<{ scanId: number; resultId: number }> = [];

  async enqueue(ref: { scanId: number; resultId: number }): Promise<void> {
    this.queued.push(ref);
  }
}

/** A summary of a stored batch. */
export const summary = (hostsUp = 1, openPorts = 2): BatchSummary => ({
  hosts_up: hostsUp,
  open_ports: openPorts,
});

/** Records the run endings RunFinalizer reports (the owner's `/api/stream` notification). */
export class FakeRunNotifier {
  readonly ended: Array<{ scanId: number; outcome: RunOutcome; error?: string }> = [];

  async runEnded(scanId: number, outcome: RunOutcome, error?: string): Promise<void> {
    this.ended.push({ scanId, outcome, ...(error !== undefined ? { error } : {}) });
  }
}

/**
 * RunService with its real parts (finalizer, reconciler, nmap policy, a loopback scope) over fakes of every piece
 * of infrastructure: the test drives it with commands and reads rows, jobs and events off the fakes.
 */
/** The agent_tasks table in memory: the rows and the status changes RunService makes. */
export class FakeAgentTaskRepository {
  rows: Array<{
    id: number;
    taskId: string;
    clientId: string;
    result: { id: number };
    scanId: number;
    seq: number;
    batchId: number | null;
    targets: string[];
    status: string;
    resultsDigest: string | null;
    finishedAt: Date | null;
  }> = [];

  async findByTaskId(taskId: string) {
    const row = this.rows.find((r) => r.taskId === taskId);
    return row ? { ...row } : null;
  }

  async findById(id: number) {
    const row = this.rows.find((r) => r.id === id);
    return row ? { ...row } : null;
  }

  async transition(id: number, from: readonly string[], to: string, fields: { resultsDigest?: string } = {}) {
    const row = this.rows.find((r) => r.id === id && from.includes(r.status));
    if (!row) return false;
    Object.assign(row, { status: to, ...fields, finishedAt: to === 'running' ? null : new Date() });
    return true;
  }

  async release(id: number, digest: string) {
    const row = this.rows.find((r) => r.id === id && r.status === 'completed' && r.resultsDigest === digest);
    if (!row) return false;
    Object.assign(row, { status: 'running', resultsDigest: null, finishedAt: null });
    return true;
  }
}

export function newRunService() {
  const batches = new FakeBatchRepository();
  const runs = new FakeRunRepository(batches);
  const scans = new FakeScanRepository();
  const state = new FakeRunState();
  const queue = new FakeBatchQueue();
  const events = new FakePublisher();
  const deltaJobs = new FakeDeltaJobs();
  const clients = new FakeClientRepository();
  const notifier = new FakeRunNotifier();
  const tasks = new FakeAgentTaskRepository();
  const as = <T>(fake: unknown) => fake as T;
  const finalizer = new RunFinalizer(
    as<RunRepository>(runs),
    as<BatchRepository>(batches),
    as<ScanEventPublisher>(events),
    as<DeltaJobs>(deltaJobs),
    as<RunNotifier>(notifier),
  );
  const reconciler = new RunReconciler(
    as<RunRepository>(runs),
    as<BatchRepository>(batches),
    as<RunStateStore>(state),
    as<BatchQueue>(queue),
    finalizer,
  );
  const service = new RunService(
    as<RunRepository>(runs),
    as<BatchRepository>(batches),
    as<ScanRepository>(scans),
    new NmapArgumentPolicy(),
    new ScanScope(['127.0.0.0/8', '::1/128'], []),
    as<RunStateStore>(state),
    as<BatchQueue>(queue),
    as<ScanEventPublisher>(events),
    finalizer,
    reconciler,
    as<ClientRepository>(clients),
    as<AppConfig>({
      clients: { offlineAfterMs: 180_000, agentTaskTimeoutMs: 1_800_000, agentTaskTargets: 0 },
    }),
    as<AgentTasks>({ cancelRun: async () => undefined }),
    as<AgentTaskRepository>(tasks),
    as<ClientBatchQueues>({}),
  );
  return {
    service,
    finalizer,
    reconciler,
    runs,
    batches,
    scans,
    state,
    queue,
    events,
    deltaJobs,
    clients,
    notifier,
    tasks,
  };
}
