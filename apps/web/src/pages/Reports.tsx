// Delta reports: the list of every report of the user's scans, and one report, coverage-aware (docs/delta.md):
// unverified entries are their own section with their reason, never shown as removed.
import { ReactNode, useState } from 'react';
import { Link, useLocation, useParams, useSearch } from 'wouter';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { request } from '../api';
import {
  ConfirmDialog,
  Confirmation,
  DataTable,
  ErrorAlert,
  Loading,
  PageTitle,
  Pager,
  Time,
  useFlash,
  useMe,
} from '../components/ui';
import {
  changeVerdictText,
  ChangeMarks,
  confirmedCountsText,
  deltaSections,
  differenceText,
  DeltaLists,
  DeltaPort,
  reportVerificationText,
  ReportVerificationStatus,
  unverifiedReasonText,
} from '../lib/delta';
import { normalisePage, pageFromQuery, withQuery } from '../lib/pagination';
import { ReportRow } from './types';

export function ReportsPage() {
  const search = useSearch();
  const [, navigate] = useLocation();
  const onlyChanges = new URLSearchParams(search).get('changes') === '1';
  const page = pageFromQuery(search);
  const q = new URLSearchParams({ page: String(page), per_page: '25' });
  if (onlyChanges) q.set('only_changes', 'true');
  const reports = useQuery({
    queryKey: ['reports', 'list', q.toString()],
    queryFn: () => request<{ reports: ReportRow[]; pagination: object }>(`/api/user/reports?${q}`),
  });
  const queryClient = useQueryClient();
  const [deleting, setDeleting] = useState<ReportRow | null>(null);
  const [flash, setFlash] = useFlash();
  const remove = useMutation({
    mutationFn: (id: number) => request(`/api/report/${id}`, { method: 'DELETE' }),
    onSuccess: (_b, id) => {
      setDeleting(null);
      setFlash(`Report #${id} deleted`);
      void queryClient.invalidateQueries({ queryKey: ['reports'] });
    },
  });
  return (
    <>
      <PageTitle text="Delta reports" />
      <label className="check">
        <input
          type="checkbox"
          checked={onlyChanges}
          onChange={(e) =>
            navigate(`/reports${withQuery(search, { changes: e.target.checked ? '1' : null, page: null })}`)
          }
        />{' '}
        Only reports with changes
      </label>
      <ErrorAlert error={reports.error} />
      <Confirmation text={flash} />
      <DataTable
        query={reports}
        caption="Delta reports"
        columns={[
          'Report',
          'Scan',
          'Created',
          'Runs',
          'New ports',
          'Closed ports',
          'Changed services',
          'Hosts',
          'Actions',
        ]}
        empty={
          <>
            No reports{onlyChanges ? ' with changes' : ''} yet. A report compares two completed runs of a
            scan: <Link href="/scans">run a scan again</Link>.
          </>
        }
      >
        {(reports.data?.reports ?? []).map((r) => (
          <tr key={r.id}>
            <td>
              <Link href={`/reports/${r.id}`}>Report #{r.id}</Link>
            </td>
            <td>
              <Link href={`/scans/${r.scan_id}`}>Scan #{r.scan_id}</Link>
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
            <td className="row-actions">
              <a href={`/api/report/${r.id}/export/csv`} download>
                Download CSV
              </a>
              <button type="button" onClick={() => setDeleting(r)}>
                Delete
              </button>
            </td>
          </tr>
        ))}
      </DataTable>
      <Pager info={reports.data ? normalisePage(reports.data) : null} />
      <ConfirmDialog
        open={deleting !== null}
        heading={`Delete report #${deleting?.id ?? ''}?`}
        action="Delete report"
        busy={remove.isPending}
        error={remove.error}
        onCancel={() => setDeleting(null)}
        onConfirm={() => deleting && remove.mutate(deleting.id)}
      />
    </>
  );
}

interface ReportAnswer extends ReportRow {
  delta_data?: {
    delta: DeltaLists;
    summary: Record<string, number | boolean>;
    baseline: { result_id: number; nmap_flags?: string[] };
    current: { result_id: number; nmap_flags?: string[] };
  };
}

const portService = (p: DeltaPort) =>
  [p.service, p.product, p.version, p.extrainfo].filter(Boolean).join(' ');

/** A change's "Verdict" cell (issue 21's marks in words, `changeVerdictText`). */
function VerdictCell({ change, report }: { change: ChangeMarks; report: ReportVerificationStatus }) {
  const me = useMe().data;
  const tone = change.flapping ? 'flapping' : (change.verification ?? 'none');
  return (
    <td className={`verdict verdict-${tone.replace(/_/g, '-')}`}>{changeVerdictText(change, report, me)}</td>
  );
}

