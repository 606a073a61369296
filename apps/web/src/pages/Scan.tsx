// One scan: its live run (log, batches, progress, stop), run now, XML import, and its history in tabs.
import { KeyboardEvent, lazy, Suspense, useRef, useState } from 'react';
import { Link, useParams } from 'wouter';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { request } from '../api';
import { LiveLog } from '../components/LiveLog';
import { useScanSocket } from '../components/useScanSocket';
import {
  ConfirmDialog,
  Confirmation,
  DataTable,
  ErrorAlert,
  Loading,
  PageTitle,
  Pager,
  StateBadge,
  Time,
  useFlash,
} from '../components/ui';
import { normalisePage } from '../lib/pagination';
import { describeSchedule } from '../lib/schedule';
import { BatchView, isTerminal, RunStatus, runPercent, ScanEvent } from '../lib/scan-events';
import { RunHosts } from './Run';
import { ReportRow, RunRow, Scan } from './types';

const TrendChart = lazy(() => import('../components/TrendChart'));

const TABS = ['Live output', 'Batches', 'Hosts', 'Runs', 'Changes', 'Schedule'] as const;
type Tab = (typeof TABS)[number];

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

export function ScanPage() {
  const { id } = useParams<{ id: string }>();
  const scanId = Number(id);
  const queryClient = useQueryClient();
  const refetchTimer = useRef<number | undefined>(undefined);
  const scan = useQuery({
    queryKey: ['scan', scanId],
    queryFn: () => request<{ scan: Scan }>(`/api/scans/${scanId}`),
  });
  // Terminal events and reports refetch the scan's lists, debounced (no polling).
  const onEvent = (ev: ScanEvent) => {
    if (
      [
        'batch_complete',
        'scan_complete',
        'legacy_scan_complete',
        'scan_stopped',
        'scan_failed',
        'delta_report',
      ].includes(ev.event)
    ) {
      window.clearTimeout(refetchTimer.current);
      refetchTimer.current = window.setTimeout(() => {
        void queryClient.invalidateQueries({ queryKey: ['scan', scanId] });
      }, 2000);
    }
  };
  const socket = useScanSocket(scanId, onEvent);
  const [tab, setTab] = useState<Tab>('Live output');
  const [stopping, setStopping] = useState(false);
  const [flash, setFlash] = useFlash();
  const fileRef = useRef<HTMLInputElement>(null);

  const s = scan.data?.scan;
  const liveRun =
    socket.live.currentResultId !== null ? socket.live.runs[socket.live.currentResultId] : undefined;
  const latest = s?.recent_results?.[0];
  const runStatus = (
    liveRun && (!latest || liveRun.resultId >= latest.result_id)
      ? liveRun.status
      : (latest?.status ?? s?.status)
  ) as RunStatus | undefined;
  const currentResultId = Math.max(liveRun?.resultId ?? 0, latest?.result_id ?? 0) || null;
  const running = runStatus === 'running' || runStatus === 'queued';
  // Targets of the current run no client covered: from its event, or from the stored run when the page opens later.
  const unassigned =
    liveRun && liveRun.resultId === currentResultId && liveRun.unassigned.length > 0
      ? liveRun.unassigned
      : latest && latest.result_id === currentResultId
        ? (latest.unassigned_targets ?? [])
        : [];
  const percent =
    liveRun && liveRun.resultId === currentResultId
      ? runPercent(liveRun)
      : runStatus === 'completed'
        ? 100
        : (s?.progress?.percent ?? 0);

  const act = useMutation({
    mutationFn: async (verb: 'run' | 'stop' | 'toggle') => {
      if (verb === 'run') return request<{ message: string }>(`/api/scans/${scanId}/execute`);
      if (verb === 'stop')
        return request<{ status: string }>(`/api/scans/${scanId}/stop`, { method: 'POST' });
      return request<{ message: string }>(`/api/scans/${scanId}/toggle`, { method: 'POST' });
    },
    onSuccess: (body, verb) => {
      setStopping(false);
      const b = body as { message?: string; status?: string };
      setFlash(verb === 'stop' ? 'Stopping the run…' : (b.message ?? 'Done'));
      void queryClient.invalidateQueries({ queryKey: ['scan', scanId] });
      void queryClient.invalidateQueries({ queryKey: ['scans'] });
    },
  });
  const importXml = useMutation({
    mutationFn: async (file: File) =>
      request<{ result_id: number; summary: { hosts: number; hosts_up: number; open_ports: number } }>(
        `/api/scans/${scanId}/results/import`,
        { body: file, contentType: 'application/xml' },
      ),
    onSuccess: (body) => {
      setFlash(
        `Imported run #${body.result_id}: ${body.summary.hosts} hosts, ${body.summary.hosts_up} up, ${body.summary.open_ports} open ports`,
      );
      if (fileRef.current) fileRef.current.value = '';
      void queryClient.invalidateQueries({ queryKey: ['scan', scanId] });
    },
  });

  if (!s)
    return (
      <>
        <PageTitle text={scan.isError ? 'Scan not found' : 'Scan'} />
        {scan.error ? <ErrorAlert error={scan.error} /> : <Loading what="the scan" />}
      </>
    );

  const connectionText =
    socket.connection === 'closed'
      ? `Disconnected: ${socket.closeReason}`
      : socket.connection !== 'live'
        ? socket.connection === 'connecting'
          ? 'Connecting…'
          : 'Reconnecting…'
        : runStatus && isTerminal(runStatus)
          ? 'Run ended'
          : 'Live';
  const onTabKey = (e: KeyboardEvent<HTMLButtonElement>) => {
    const i = TABS.indexOf(tab);
    let next = i;
    if (e.key === 'ArrowRight') next = (i + 1) % TABS.length;
    else if (e.key === 'ArrowLeft') next = (i - 1 + TABS.length) % TABS.length;
    else if (e.key === 'Home') next = 0;
    else if (e.key === 'End') next = TABS.length - 1;
    else return;
    e.preventDefault();
    setTab(TABS[next]);
    document.getElementById(`tab-${next}`)?.focus();
  };

  return (
    <>
      <PageTitle text={s.name} />
      <p className="muted">
        {s.target} · {s.scan_arguments}
        {s.ports ? ` · ports ${s.ports}` : ''} · {describeSchedule(s)}
        {s.is_active ? '' : ' · inactive'}
      </p>
      <div className="run-head">
        <p>
          Run status:{' '}
          <span role="status" aria-label="Run status">
            {runStatus ? <StateBadge state={runStatus} /> : 'never run'}
          </span>
          {currentResultId && (
            <>
              {' '}
              <Link href={`/runs/${currentResultId}`}>Run #{currentResultId}</Link>
            </>
          )}
        </p>
        <div className="progress">
          <progress aria-label="Run progress" max={100} value={percent} />
          <span>
            {Math.round(percent)} %
            {liveRun?.progress
              ? ` (${liveRun.progress.done + liveRun.progress.failed} of ${liveRun.progress.total} batches${liveRun.progress.failed ? `, ${liveRun.progress.failed} failed` : ''})`
              : ''}
          </span>
        </div>
      </div>
      <div className="actions">
        <button
          type="button"
          disabled={!s.is_active || running || act.isPending}
          onClick={() => act.mutate('run')}
        >
          Run now
        </button>
        <button type="button" disabled={!running} onClick={() => setStopping(true)}>
          Stop scan
        </button>
        <Link href={`/scans/${scanId}/edit`}>Edit</Link>
        <button type="button" onClick={() => act.mutate('toggle')}>
          {s.is_active ? 'Deactivate' : 'Activate'}
        </button>
        <a href={`/api/scan/${scanId}/export-all`} download>
          Download all reports (ZIP)
        </a>
      </div>
      <form
        className="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          const file = fileRef.current?.files?.[0];
          if (file) importXml.mutate(file);
        }}
      >
        <label>
          nmap XML file
          <input ref={fileRef} type="file" accept=".xml,application/xml,text/xml" />
        </label>
        <button type="submit" disabled={importXml.isPending}>
          Import nmap XML
        </button>
      </form>
      <ErrorAlert error={act.isError && !stopping ? act.error : importXml.error} />
      <Confirmation text={flash} />
      {unassigned.length > 0 && (
        <p role="alert" aria-label="Not scanned" className="alert">
          Not scanned: no approved, online scanner client covers {unassigned.join(', ')}.
        </p>
      )}
      {liveRun?.error && <p className="alert">Run failed: {liveRun.error}</p>}
      {liveRun?.reports.map((r) => (
        <p key={r.reportId} role="status">
          The run changed something: <Link href={`/reports/${r.reportId}`}>View report #{r.reportId}</Link>
        </p>
      ))}

      <div role="tablist" aria-label="Scan sections" className="tabs">
        {TABS.map((t, i) => (
          <button
            key={t}
            id={`tab-${i}`}
            type="button"
            role="tab"
            aria-selected={tab === t}
            aria-controls={`panel-${i}`}
            tabIndex={tab === t ? 0 : -1}
            onClick={() => setTab(t)}
            onKeyDown={onTabKey}
          >
            {t}
          </button>
        ))}
      </div>
      {TABS.map((t, i) => (
        <div
          key={t}
          role="tabpanel"
          id={`panel-${i}`}
          aria-labelledby={`tab-${i}`}
          hidden={tab !== t}
          tabIndex={0}
        >
          {t === 'Live output' && (
            <>
              <p>
                Connection:{' '}
                <span role="status" aria-label="Connection">
                  {connectionText}
                </span>
              </p>
              <LiveLog source={socket.log} />
            </>
          )}
          {t === 'Batches' && tab === t && (
            <Batches resultId={currentResultId} live={liveRun?.batches ?? {}} />
          )}
          {t === 'Hosts' &&
            tab === t &&
            (currentResultId ? <RunHosts resultId={currentResultId} /> : <p>No run yet.</p>)}
          {t === 'Runs' && tab === t && <Runs scanId={scanId} />}
          {t === 'Changes' && tab === t && <Changes scanId={scanId} />}
          {t === 'Schedule' && tab === t && <Schedule scan={s} />}
        </div>
      ))}
      <ConfirmDialog
        open={stopping}
        heading="Stop this run?"
        action="Stop scan"
        busy={act.isPending}
        error={stopping ? act.error : null}
        onCancel={() => {
          setStopping(false);
          act.reset();
        }}
        onConfirm={() => act.mutate('stop')}
      >
        <p>
          No pending batch starts; running nmap processes end within about a second. Finished batches are
          kept.
        </p>
      </ConfirmDialog>
    </>
  );
}

function Batches({ resultId, live }: { resultId: number | null; live: Record<number, BatchView> }) {
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
      found:
        b.hosts_up !== null && b.hosts_up !== undefined ? `${b.hosts_up} up, ${b.open_ports ?? 0} open` : '',
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

function Runs({ scanId }: { scanId: number }) {
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
      {info && info.pages > 1 && (
        <nav aria-label="Pagination" className="pager">
          <button type="button" disabled={!info.hasPrev} onClick={() => setPage((p) => p - 1)}>
            Previous page
          </button>
          <span>
            Page {info.page} of {info.pages}
          </span>
          <button type="button" disabled={!info.hasNext} onClick={() => setPage((p) => p + 1)}>
            Next page
          </button>
        </nav>
      )}
    </>
  );
}

function Changes({ scanId }: { scanId: number }) {
  const reports = useQuery({
    queryKey: ['scan', scanId, 'reports'],
    queryFn: () => request<{ reports: ReportRow[] }>(`/api/scan/${scanId}/reports?per_page=50`),
  });
  return (
    <>
      <ErrorAlert error={reports.error} />
      <DataTable
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
      <Pager info={null} />
    </>
  );
}

function Schedule({ scan }: { scan: Scan }) {
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
