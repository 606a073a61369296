// The events of a scan, as seed 000 documents them plus our own. The WebSocket and the SSE mirror send these.

export interface BatchSummary {
  hosts_up: number;
  open_ports: number;
}

/** What the worker publishes; the event log stamps `seq` (strictly increasing per scan) and `ts`. */
export type ScanEventBody =
  | { event: 'line'; batch_id: number; line: string }
  | { event: 'batch_start'; batch_id: number; targets: string[]; attempt: number; worker: string }
  | { event: 'batch_complete'; batch_id: number; summary: BatchSummary }
  | {
      event: 'batch_failed';
      batch_id: number;
      error: string;
      exit_code: number | null;
      stderr: string;
      attempt: number;
      will_retry: boolean;
    }
  | {
      event: 'progress';
      percent: number;
      batches_done: number;
      batches_failed: number;
      batches_total: number;
    }
  | { event: 'targets_unassigned'; targets: string[]; clients_triggered: number }
  | { event: 'scan_complete'; scan_id: number; status: 'completed' }
  | { event: 'legacy_scan_complete'; scan_id: number; results: LegacyChunkResult[] }
  | { event: 'scan_stopped'; scan_id: number }
  | { event: 'scan_failed'; scan_id: number; error: string }
  | DeltaReportEventBody;

/** The counts of a delta report, as its row and the `delta_report` event carry them. */
export interface DeltaReportCounts {
  new_ports_count: number;
  closed_ports_count: number;
  changed_services_count: number;
  new_hosts_count: number;
  removed_hosts_count: number;
  has_changes: boolean;
}

/**
 * A delta report with changes was stored for a run of the scan (published by the delta service, after the run's
 * terminal event). Reports without changes are not announced.
 */
export interface DeltaReportEventBody {
  event: 'delta_report';
  scan_id: number;
  report_id: number;
  baseline_result_id: number;
  current_result_id: number;
  summary: DeltaReportCounts;
}

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

export type ScanEventName = ScanEventBody['event'];

/** Events after which a run produces nothing more. */
export const TERMINAL_EVENTS: readonly ScanEventName[] = [
  'scan_complete',
  'legacy_scan_complete',
  'scan_stopped',
  'scan_failed',
];
