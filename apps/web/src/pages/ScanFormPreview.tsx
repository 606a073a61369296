// What the scan form previews before anything is saved: the next fires of its schedule, and the plan of a start
// (POST /api/scans/start/preview).
import { useEffect, useState } from 'react';
import { request } from '../api';
import { intervalPreview, looksLikeCron, previewRuns } from '../lib/schedule';
import { ScheduleKind, Values } from './scan-form-values';

/** The next fires: an interval locally (it fires at once, then every N minutes), a cron by the gateway's library. */
export function useSchedulePreview(kind: ScheduleKind, v: Values): { runs: string[]; error: string | null } {
  const [cronRuns, setCronRuns] = useState<{ runs: string[]; error: string | null }>({
    runs: [],
    error: null,
  });
  const interval = Number(v.interval_minutes);
  useEffect(() => {
    if (kind !== 'cron') return;
    if (!looksLikeCron(v.cron)) {
      setCronRuns({ runs: [], error: 'A cron expression has five fields.' });
      return;
    }
    let cancelled = false;
    const timer = window.setTimeout(() => {
      const q = new URLSearchParams({ cron: v.cron.trim(), timezone: v.timezone, count: '5' });
      request(`/api/schedule/preview?${q}`)
        .then((body) => !cancelled && setCronRuns({ runs: previewRuns(body), error: null }))
        .catch(
          (err: unknown) =>
            !cancelled && setCronRuns({ runs: [], error: err instanceof Error ? err.message : String(err) }),
        );
    }, 400);
    return () => {
      cancelled = true;
      window.clearTimeout(timer);
    };
  }, [kind, v.cron, v.timezone]);
  if (kind === 'interval') {
    const runs = intervalPreview(new Date(), interval, 5);
    return {
      runs,
      error: runs.length ? null : 'The interval is a whole number of minutes from 1 to 525600.',
    };
  }
  if (kind === 'cron') return cronRuns;
  return { runs: [], error: null };
}

/** The answer of `POST /api/scans/start/preview` (a dry run: nothing stored). */
export interface StartPlan {
  would_start: boolean;
  refusal: { status: number; body?: { error?: string }; error?: string } | null;
  addresses: number;
  targets_total: number;
  batches_total: number;
  delegation: Array<{
    clients: string[];
    agents: string[];
    target_ranges: string[];
    targets: number;
    batches: number;
  }>;
  unassigned_targets: string[];
  out_of_scope: string[];
}

export function PlanSummary({ plan }: { plan: StartPlan }) {
  const refusal = plan.refusal?.body?.error ?? plan.refusal?.error;
  return (
    <section aria-labelledby="plan-h" className="note">
      <h2 id="plan-h">What a start would do</h2>
      <p role="status">
        {plan.would_start ? '✓ ' : '✗ '}
        {plan.addresses} addresses, {plan.targets_total} delegated in {plan.batches_total} batches
        {plan.would_start ? '.' : `; the start would be refused${refusal ? `: ${refusal}` : '.'}`}
      </p>
      <ul>
        {plan.delegation.map((d, i) => (
          <li key={i}>
            {[...d.clients, ...d.agents].join(', ')}: {d.targets} addresses in {d.batches} batches (
            {d.target_ranges.join(', ')})
          </li>
        ))}
        {plan.unassigned_targets.length > 0 && (
          <li>Not scanned (no client covers them): {plan.unassigned_targets.join(', ')}</li>
        )}
        {plan.out_of_scope.length > 0 && <li>Outside the scan scope: {plan.out_of_scope.join(', ')}</li>}
      </ul>
    </section>
  );
}
