// The history tabs of a scan's page: its run's batches, its runs (with the trend chart), its delta reports and its
// schedule.
import { lazy, Suspense, useState } from 'react';
import { Link } from 'wouter';
import { useQuery } from '@tanstack/react-query';
import { request } from '../api';
import { DataTable, ErrorAlert, PagerButtons, StateBadge, Time } from '../components/ui';
import { normalisePage } from '../lib/pagination';
import { describeSchedule } from '../lib/schedule';
import { BatchView } from '../lib/scan-events';
import { ReportRow, RunRow, Scan } from './types';

const TrendChart = lazy(() => import('../components/TrendChart'));

interface BatchRow {
  batch_id: number;
  status: string;
  targets?: string[] | number;
  attempts?: number;
  attempt?: number;
  worker_id?: string | null;
  client_id?: string | null;
  exit_code?: number | null;
  stderr?: string | null;
  hosts_up?: number | null;
  open_ports?: number | null;
}

export function Batches({ resultId, live }: { resultId: number | null; live: Record<number, BatchView> }) {
  // Batches whose events were trimmed from the log come from the gateway; live events win over it.
  const stored = useQuery({
    queryKey: ['scan', 'batches', resultId],
    queryFn: () => request<{ batches: BatchRow[] }>(`/api/results/${resultId}/batches?per_page=100`),
    enabled: resultId !== null,
    retry: false,
  });
  const rows = new Map<
    number,
    {
      id: number;
      status: string;
      targets: string;
      attempt: number | string;
      worker: string;
      percent: string;
      found: string;
      error: string;
    }
  >();
  for (const b of stored.data?.batches ?? [])
    rows.set(b.batch_id, {
      id: b.batch_id,
      status: b.status,
      targets: Array.isArray(b.targets) ? b.targets.join(', ') : String(b.targets ?? ''),
      attempt: b.attempts ?? b.attempt ?? '',
      worker: b.worker_id ?? b.client_id ?? '',
      percent: b.status === 'completed' ? '100 %' : '',
      // A batch that never ran is stored with zero counts: nothing was found because nothing was looked at.
      found:
        b.status === 'completed' && b.hosts_up !== null && b.hosts_up !== undefined
          ? `${b.hosts_up} up, ${b.open_ports ?? 0} open`
          : '',
      error: b.status === 'failed' ? `exit code ${b.exit_code ?? '—'}: ${b.stderr ?? ''}` : '',
    });
  for (const b of Object.values(live))
    rows.set(b.batchId, {
      id: b.batchId,
      status: b.status,
      targets: b.targets.join(', '),
      attempt: b.attempt,
      worker: b.worker ?? '',
      percent: b.percent !== null ? `${b.percent} %` : '',
      found: b.hostsUp !== null ? `${b.hostsUp} up, ${b.openPorts ?? 0} open` : '',
      error: b.error ?? '',
    });
  const list = [...rows.values()].sort((a, b) => a.id - b.id);
  return (
    <DataTable
      query={stored}
      caption="Batches"
      columns={['Batch', 'Status', 'Targets', 'Attempt', 'Scanner', 'nmap progress', 'Found', 'Error']}
      empty={resultId ? 'No batch has started yet.' : 'This scan has not run yet: use Run now.'}
    >
      {list.map((b) => (
        <tr key={b.id}>
          <td>{b.id}</td>
          <td>
            <StateBadge state={b.status} />
          </td>
          <td className="wrap">{b.targets}</td>
          <td>{b.attempt}</td>
          <td>{b.worker}</td>
          <td>{b.percent}</td>
          <td>{b.found}</td>
          <td className="wrap">{b.error}</td>
        </tr>
      ))}
    </DataTable>
  );
}

