// Shapes of the API answers the pages read (docs/api.md); only the fields the pages use.

export interface Scan {
  id: number;
  project_id: number;
  name: string;
  description: string | null;
  target: string;
  targets: string[];
  ports: string | null;
  scan_arguments: string;
  nmap_flags: string[];
  runner: string;
  chunk_size: number;
  concurrency: number;
  interval_minutes: number | null;
  cron: string | null;
  timezone: string | null;
  is_active: boolean;
  is_scheduled: boolean;
  is_one_off: boolean;
  last_run: string | null;
  next_run: string | null;
  created_at: string;
  result_count?: number;
  success_rate?: number | null;
  status?: string;
  progress?: { percent: number; batches_done: number; batches_failed: number; batches_total: number } | null;
  latest_run?: { result_id: number; status: string; progress?: { percent: number } | null } | null;
  recent_results?: RunRow[];
  recent_fires?: Fire[];
  statistics?: { total_results: number; success_rate: number | null; skipped_fires?: number };
}

export interface Fire {
  due_at: string | null;
  fired_at: string | null;
  outcome: string;
  reason: string | null;
  result_id: number | null;
}

export interface RunRow {
  result_id: number;
  status: string;
  trigger?: string;
  targets?: string[];
  nmap_flags?: string[];
  targets_total?: number;
  unassigned_targets?: string[];
  batches_total?: number;
  batches_done?: number;
  batches_failed?: number;
  hosts_up: number;
  open_ports: number;
  error?: string | null;
  created_at?: string;
  started_at: string | null;
  finished_at: string | null;
  duration_seconds?: number | null;
}

export interface ReportRow {
  id: number;
  scan_id: number;
  baseline_result_id: number;
  current_result_id: number;
  created_at: string;
  new_ports_count: number;
  closed_ports_count: number;
  changed_services_count: number;
  new_hosts_count: number;
  removed_hosts_count: number;
  has_changes: boolean;
  /** Issue 21 (docs/api.md "Delta reports"): the confirmed changes, flapping ones and the rescan. */
  confirmed_new_ports_count?: number;
  confirmed_closed_ports_count?: number;
  confirmed_changed_services_count?: number;
  confirmed_new_hosts_count?: number;
  confirmed_removed_hosts_count?: number;
  flapping_count?: number;
  verification?: { status: 'pending' | 'done' | null; result_id: number | null };
}

export interface Client {
  id: number;
  client_id: string;
  kind: string;
  hostname: string;
  ip_address: string;
  port: number;
  scan_range: string;
  status: string;
  is_approved: boolean;
  is_enabled: boolean;
  last_seen: string | null;
  source_ip?: string | null;
  approved_ip?: string | null;
}

export interface Project {
  id: number;
  name: string;
  description?: string | null;
}
