// In-memory stand-ins for the tables of the run's domain (runs, batches, scans, clients, agent tasks), for unit
// tests of RunService and its parts. Each keeps the rows a test asserts on and follows the real repository's
// contract (status changes are conditional, as the real ones are); the real ones are covered by the
// integration tier.
import { PiecesStartOver, type HostResultInput, type RunTrigger } from '@nso/persistence';
import type {
  Batch,
  BatchFailure,
  BatchPiecesInput,
  BatchResultInput,
  BatchStart,
  BatchStartInput,
  BatchStatus,
  CompletedRun,
  DelegableClientRow,
  Host,
  ImportedRunInput,
  OneOffScanInput,
  RunInput,
  ScanResultStatus as RunStatus,
  Scan,
  ScanResult,
  StoreBatchResultOutcome,
} from '@nso/persistence';

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
  startedAt?: Date;
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
  workerId?: string;
  startedAt?: Date;
  finishedAt?: Date;
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
    const startedAt = input.startedAt ?? new Date();
    if (start.runnable) Object.assign(this.row(start.batchId)!, { workerId: input.workerId, startedAt });
    if (start.runnable && run?.status === 'queued') Object.assign(run, { status: 'running', startedAt });
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
    if (row.status === 'completed' || row.status === 'stopped') {
      return { stored: false, hostsUp: row.hostsUp, openPorts: row.openPorts, resultId: row.resultId };
    }
    row.status = 'completed';
    row.workerId = input.workerId;
    row.finishedAt = input.finishedAt;
    row.exitCode = input.exitCode;
    row.hostsUp = input.hosts.filter((h) => h.state === 'up').length;
    row.openPorts = input.hosts.flatMap((h) => h.ports).filter((p) => p.state === 'open').length;
    return { stored: true, hostsUp: row.hostsUp, openPorts: row.openPorts, resultId: row.resultId };
  }

  /** As the real one: the pieces read as they come, a start-over drops what came before, the facts last. */
  async storeResultInPieces(input: BatchPiecesInput): Promise<StoreBatchResultOutcome> {
    const row = this.row(input.batchId);
    if (!row) throw new Error(`Batch ${input.batchId} does not exist`);
    if (row.status === 'completed') return this.storeResult({ ...input, hosts: [] });
    let pieces = input.hosts;
    const hosts: HostResultInput[] = [];
    for (;;) {
      try {
        hosts.length = 0;
        for await (const piece of pieces) hosts.push(...piece.hosts());
        break;
      } catch (error) {
        if (!(error instanceof PiecesStartOver)) throw error;
        pieces = error.pieces;
      }
    }
    const facts = await input.facts?.();
    const stored = await this.storeResult({ ...input, hosts });
    if (facts) {
      Object.assign(row, {
        targets: facts.targets,
        startedAt: facts.startedAt,
        finishedAt: facts.finishedAt,
      });
      const run = this.runs?.row(row.resultId);
      if (run) {
        Object.assign(run, {
          targets: facts.targets,
          chunkSize: Math.max(1, facts.targets.length),
          nmapFlags: facts.nmapFlags,
          startedAt: facts.startedAt,
        });
      }
    }
    return stored;
  }

  async finishedSeqs(resultId: number): Promise<{ completed: number[]; failed: number[] }> {
    const of = (status: BatchStatus) =>
      this.rows.filter((r) => r.resultId === resultId && r.status === status).map((r) => r.seq);
    return { completed: of('completed'), failed: of('failed') };
  }

  async completedAmong(
    resultId: number,
    seqs: readonly number[],
  ): Promise<Array<{ seq: number; hostsUp: number; openPorts: number }>> {
    return this.rows
      .filter((r) => r.resultId === resultId && r.status === 'completed' && seqs.includes(r.seq))
      .sort((a, b) => a.seq - b.seq)
      .map(({ seq, hostsUp, openPorts }) => ({ seq, hostsUp, openPorts }));
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

  async insertImported(input: ImportedRunInput): Promise<number> {
    const id = this.rows.length + 1;
    this.rows.push({
      id,
      scanId: input.scanId,
      status: 'queued',
      trigger: 'import',
      targets: input.targets,
      resolvedNames: {},
      nmapFlags: input.nmapFlags,
      runner: input.runner,
      chunkSize: Math.max(1, input.targets.length),
      concurrency: 1,
      batchesTotal: 1,
      delegation: [],
      unassignedTargets: [],
      createdAt: new Date(0),
    });
    return id;
  }

  async addUnassigned(resultId: number, targets: string[]): Promise<void> {
    const row = this.row(resultId);
    row.unassignedTargets = [
      ...row.unassignedTargets,
      ...targets.filter((t) => !row.unassignedTargets.includes(t)),
    ];
  }

  /** Deletes the run and its batch rows (the real foreign keys cascade). */
  async remove(resultId: number): Promise<void> {
    this.rows = this.rows.filter((r) => r.id !== resultId);
    this.batches.rows = this.batches.rows.filter((b) => b.resultId !== resultId);
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

  async complete(resultId: number, finishedAt = new Date()): Promise<CompletedRun | undefined> {
    const batches = this.batches.rows.filter((b) => b.resultId === resultId);
    const done = batches.filter((b) => b.status === 'completed').length;
    const failed = batches.filter((b) => b.status === 'failed').length;
    const status = done === 0 && failed > 0 ? 'failed' : 'completed';
    if (!this.end(resultId, { status, finishedAt })) return undefined;
    const row = this.row(resultId);
    return {
      status,
      batchesFailed: failed,
      runner: row.runner,
      trigger: row.trigger as RunTrigger,
      finishedAt,
    };
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

  async findOpenOfClient(clientId: string) {
    const open = ['pending', 'running'];
    return this.rows.filter((r) => r.clientId === clientId && open.includes(r.status)).map((r) => ({ ...r }));
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
