// In-memory stand-ins for the infrastructure of the run's domain (the run state in Redis, the batch queue, the
// event publisher, the delta queue), and newRunService: RunService and its real parts over them and over the
// table fakes (table-fakes.ts), for unit tests of RunService, RunFinalizer and RunReconciler. Each keeps what a
// test asserts on (rows, events in order, jobs) and follows the real one's contract; the real ones are covered
// by the integration tier.
import type { BatchSummary, ScanEventBody } from '@nso/contracts';
import type { DeltaJobs, ScanEventPublisher } from '@nso/events';
import { NmapArgumentPolicy, ScanScope } from '@nso/nmap';
import type { AppConfig } from '@nso/config';
import type {
  AgentTaskRepository,
  BatchRepository,
  ClientRepository,
  RunRepository,
  ScanRepository,
} from '@nso/persistence';
import { AgentTaskIntake } from '../agent-task-intake';
import type { AgentTasks } from '../agent-tasks';
import { BatchHandoff } from '../batch-handoff';
import { BatchOutcomes } from '../batch-outcomes';
import type { BatchQueue, RunPlan } from '../batch-queue';
import type { ClientBatchQueues } from '../client-batch-queues';
import { RunFinalizer } from '../run-finalizer';
import type { RunNotifier, RunOutcome } from '../run-notifier';
import { RunPlanner } from '../run-planner';
import { RunReconciler } from '../run-reconciler';
import type {
  FinishOutcome,
  RebuiltRunState,
  ReleaseLock,
  RunProgress,
  RunStateStore,
} from '../run-state.store';
import type { RunProgressStore } from '../run-progress.store';
import { RunService } from '../run.service';
import { FakeRunProgressStore } from './progress-fake';
import {
  FakeAgentTaskRepository,
  FakeBatchRepository,
  FakeClientRepository,
  FakeRunRepository,
  FakeScanRepository,
} from './table-fakes';

export * from './table-fakes';
export * from './progress-fake';

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

  /** When each batch split off a straggler was claimed, by run and seq (BatchSplitter's script in Redis). */
  readonly splitClaims = new Map<string, number>();

  /**
   * What BatchSplitter's script does: grows the run's total by `count` and claims the new numbers at `claimedAt`
   * (ms). Returns the new numbers.
   */
  claimSplit(resultId: number, count: number, claimedAt = Date.now()): number[] {
    const run = this.runs.get(resultId);
    if (!run) return [];
    const seqs = Array.from({ length: count }, (_, i) => run.total + 1 + i);
    run.total += count;
    run.next = run.total + 1;
    for (const seq of seqs) {
      run.inflight.add(seq);
      this.splitClaims.set(`${resultId}:${seq}`, claimedAt);
    }
    return seqs;
  }

  async splitClaimedAt(resultId: number, seq: number): Promise<number | undefined> {
    return this.splitClaims.get(`${resultId}:${seq}`);
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
  /** Batches queued on a pool other than their delegation's (BatchQueue.enqueueTo). */
  moved: Array<{ resultId: number; seq: number; clientId: string }> = [];
  /** Jobs that are gone from the queue (`r<run>-b<seq>`). */
  lost = new Set<string>();
  failNext?: Error;

  async enqueue(run: RunPlan, seqs: number[]): Promise<[]> {
    if (this.failNext) throw this.failNext;
    this.enqueued.push(...seqs.map((seq) => ({ resultId: run.resultId, seq })));
    return [];
  }

  async enqueueTo(run: RunPlan, seq: number, clientId: string): Promise<void> {
    this.moved.push({ resultId: run.resultId, seq, clientId });
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

/** A batch job waiting on a pool's queue (its data as BatchQueue writes it). */
export interface WaitingBatchJob {
  scanId: number;
  resultId: number;
  batchSeq: number;
  targets: string[];
}

/** The pools' batch queues: jobs waiting on each; `taken` ones a worker took meanwhile (they cannot be removed). */
export class FakeClientBatchQueues {
  waiting = new Map<string, WaitingBatchJob[]>();
  taken = new Set<WaitingBatchJob>();

  queue(clientId: string) {
    const jobs = this.waiting.get(clientId) ?? [];
    return {
      getJobs: async () =>
        jobs.map((data) => ({
          data,
          remove: async () => {
            if (this.taken.has(data)) throw new Error('Job is locked');
            jobs.splice(jobs.indexOf(data), 1);
          },
        })),
    };
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
 * RunService with its real parts (planner, batch outcomes, handoff, agent task intake, finalizer, reconciler,
 * nmap policy, a loopback scope) over fakes of every piece of infrastructure: the test drives it with commands
 * and reads rows, jobs and events off the fakes.
 */
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
  const poolQueues = new FakeClientBatchQueues();
  const progress = new FakeRunProgressStore(state);
  const as = <T>(fake: unknown) => fake as T;
  const config = as<AppConfig>({
    clients: { offlineAfterMs: 180_000, agentTaskTimeoutMs: 1_800_000, agentTaskTargets: 0 },
  });
  const agents = as<AgentTasks>({ cancelRun: async () => undefined });
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
  const planner = new RunPlanner(
    new NmapArgumentPolicy(),
    new ScanScope(['127.0.0.0/8', '::1/128'], []),
    as<ClientRepository>(clients),
    config,
  );
  const handoff = new BatchHandoff(
    as<RunRepository>(runs),
    as<BatchRepository>(batches),
    as<AgentTaskRepository>(tasks),
    as<ClientRepository>(clients),
    as<BatchQueue>(queue),
    agents,
    as<ClientBatchQueues>(poolQueues),
    as<ScanEventPublisher>(events),
    config,
  );
  const outcomes = new BatchOutcomes(
    as<RunRepository>(runs),
    as<BatchRepository>(batches),
    as<ClientRepository>(clients),
    as<RunStateStore>(state),
    as<BatchQueue>(queue),
    as<ScanEventPublisher>(events),
    finalizer,
    reconciler,
    handoff,
    as<RunProgressStore>(progress),
  );
  const intake = new AgentTaskIntake(
    as<RunRepository>(runs),
    as<AgentTaskRepository>(tasks),
    agents,
    outcomes,
    config,
  );
  const service = new RunService(
    as<RunRepository>(runs),
    as<BatchRepository>(batches),
    as<ScanRepository>(scans),
    planner,
    as<RunStateStore>(state),
    as<BatchQueue>(queue),
    as<ScanEventPublisher>(events),
    finalizer,
    agents,
    as<DeltaJobs>(deltaJobs),
    outcomes,
    handoff,
    intake,
    as<RunProgressStore>(progress),
  );
  return {
    service,
    finalizer,
    reconciler,
    outcomes,
    handoff,
    intake,
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
    poolQueues,
    progress,
  };
}