export function Runs({ scanId }: { scanId: number }) {
  const [page, setPage] = useState(1);
  const runs = useQuery({
    queryKey: ['scan', scanId, 'results', page],
    queryFn: () => request<{ results: RunRow[] }>(`/api/scans/${scanId}/results?page=${page}&per_page=20`),
  });
  const list = runs.data?.results ?? [];
  const info = runs.data ? normalisePage(runs.data) : null;
  return (
    <>
      <ErrorAlert error={runs.error} />
      {list.length > 1 && (
        <Suspense fallback={<p className="muted">Loading chart…</p>}>
          <TrendChart runs={[...list].reverse()} />
        </Suspense>
      )}
      <DataTable
        query={runs}
        caption="Runs"
        columns={['Run', 'Status', 'Trigger', 'Started', 'Duration', 'Batches', 'Hosts up', 'Open ports']}
        empty="No runs yet: use Run now."
      >
        {list.map((r) => (
          <tr key={r.result_id}>
            <td>
              <Link href={`/runs/${r.result_id}`}>Run #{r.result_id}</Link>
            </td>
            <td>
              <StateBadge state={r.status} />
            </td>
            <td>{r.trigger}</td>
            <td>
              <Time value={r.started_at ?? r.created_at} />
            </td>
            <td>
              {r.duration_seconds !== null && r.duration_seconds !== undefined
                ? `${r.duration_seconds} s`
                : '—'}
            </td>
            <td>
              {r.batches_done ?? 0}/{r.batches_total ?? 0}
              {r.batches_failed ? ` (${r.batches_failed} failed)` : ''}
            </td>
            <td>{r.hosts_up}</td>
            <td>{r.open_ports}</td>
          </tr>
        ))}
      </DataTable>
      <PagerButtons info={info} onPage={setPage} />
    </>
  );
}

export function Changes({ scanId }: { scanId: number }) {
  const [page, setPage] = useState(1);
  const reports = useQuery({
    queryKey: ['scan', scanId, 'reports', page],
    queryFn: () => request<{ reports: ReportRow[] }>(`/api/scan/${scanId}/reports?page=${page}&per_page=20`),
  });
  return (
    <>
      <ErrorAlert error={reports.error} />
      <DataTable
        query={reports}
        caption="Reports"
        columns={[
          'Report',
          'Created',
          'Baseline → current',
          'New ports',
          'Closed ports',
          'Changed services',
          'Hosts',
        ]}
        empty="No delta reports yet: a report compares two completed runs."
      >
        {(reports.data?.reports ?? []).map((r) => (
          <tr key={r.id}>
            <td>
              <Link href={`/reports/${r.id}`}>Report #{r.id}</Link>
            </td>
            <td>
              <Time value={r.created_at} />
            </td>
            <td>
              #{r.baseline_result_id} → #{r.current_result_id}
            </td>
            <td>+{r.new_ports_count}</td>
            <td>−{r.closed_ports_count}</td>
            <td>~{r.changed_services_count}</td>
            <td>
              +{r.new_hosts_count} / −{r.removed_hosts_count}
            </td>
          </tr>
        ))}
      </DataTable>
      <PagerButtons info={reports.data ? normalisePage(reports.data) : null} onPage={setPage} />
    </>
  );
}

export function Schedule({ scan }: { scan: Scan }) {
  const fires = scan.recent_fires ?? [];
  return (
    <>
      <dl className="facts">
        <div>
          <dt>Schedule</dt>
          <dd>{describeSchedule(scan)}</dd>
        </div>
        <div>
          <dt>Active</dt>
          <dd>{scan.is_active ? 'Yes' : 'No (nothing fires)'}</dd>
        </div>
        <div>
          <dt>Next run</dt>
          <dd>
            <Time value={scan.is_active && scan.is_scheduled ? scan.next_run : null} />
          </dd>
        </div>
        <div>
          <dt>Last run</dt>
          <dd>
            <Time value={scan.last_run} />
          </dd>
        </div>
        <div>
          <dt>Skipped fires</dt>
          <dd>{scan.statistics?.skipped_fires ?? 0}</dd>
        </div>
      </dl>
      <DataTable
        caption="Recent fires"
        columns={['Due', 'Fired', 'Outcome', 'Reason', 'Run']}
        empty={
          scan.is_scheduled
            ? 'The schedule has not fired yet.'
            : 'Not scheduled: edit the scan to add a schedule.'
        }
      >
        {fires.map((f, i) => (
          <tr key={i}>
            <td>
              <Time value={f.due_at} />
            </td>
            <td>
              <Time value={f.fired_at} />
            </td>
            <td>{f.outcome === 'skipped' ? '⚠ skipped' : '✓ started'}</td>
            <td>{f.reason ?? ''}</td>
            <td>{f.result_id ? <Link href={`/runs/${f.result_id}`}>Run #{f.result_id}</Link> : '—'}</td>
          </tr>
        ))}
      </DataTable>
    </>
  );
}
