// The events of a scan, as seed 000 documents them plus our own. The WebSocket and the SSE mirror send these.

export interface BatchSummary {
  hosts_up: number;
  open_ports: number;
}

/** A run's progress: the `progress` event's run fields (docs/api.md "progress"). */
export interface RunProgressFields {
  /** 0–100, two decimals; 100 only once every batch finished (done or failed). */
  percent: number;
  batches_done: number;
  batches_failed: number;
  batches_total: number;
  /** Addresses of completed batches plus those the running batches' nmap is done with. */
  hosts_done?: number;
  /** Addresses of the run (its targets_total); null when no longer known. */
  hosts_total?: number | null;
  /** Seconds the run should still take, at the rate so far; null before any progress. */
  eta_seconds?: number | null;
}

/** One running batch's nmap progress, as its last `--stats-every` report gave it. */
export interface BatchProgressFields {
  /** nmap's task ("Connect Scan", "Service scan", ...); null before nmap's first report. */
  task: string | null;
  /** nmap's percent of that task (its `<taskprogress percent>`); null before its first report. */
  task_percent: number | null;
  /** How far the batch is, 0–100: never goes back (host discovery does not count; see docs/api.md). */
  percent: number;
  /** nmap's estimate of the task's remaining seconds; null when nmap gave none. */
  remaining_seconds: number | null;
  /** Addresses nmap is done with, of `hosts_total` (the batch's). */
  hosts_done: number;
  hosts_total: number;
}

/**
 * Every event a scan publishes, by name: what each carries besides `event`, `seq`, `scan_id`, `result_id` and `ts`
 * (ScanEvent). The WebSocket and the SSE mirror send exactly these; seed 000 documents `line`, `batch_start`,
 * `batch_complete`, `scan_complete` and `legacy_scan_complete`, the rest are ours.
 */
export interface ScanEventMap {
  line: { batch_id: number; line: string };
  batch_start: { batch_id: number; targets: string[]; attempt: number; worker: string };
  batch_complete: { batch_id: number; summary: BatchSummary };
  batch_failed: {
    batch_id: number;
    error: string;
    exit_code: number | null;
    stderr: string;
    attempt: number;
    will_retry: boolean;
  };
  /**
   * The batch's nmap reported no progress (a new host, task or higher percent in its XML) for `seconds`: it was
   * stopped on `worker` and the attempt fails (`batch_failed` follows, retried while attempts remain).
   */
  batch_stalled: { batch_id: number; seconds: number; attempt: number; worker: string };
  /**
   * A straggler was split (the rest of its run was done and a worker idle): the hosts nmap had reported are its
   * result (`batch_complete` follows), the `targets_requeued` addresses it had not went back on the queue as the
   * new batches `batch_ids`.
   */
  batch_split: {
    batch_id: number;
    batch_ids: number[];
    hosts_reported: number;
    targets_requeued: number;
    worker: string;
  };
  /**
   * How far the run is. Sent after every finished batch (without `batch_id`) and, while batches run, when a
   * batch's nmap reports its progress (`--stats-every`; with `batch_id` and `batch`, at most one per batch per
   * second). `percent` counts each finished batch whole and each running one by its `batch.percent`.
   */
  progress: RunProgressFields & { batch_id?: number; batch?: BatchProgressFields };
  targets_unassigned: { targets: string[]; clients_triggered: number };
  scan_complete: { scan_id: number; status: 'completed' };
  legacy_scan_complete: { scan_id: number; results: LegacyChunkResult[] };
  scan_stopped: { scan_id: number };
  scan_failed: { scan_id: number; error: string };
  /**
   * A delta report with changes was stored for a run of the scan (published by the delta service, after the run's
   * terminal event). Reports without changes are not announced; nor are reports whose changes are all of
   * flapping ports or were not confirmed by the rescan (docs/delta.md "Verified changes"), which goes out first.
   */
  delta_report: {
    scan_id: number;
    report_id: number;
    baseline_result_id: number;
    current_result_id: number;
    /** The seed's counts: every change of the report. */
    summary: DeltaReportCounts;
    /** Beside them (issue 21): the counts of confirmed changes, the flapping ones, and the verification. */
    confirmed?: Omit<DeltaReportCounts, 'has_changes'>;
    flapping_count?: number;
    verification?: { status: 'pending' | 'done' | null; result_id: number | null };
  };
}

export type ScanEventName = keyof ScanEventMap;

/** The body of event `E` as a publisher hands it over: `{event: E, ...ScanEventMap[E]}`. */
export type ScanEventBodyOf<E extends ScanEventName> = { event: E } & ScanEventMap[E];

/** What the worker publishes; the event log stamps `seq` (strictly increasing per scan) and `ts`. */
export type ScanEventBody = { [E in ScanEventName]: ScanEventBodyOf<E> }[ScanEventName];

/** What every event of a stream carries: its seq in its topic (a scan, a notification topic). */
export interface SequencedEvent {
  readonly seq: number;
}

/** The counts of a delta report, as its row and the `delta_report` event carry them. */
export interface DeltaReportCounts {
  new_ports_count: number;
  closed_ports_count: number;
  changed_services_count: number;
  new_hosts_count: number;
  removed_hosts_count: number;
  has_changes: boolean;
}

/** The `delta_report` event as the delta service publishes it. */
export type DeltaReportEventBody = ScanEventBodyOf<'delta_report'>;

/** One entry of `legacy_scan_complete.results`: what one chunk (batch) produced. */
export interface LegacyChunkResult {
  batch_id: number;
  targets: string[];
  status: 'completed' | 'failed' | 'stopped';
  exit_code: number | null;
  summary: BatchSummary;
  hosts: Array<{
    address: string;
    state: string;
    /** Each distinct name once, with where it came from: "user" (given as a target) or "PTR" (reverse DNS). */
    hostnames: Array<{ name: string; type: string | null }>;
    ports: Array<{ protocol: string; port: number; state: string; service: string | null }>;
  }>;
}

export type ScanEvent = ScanEventBody & { seq: number; scan_id: number; result_id: number; ts: string };

/** Sent once when a WebSocket subscriber connects, before any scan event; not part of the per-scan log. */
export interface ConnectedEvent {
  event: 'connected';
  scan_id: number;
}

/** Events after which a run produces nothing more. */
export const TERMINAL_EVENTS: readonly ScanEventName[] = [
  'scan_complete',
  'legacy_scan_complete',
  'scan_stopped',
  'scan_failed',
];
