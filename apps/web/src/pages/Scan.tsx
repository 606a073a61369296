// One scan: its live run (log, batches, progress, stop), run now, XML import, and its history in tabs.
import { KeyboardEvent, useRef, useState } from 'react';
import { Link, useParams } from 'wouter';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { rateLimitPauseMs, request } from '../api';
import { LiveLog } from '../components/LiveLog';
import { useScanSocket } from '../components/useScanSocket';
import {
  ConfirmDialog,
  Confirmation,
  ErrorAlert,
  Loading,
  PageTitle,
  StateBadge,
  useFlash,
} from '../components/ui';
import {} from '../lib/pagination';
import { describeSchedule } from '../lib/schedule';
import { announcedReports, isTerminal, RunStatus, runPercent, ScanEvent } from '../lib/scan-events';
import { RunHosts } from './Run';
import { Batches, Changes, Runs, Schedule } from './ScanTabs';
import { Scan } from './types';

const TABS = ['Live output', 'Batches', 'Hosts', 'Runs', 'Changes', 'Schedule'] as const;
type Tab = (typeof TABS)[number];
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
      refetchTimer.current = window.setTimeout(
        () => {
          void queryClient.invalidateQueries({ queryKey: ['scan', scanId] });
          void queryClient.invalidateQueries({ queryKey: ['scan', 'batches'] });
        },
        Math.max(2000, rateLimitPauseMs()),
      );
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
  // A rescan that verified a run's changes (trigger verify) looked at the changed hosts and ports only: the
  // scan's hosts are those of its newest other run.
  const current = s?.recent_results?.find((r) => r.result_id === currentResultId);
  const hostsResultId =
    current?.trigger === 'verify'
      ? (s?.recent_results?.find((r) => r.trigger !== 'verify')?.result_id ?? currentResultId)
      : currentResultId;
  // The live view of the current run; none when the newest run sent no event here (an import, a trimmed log).
  const liveCurrent = liveRun && liveRun.resultId === currentResultId ? liveRun : undefined;
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
            {liveCurrent?.progress
              ? ` (${liveCurrent.progress.done + liveCurrent.progress.failed} of ${liveCurrent.progress.total} batches${liveCurrent.progress.failed ? `, ${liveCurrent.progress.failed} failed` : ''})`
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
          <input ref={fileRef} type="file" accept=".xml,application/xml,text/xml" required />
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
      {liveCurrent?.error && <p className="alert">Run failed: {liveCurrent.error}</p>}
      {announcedReports(socket.live).map((r) => (
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
            <Batches resultId={currentResultId} live={liveCurrent?.batches ?? {}} />
          )}
          {t === 'Hosts' &&
            tab === t &&
            (hostsResultId ? (
              <>
                {hostsResultId !== currentResultId && (
                  <p className="muted">
                    Hosts of run #{hostsResultId}: the newer run #{currentResultId} rescanned its changes
                    only.
                  </p>
                )}
                <RunHosts resultId={hostsResultId} />
              </>
            ) : (
              <p>No run yet.</p>
            ))}
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
