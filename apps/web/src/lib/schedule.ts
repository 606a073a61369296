// What the scan form and pages say about a schedule; the next runs of a cron come from the gateway.

export interface ScheduleFields {
  is_scheduled?: boolean;
  is_active?: boolean;
  interval_minutes?: number | null;
  cron?: string | null;
  timezone?: string | null;
}

/** The schedule in words: "Every 60 minutes", "Cron 0 2 * * 1-5 (Europe/Berlin)", "Not scheduled". */
export function describeSchedule(scan: ScheduleFields): string {
  if (!scan.is_scheduled) return 'Not scheduled';
  if (scan.cron) return `Cron ${scan.cron} (${scan.timezone || 'UTC'})`;
  if (scan.interval_minutes)
    return `Every ${scan.interval_minutes} minute${scan.interval_minutes === 1 ? '' : 's'}`;
  return 'Scheduled (no interval)';
}

/**
 * The next `count` fires of an interval schedule saved at `from`: a new or re-activated interval schedule fires
 * at once, then every `minutes` (docs/api.md "Schedules"). Dates as ISO strings.
 */
export function intervalPreview(from: Date, minutes: number, count = 5): string[] {
  if (!Number.isInteger(minutes) || minutes < 1 || minutes > 525_600) return [];
  const out: string[] = [];
  for (let i = 0; i < count; i++) out.push(new Date(from.getTime() + i * minutes * 60_000).toISOString());
  return out;
}

/** A cron expression that has the five fields the gateway accepts (minute hour day-of-month month day-of-week). */
export function looksLikeCron(expression: string): boolean {
  return expression.trim().split(/\s+/).length === 5;
}

/** Reads the preview answer of `GET /api/schedule/preview`: a list of ISO times under `runs` or `next_runs`. */
export function previewRuns(body: unknown): string[] {
  if (!body || typeof body !== 'object') return [];
  const b = body as Record<string, unknown>;
  const list = b.runs ?? b.next_runs ?? b.preview;
  if (!Array.isArray(list)) return [];
  return list
    .map((x) =>
      typeof x === 'string' ? x : x && typeof x === 'object' ? (x as Record<string, unknown>).at : null,
    )
    .filter((x): x is string => typeof x === 'string');
}
