// The scan page's view of its WebSocket events (docs/api.md "Events"): runs, their batches and progress.
// Pure: the page feeds every non-line event (and lines that carry nmap's percentage) through applyScanEvent.

/** An event of `/ws/scans/:id`, as sent: `event` names it, `seq` orders it (not consecutive after a loss). */
export interface ScanEvent {
  event: string;
  seq?: number;
  scan_id?: number;
  result_id?: number;
  batch_id?: number;
  ts?: string;
  [field: string]: unknown;
}

export type RunStatus = 'queued' | 'running' | 'completed' | 'stopped' | 'failed';
/** `stopped`: the run was stopped while the batch ran or waited for its retry (no batch event says so). */
export type BatchStatus = 'running' | 'retrying' | 'completed' | 'failed' | 'stopped';

/** One batch (one nmap process) of a run. `percent` is nmap's own "About N% done", when it printed one. */
export interface BatchView {
  batchId: number;
  status: BatchStatus;
  targets: string[];
  attempt: number;
  worker: string | null;
  percent: number | null;
  hostsUp: number | null;
  openPorts: number | null;
  error: string | null;
}

export interface RunProgress {
  percent: number;
  done: number;
  failed: number;
  total: number;
}

export interface DeltaReportNotice {
  reportId: number;
  hasChanges: boolean;
  /** The rescan that verified the report's changes (`verification.result_id`), when there was one. */
  verifyResultId: number | null;
}

export interface RunView {
  resultId: number;
  status: RunStatus;
  progress: RunProgress | null;
  batches: Record<number, BatchView>;
  /** Targets no approved, online client covered: not scanned. */
  unassigned: string[];
  reports: DeltaReportNotice[];
  error: string | null;
}

export interface ScanLiveState {
  /** The seq of the newest event applied: the `?since=` of a reconnect. */
  lastSeq: number | null;
  /** The run the page follows: the newest one an event named. */
  currentResultId: number | null;
  runs: Record<number, RunView>;
}

export const initialScanLiveState: ScanLiveState = { lastSeq: null, currentResultId: null, runs: {} };

const TERMINAL: ReadonlySet<RunStatus> = new Set(['completed', 'stopped', 'failed']);

/** True for a run status after which no event of that run changes it. */
export function isTerminal(status: RunStatus): boolean {
  return TERMINAL.has(status);
}

/** nmap's own progress in a line ("Connect Scan Timing: About 42.50% done; ETC: ..."), or null. */
export function nmapPercentOf(line: string): number | null {
  const match = /About (\d{1,3}(?:\.\d+)?)% done/.exec(line);
  if (!match) return null;
  const value = Number(match[1]);
  return value >= 0 && value <= 100 ? value : null;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x) => typeof x === 'string') : []);

function emptyRun(resultId: number): RunView {
  return {
    resultId,
    status: 'queued',
    progress: null,
    batches: {},
    unassigned: [],
    reports: [],
    error: null,
  };
}

function emptyBatch(batchId: number): BatchView {
  return {
    batchId,
    status: 'running',
    targets: [],
    attempt: 1,
    worker: null,
    percent: null,
    hostsUp: null,
    openPorts: null,
    error: null,
  };
}

function withBatch(run: RunView, batchId: number, change: (b: BatchView) => BatchView): RunView {
  const before = run.batches[batchId] ?? emptyBatch(batchId);
  const after = change(before);
  if (after === before && run.batches[batchId]) return run;
  return { ...run, batches: { ...run.batches, [batchId]: after } };
}

