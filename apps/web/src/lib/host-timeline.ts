// The host page's port timeline: for every port a host ever had open, what each run saw of it.

export interface HistoryRun {
  result_id: number;
  started_at: string | null;
  state: string;
  open_ports: Array<{ protocol: string; port: number }>;
}

export type TimelineCell = 'open' | 'not open' | 'not scanned';

export interface TimelineRow {
  /** "22/tcp" */
  port: string;
  /** One cell per run, in the order of `runs` given. */
  cells: TimelineCell[];
  firstSeen: string | null;
  lastSeen: string | null;
}

/**
 * Rows sorted by protocol then port number. A run where the host was not up did not look at its ports: "not
 * scanned" (never "not open"). `firstSeen`/`lastSeen` are the start times of the oldest and newest runs that saw
 * the port open. `runs` may come newest first (as the API sends them); cells follow that order.
 */
export function portTimeline(runs: readonly HistoryRun[]): TimelineRow[] {
  const keys = new Map<string, { protocol: string; port: number }>();
  for (const run of runs) for (const p of run.open_ports) keys.set(`${p.port}/${p.protocol}`, p);
  const sorted = [...keys.entries()].sort(
    ([, a], [, b]) => a.protocol.localeCompare(b.protocol) || a.port - b.port,
  );
  return sorted.map(([key]) => {
    const seen: string[] = [];
    const cells = runs.map((run): TimelineCell => {
      if (run.state !== 'up') return 'not scanned';
      const open = run.open_ports.some((p) => `${p.port}/${p.protocol}` === key);
      if (open && run.started_at) seen.push(run.started_at);
      return open ? 'open' : 'not open';
    });
    seen.sort();
    return { port: key, cells, firstSeen: seen[0] ?? null, lastSeen: seen[seen.length - 1] ?? null };
  });
}