/** A table whose empty state is one row "None". */
function ChangeTable(props: { caption: string; columns: string[]; children: ReactNode[] }) {
  return (
    <DataTable caption={props.caption} columns={props.columns} empty="None">
      {props.children}
    </DataTable>
  );
}

export function ReportPage() {
  const { id } = useParams<{ id: string }>();
  const reportId = Number(id);
  const [, navigate] = useLocation();
  const queryClient = useQueryClient();
  const report = useQuery({
    queryKey: ['reports', 'one', reportId],
    queryFn: () => request<ReportAnswer>(`/api/report/${reportId}?include_data=true`),
  });
  const [deleting, setDeleting] = useState(false);
  const [flash, setFlash] = useFlash();
  // Accepting every change (docs/delta.md "Accepted changes"); the report is read again so the verdicts show who.
  const accept = useMutation({
    mutationFn: () =>
      request<{ message: string }>(`/api/report/${reportId}/accept`, { method: 'POST', body: {} }),
    onSuccess: async (answer) => {
      setFlash(answer.message);
      await queryClient.invalidateQueries({ queryKey: ['reports', 'one', reportId] });
    },
  });
  const remove = useMutation({
    mutationFn: () => request(`/api/report/${reportId}`, { method: 'DELETE' }),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: ['reports'] });
      navigate('/reports');
    },
  });
  const r = report.data;
  const s = deltaSections(r?.delta_data?.delta);
  const summary = r?.delta_data?.summary ?? {};
  const n = (k: string, fallback: number) =>
    typeof summary[k] === 'number' ? (summary[k] as number) : fallback;
  const verifying = r?.verification?.status ?? null;
  return (
    <>
      <PageTitle text={`Delta report #${reportId}`} />
      <ErrorAlert error={report.error} />
      {!r && !report.error && <Loading what="the report" />}
      {r && (
        <>
          <p>
            <Link href={`/scans/${r.scan_id}`}>Scan #{r.scan_id}</Link>: run{' '}
            <Link href={`/runs/${r.baseline_result_id}`}>#{r.baseline_result_id}</Link> (baseline) compared
            with run <Link href={`/runs/${r.current_result_id}`}>#{r.current_result_id}</Link>, made{' '}
            <Time value={r.created_at} />.
          </p>
          <div className="actions">
            <a href={`/api/report/${reportId}/export/csv`} download>
              Download CSV
            </a>
            {s.changeCount > 0 && (
              <button type="button" disabled={accept.isPending} onClick={() => accept.mutate()}>
                Accept all changes
              </button>
            )}
            <button type="button" onClick={() => setDeleting(true)}>
              Delete report
            </button>
          </div>
          <ErrorAlert error={accept.error} />
          <Confirmation text={flash} />
          {!s.comparable && (
            <aside role="note" aria-label="Not directly comparable" className="note">
              <h2>Not directly comparable</h2>
              <p>
                The two runs used different options, so some differences come from the options, not the
                network:
              </p>
              <ul>
                {s.differences.map((d) => (
                  <li key={d.option}>{differenceText(d)}</li>
                ))}
              </ul>
            </aside>
          )}
          <section aria-label="Summary" className="summary">
            <dl>
              <div>
                <dt>New ports</dt>
                <dd>+ {n('new_ports_count', r.new_ports_count)}</dd>
              </div>
              <div>
                <dt>Closed ports</dt>
                <dd>− {n('closed_ports_count', r.closed_ports_count)}</dd>
              </div>
              <div>
                <dt>Changed services</dt>
                <dd>~ {n('changed_services_count', r.changed_services_count)}</dd>
              </div>
              <div>
                <dt>New hosts up</dt>
                <dd>+ {s.newUpHosts.length}</dd>
              </div>
              <div>
                <dt>Hosts down</dt>
                <dd>− {s.newDownHosts.length}</dd>
              </div>
              <div>
                <dt>Unverified</dt>
                <dd>? {n('unverified_count', s.unverified.length)}</dd>
              </div>
              <div>
                <dt>Flapping</dt>
                <dd>≈ {r.flapping_count ?? 0}</dd>
              </div>
              <div className="wide">
                <dt>Confirmed</dt>
                <dd>✓ {confirmedCountsText(r)}</dd>
              </div>
            </dl>
            <p role="status" aria-label="Verification">
              Verification: {reportVerificationText(r.verification)}
            </p>
          </section>
          {s.tooLarge ? (
            <p>
              This report has {s.changeCount} changes: too many to show as tables. Download the CSV to read
              them.
            </p>
          ) : (
            <>
              <ChangeTable
                caption="New up hosts"
                columns={['Change', 'Host', 'Host names', 'Open ports', 'Verdict']}
              >
                {s.newUpHosts.map((h) => (
                  <tr key={h.host} className="added">
                    <td aria-label="added">+</td>
                    <td>
                      <Link href={`/hosts/${h.host}`}>{h.host}</Link>
                    </td>
                    <td>{h.hostnames.join(', ')}</td>
                    <td>{h.open_ports}</td>
                    <VerdictCell change={h} report={verifying} />
                  </tr>
                ))}
              </ChangeTable>
              <ChangeTable
                caption="New down hosts"
                columns={['Change', 'Host', 'Host names', 'Open ports before', 'Verdict']}
              >
                {s.newDownHosts.map((h) => (
                  <tr key={h.host} className="removed">
                    <td aria-label="removed">−</td>
                    <td>
                      <Link href={`/hosts/${h.host}`}>{h.host}</Link>
                    </td>
                    <td>{h.hostnames.join(', ')}</td>
                    <td>{h.open_ports}</td>
                    <VerdictCell change={h} report={verifying} />
                  </tr>
                ))}
              </ChangeTable>
              <PortTable
                caption="Added ports"
                sign="+"
                kind="added"
                ports={s.addedPorts}
                verifying={verifying}
              />
              <PortTable
                caption="Removed ports"
                sign="−"
                kind="removed"
                ports={s.removedPorts}
                verifying={verifying}
              />
              <ChangeTable
                caption="Changed services"
                columns={['Change', 'Host', 'Port', 'Before', 'After', 'Changed', 'Verdict']}
              >
                {s.changedServices.map((c) => (
                  <tr key={`${c.host}-${c.protocol}-${c.port}`} className="changed">
                    <td aria-label="changed">~</td>
                    <td>{c.host}</td>
                    <td>
                      {c.port}/{c.protocol}
                    </td>
                    <td>{c.changed.map((f) => `${f}: ${c.before[f] ?? '—'}`).join('; ')}</td>
                    <td>
                      {c.changed.map((f) => (
                        <span key={f}>
                          {f}: <mark>{c.after[f] ?? '—'}</mark>{' '}
                        </span>
                      ))}
                    </td>
                    <td>{c.changed.join(', ')}</td>
                    <VerdictCell change={c} report={verifying} />
                  </tr>
                ))}
              </ChangeTable>
            </>
          )}
          <ChangeTable
            caption="Unverified (not looked at by the current run)"
            columns={['Change', 'Host', 'Port', 'Baseline state', 'Current state', 'Reason']}
          >
            {s.unverified.map((u, i) => (
              <tr key={i} className="unverified">
                <td aria-label="unverified">?</td>
                <td>{u.host}</td>
                <td>{u.port !== undefined ? `${u.port}/${u.protocol}` : 'host'}</td>
                <td>{u.baseline_state}</td>
                <td>{u.current_state ?? 'not looked at'}</td>
                <td>{unverifiedReasonText(u)}</td>
              </tr>
            ))}
          </ChangeTable>
        </>
      )}
      <ConfirmDialog
        open={deleting}
        heading={`Delete report #${reportId}?`}
        action="Delete report"
        busy={remove.isPending}
        error={remove.error}
        onCancel={() => setDeleting(false)}
        onConfirm={() => remove.mutate()}
      />
    </>
  );
}

function PortTable({
  caption,
  sign,
  kind,
  ports,
  verifying,
}: {
  caption: string;
  sign: string;
  kind: string;
  ports: DeltaPort[];
  verifying: ReportVerificationStatus;
}) {
  return (
    <ChangeTable caption={caption} columns={['Change', 'Host', 'Port', 'State', 'Service', 'Verdict']}>
      {ports.map((p) => (
        <tr key={`${p.host}-${p.protocol}-${p.port}`} className={kind}>
          <td aria-label={kind}>{sign}</td>
          <td>
            <Link href={`/hosts/${p.host}`}>{p.host}</Link>
          </td>
          <td>
            {p.port}/{p.protocol}
          </td>
          <td>{p.state}</td>
          <td>{portService(p)}</td>
          <VerdictCell change={p} report={verifying} />
        </tr>
      ))}
    </ChangeTable>
  );
}