function applyToRun(run: RunView, ev: ScanEvent): RunView {
  const batchId = num(ev.batch_id);
  const ended = isTerminal(run.status);
  const live: RunStatus = ended ? run.status : 'running';
  switch (ev.event) {
    case 'targets_unassigned':
      return { ...run, unassigned: strings(ev.targets) };
    case 'batch_start':
      if (batchId === null) return run;
      return withBatch({ ...run, status: live }, batchId, (b) =>
        b.status === 'completed' || b.status === 'failed' || b.status === 'stopped'
          ? b
          : {
              ...b,
              status: 'running',
              targets: strings(ev.targets),
              attempt: num(ev.attempt) ?? b.attempt,
              worker: typeof ev.worker === 'string' ? ev.worker : b.worker,
              error: null,
            },
      );
    case 'line': {
      if (batchId === null || typeof ev.line !== 'string') return run;
      const percent = nmapPercentOf(ev.line);
      if (percent === null) return run;
      return withBatch(run, batchId, (b) =>
        b.status === 'running' && (b.percent === null || percent >= b.percent) ? { ...b, percent } : b,
      );
    }
    case 'batch_complete': {
      if (batchId === null) return run;
      const summary = (ev.summary ?? {}) as Record<string, unknown>;
      return withBatch({ ...run, status: live }, batchId, (b) => ({
        ...b,
        status: 'completed',
        percent: 100,
        hostsUp: num(summary.hosts_up),
        openPorts: num(summary.open_ports),
        error: null,
      }));
    }
    case 'batch_failed':
      if (batchId === null) return run;
      return withBatch(run, batchId, (b) =>
        b.status === 'completed' || b.status === 'stopped'
          ? b
          : {
              ...b,
              status: ev.will_retry === true ? 'retrying' : 'failed',
              attempt: num(ev.attempt) ?? b.attempt,
              error: typeof ev.error === 'string' ? ev.error : 'batch failed',
            },
      );
    case 'progress': {
      const next: RunProgress = {
        percent: num(ev.percent) ?? 0,
        done: num(ev.batches_done) ?? 0,
        failed: num(ev.batches_failed) ?? 0,
        total: num(ev.batches_total) ?? 0,
      };
      // Snapshots from two workers may arrive in either order (and a batch's nmap reports move the percent
      // between finished batches): the bar never goes backwards.
      const prev = run.progress;
      if (prev && prev.done + prev.failed > next.done + next.failed) return run;
      if (prev) next.percent = Math.max(next.percent, prev.percent);
      return { ...run, status: live, progress: next };
    }
    case 'scan_complete':
    case 'legacy_scan_complete':
      return ended ? run : { ...run, status: 'completed', progress: finished(run.progress) };
    case 'scan_stopped':
      return ended ? run : { ...run, status: 'stopped', batches: stopBatches(run.batches) };
    case 'scan_failed':
      return ended
        ? run
        : { ...run, status: 'failed', error: typeof ev.error === 'string' ? ev.error : null };
    case 'delta_report': {
      const reportId = num(ev.report_id);
      if (reportId === null || run.reports.some((r) => r.reportId === reportId)) return run;
      const summary = (ev.summary ?? {}) as Record<string, unknown>;
      const verification = (ev.verification ?? {}) as Record<string, unknown>;
      const notice = {
        reportId,
        hasChanges: summary.has_changes !== false,
        verifyResultId: num(verification.result_id),
      };
      // A report is made of a completed run only: a run known from nothing else (an import sends no event, a
      // trimmed log lost the rest) has ended, it is not queued.
      const status: RunStatus = run.status === 'queued' ? 'completed' : run.status;
      return { ...run, status, reports: [...run.reports, notice] };
    }
    default:
      return run;
  }
}

/** A stop ends the batches that ran or waited for a retry; the gateway stores them as stopped too. */
function stopBatches(batches: Record<number, BatchView>): Record<number, BatchView> {
  const next: Record<number, BatchView> = {};
  for (const [id, b] of Object.entries(batches))
    next[Number(id)] = b.status === 'running' || b.status === 'retrying' ? { ...b, status: 'stopped' } : b;
  return next;
}

function finished(progress: RunProgress | null): RunProgress | null {
  return progress ? { ...progress, percent: 100 } : progress;
}

/**
 * The state after one event. Events at or below `lastSeq` (a replay after a reconnect) change nothing; events
 * without a `result_id` (`connected`) only pass. Returns the same object when nothing changed.
 */
export function applyScanEvent(state: ScanLiveState, ev: ScanEvent): ScanLiveState {
  const seq = num(ev.seq);
  if (seq !== null && state.lastSeq !== null && seq <= state.lastSeq) return state;
  const resultId = num(ev.result_id);
  const lastSeq = seq ?? state.lastSeq;
  if (resultId === null) return lastSeq === state.lastSeq ? state : { ...state, lastSeq };
  const run = state.runs[resultId] ?? emptyRun(resultId);
  const next = applyToRun(run, ev);
  const currentResultId =
    state.currentResultId === null || resultId > state.currentResultId ? resultId : state.currentResultId;
  if (
    next === run &&
    state.runs[resultId] &&
    lastSeq === state.lastSeq &&
    currentResultId === state.currentResultId
  )
    return state;
  return { lastSeq, currentResultId, runs: { ...state.runs, [resultId]: next } };
}

/** Applies events in order. */
export function applyScanEvents(state: ScanLiveState, events: readonly ScanEvent[]): ScanLiveState {
  return events.reduce(applyScanEvent, state);
}

/** The run bar's percentage: the progress event's, else derived from batches, never above 100. */
export function runPercent(run: RunView | undefined): number {
  if (!run) return 0;
  if (run.status === 'completed') return 100;
  if (run.progress) return Math.min(100, Math.max(0, run.progress.percent));
  return 0;
}

/**
 * The reports announced for the run the page follows: its own, or the one whose changes it verified. A scan that
 * verifies its changes announces a run's report only after the rescan (a newer run of its own) ended (docs/api.md
 * `delta_report`), so the report's own run is no longer the newest when it arrives. Reports of older runs (the
 * replayed event log holds many) are left out.
 */
export function announcedReports(state: ScanLiveState): DeltaReportNotice[] {
  const current = state.currentResultId;
  if (current === null) return [];
  return Object.values(state.runs)
    .sort((a, b) => a.resultId - b.resultId)
    .flatMap((run) => run.reports.filter((r) => run.resultId === current || r.verifyResultId === current));
}
