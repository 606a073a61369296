// How far a run is, from what Redis holds: its finished batches (RunStateStore), what each running batch's nmap
// last reported (RunProgressStore), the run's address count and start. Pure arithmetic: the worker that publishes
// a `progress` event and any gateway that answers `GET /api/results/{id}` compute the same figures.

/**
 * What one running batch reported last, as RunProgressStore keeps it (JSON in Redis). The batch's worker writes
 * it from nmap's `--stats-every` reports (`<taskprogress>`, the "Stats:" line) and the hosts nmap wrote so far.
 */
export interface BatchProgressReport {
  /** nmap's task at the report ("Connect Scan", "Service scan", ...); absent before nmap's first report. */
  task?: string;
  /** nmap's percent of that task, 0–100 (`<taskprogress percent>`). */
  taskPercent?: number;
  /** nmap's estimate of the task's remaining seconds at `at` (`<taskprogress remaining>`). */
  remaining?: number;
  /** How far the batch is, 0–100: see batchPercent. Never goes back within one attempt. */
  percent: number;
  /** Addresses nmap is done with (hosts written to its XML, or its "Stats: N hosts completed"). */
  hostsDone: number;
  /** Addresses of the batch. */
  hostsTotal: number;
  /** When the worker took the report, in milliseconds since the epoch. */
  at: number;
}

/** A run's progress as the `progress` event and `GET /api/results/{id}` show it (field names: docs/api.md). */
export interface RunProgressView {
  /** (finished batches + the running batches' percent / 100) / batches_total, in percent, two decimals. */
  percent: number;
  batches_done: number;
  batches_failed: number;
  batches_total: number;
  /** Addresses of completed batches plus those the running batches' nmap is done with. */
  hosts_done: number;
  /** Addresses of the run (its targets_total); null when Redis no longer knows it. */
  hosts_total: number | null;
  /** Seconds the run should still take (see etaSeconds); null while nothing is known. */
  eta_seconds: number | null;
}

/** nmap's host discovery and name resolution tasks: short preludes whose percent says little about the batch. */
const PRELUDE_TASKS = /^(ARP Ping Scan|Ping Scan|Parallel DNS resolution|System DNS resolution|Traceroute)/;

/**
 * How far a batch is, 0–100, from its previous value and nmap's latest report. nmap scans a batch's addresses in
 * host groups (e.g. 64 at a time) and its task percent is that of the group it is on ("Stats: 64 hosts completed
 * (128 up), 64 undergoing Connect Scan" then "About 31.91% done" is the second group of a /24, a third through),
 * so the batch is at (hosts done + hosts undergoing × task percent / 100) / its hosts. Without the undergoing
 * count (no "Stats:" line yet) the group is taken to be every address not done. Host discovery and name
 * resolution count nothing (preludes, over in a moment, whose 100 % would say the group is done). The figure
 * never goes back: a new group's first report, or a later phase of one (e.g. -sV: "Connect Scan", then "Service
 * scan" from 0 %), leaves it where it was until it passes it.
 */
export function batchPercent(
  previous: number,
  report: {
    task?: string;
    taskPercent?: number;
    hostsDone: number;
    hostsTotal: number;
    /** Hosts in nmap's current task (its last "Stats:" line's "N undergoing"). */
    undergoing?: number;
  },
): number {
  const { hostsDone, hostsTotal } = report;
  if (!(hostsTotal > 0)) return Math.min(100, previous);
  let done = hostsDone;
  if (report.task !== undefined && report.taskPercent !== undefined && !PRELUDE_TASKS.test(report.task)) {
    const group = Math.min(report.undergoing ?? hostsTotal - hostsDone, hostsTotal - hostsDone);
    done += (Math.max(0, group) * Math.min(100, Math.max(0, report.taskPercent))) / 100;
  }
  return Math.min(100, Math.max(previous, (done * 100) / hostsTotal));
}

/**
 * Seconds a run should still take, from its percent and the time since it started: the rate so far goes on,
 * `elapsed × (100 − percent) / percent`, rounded up. 0 at 100 %; null before any progress or without a start.
 * Example: 40 % after 60 s → 90 s. Batches of a run are alike (the same options, equal slices of addresses), so
 * the rate holds better than nmap's own `remaining`, which only covers the task each batch is in.
 */
export function etaSeconds(percent: number, elapsedSeconds: number | undefined): number | null {
  if (percent >= 100) return 0;
  if (!(percent > 0) || elapsedSeconds === undefined || !(elapsedSeconds >= 0)) return null;
  return Math.ceil((elapsedSeconds * (100 - percent)) / percent);
}

/** What Redis holds of a run, as RunProgressStore reads it in one round trip. */
export interface RunProgressInput {
  done: number;
  failed: number;
  total: number;
  /** Reports of the batches running now (by batch number). */
  running: ReadonlyMap<number, BatchProgressReport>;
  /** Addresses of the run; undefined when unknown. */
  hostsTotal?: number;
  /** Addresses of the batches completed so far. */
  hostsFinished: number;
  /** When the run started, in milliseconds since the epoch. */
  startedAt?: number;
  /** Now, in milliseconds since the epoch. */
  now: number;
}

/**
 * The run's progress: percent over batches (each finished batch counts 1, a running one its percent / 100, at
 * most 99.99 % until every batch is finished), hosts (all of them once every batch completed), and the ETA from
 * the percent and the time since the run started. A run without batches is at 100 %.
 */
export function runProgressOf(input: RunProgressInput): RunProgressView {
  const finished = input.done + input.failed;
  let partial = 0;
  let hostsRunning = 0;
  for (const report of input.running.values()) {
    partial += Math.min(100, Math.max(0, report.percent)) / 100;
    hostsRunning += report.hostsDone;
  }
  // Only batches not yet finished can add to the run (a report that raced its batch's end adds nothing).
  partial = Math.min(partial, Math.max(0, input.total - finished));
  const exact = input.total > 0 ? ((finished + partial) * 100) / input.total : 100;
  const percent = finished >= input.total ? 100 : Math.min(99.99, Math.floor(exact * 100) / 100);
  // A batch whose report was stored after its end (or that ended before its first report) adds no hosts to
  // hostsFinished; when every batch completed, every address is done.
  const everyBatchCompleted = input.total > 0 && input.failed === 0 && input.done >= input.total;
  const hostsDone =
    everyBatchCompleted && input.hostsTotal !== undefined
      ? input.hostsTotal
      : input.hostsFinished + hostsRunning;
  const elapsed =
    input.startedAt !== undefined ? Math.max(0, (input.now - input.startedAt) / 1000) : undefined;
  return {
    percent,
    batches_done: input.done,
    batches_failed: input.failed,
    batches_total: input.total,
    hosts_done: input.hostsTotal !== undefined ? Math.min(hostsDone, input.hostsTotal) : hostsDone,
    hosts_total: input.hostsTotal ?? null,
    eta_seconds: etaSeconds(percent, elapsed),
  };
}
