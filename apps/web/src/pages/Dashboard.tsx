// What a security team opens every morning: the last 24 h in counts, recent changes, what runs next, and (for
// admins) the scanners waiting for approval and the broadcast form.
import { FormEvent, useState } from 'react';
import { Link } from 'wouter';
import { useMutation, useQuery } from '@tanstack/react-query';
import { request } from '../api';
import { Confirmation, DataTable, ErrorAlert, PageTitle, Time, useFlash, useMe } from '../components/ui';
import { describeSchedule } from '../lib/schedule';
import { Client, ReportRow, Scan } from './types';

interface Stats {
  stats: {
    clients: { total: number; online: number; scanning: number; offline: number };
    tasks: { total: number; pending: number; running: number; completed: number; failed: number };
    scans: { total: number; completed: number; failed: number };
  };
}

export function DashboardPage() {
  const me = useMe();
  const isAdmin = me.data?.role === 'admin';
  const stats = useQuery({ queryKey: ['stats'], queryFn: () => request<Stats>('/api/stats?hours=24') });
  const changes = useQuery({
    queryKey: ['reports', 'recent'],
    queryFn: () =>
      request<{ reports: ReportRow[]; pagination: { total_items: number } }>(
        '/api/user/reports?only_changes=true&per_page=5',
      ),
  });
  const upcoming = useQuery({
    queryKey: ['scans', 'scheduled'],
    queryFn: () => request<{ scans: Scan[] }>('/api/scans?is_scheduled=true&is_active=true&per_page=100'),
  });
  const waiting = useQuery({
    queryKey: ['clients', 'waiting'],
    queryFn: () => request<{ clients: Client[] }>('/api/clients?is_approved=false'),
    enabled: isAdmin,
  });
  const s = stats.data?.stats;
  const next = [...(upcoming.data?.scans ?? [])]
    .filter((x) => x.next_run)
    .sort((a, b) => String(a.next_run).localeCompare(String(b.next_run)))
    .slice(0, 10);

  return (
    <>
      <PageTitle text="Dashboard" />
      <section aria-label="Summary" className="summary">
        <h2>Last 24 h</h2>
        <ErrorAlert error={stats.error} />
        <dl>
          <div>
            <dt>Runs</dt>
            <dd>{s ? `${s.scans.total} (${s.scans.completed} completed, ${s.scans.failed} failed)` : '…'}</dd>
          </div>
          <div>
            <dt>Batches</dt>
            <dd>
              {s
                ? `${s.tasks.total} (${s.tasks.running} running, ${s.tasks.pending} pending, ${s.tasks.failed} failed)`
                : '…'}
            </dd>
          </div>
          <div>
            <dt>Scanner clients</dt>
            <dd>
              {s
                ? `${s.clients.total} (${s.clients.online} online, ${s.clients.scanning} scanning, ${s.clients.offline} offline)`
                : '…'}
            </dd>
          </div>
          <div>
            <dt>Reports with changes</dt>
            <dd>{changes.data ? changes.data.pagination.total_items : '…'}</dd>
          </div>
        </dl>
      </section>

      <DataTable
        query={changes}
        caption="Recent changes"
        columns={['Report', 'Scan', 'Created', 'Changes']}
        empty={
          <>
            No reports with changes yet. A report is made when a scan runs twice:{' '}
            <Link href="/scans/new">start a scan</Link>.
          </>
        }
      >
        {(changes.data?.reports ?? []).map((r) => (
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
              +{r.new_ports_count} ports, −{r.closed_ports_count} ports, ~{r.changed_services_count} services
            </td>
          </tr>
        ))}
      </DataTable>

      <DataTable
        query={upcoming}
        caption="Upcoming scheduled runs"
        columns={['Scan', 'Schedule', 'Next run']}
        empty={
          <>
            Nothing scheduled. <Link href="/scans/new">Save a scan definition</Link> with a schedule.
          </>
        }
      >
        {next.map((x) => (
          <tr key={x.id}>
            <td>
              <Link href={`/scans/${x.id}`}>{x.name}</Link>
            </td>
            <td>{describeSchedule(x)}</td>
            <td>
              <Time value={x.next_run} />
            </td>
          </tr>
        ))}
      </DataTable>

      {isAdmin && (
        <>
          <DataTable
            query={waiting}
            caption="Awaiting approval"
            columns={['Client', 'Host name', 'Source address', 'Scan range', 'Last seen']}
            empty="No scanner client is waiting for approval."
          >
            {(waiting.data?.clients ?? []).map((c) => (
              <tr key={c.id}>
                <td>
                  <Link href={`/clients/${encodeURIComponent(c.client_id)}`}>{c.client_id}</Link>
                </td>
                <td>{c.hostname}</td>
                <td>{c.source_ip ?? c.ip_address}</td>
                <td>{c.scan_range}</td>
                <td>
                  <Time value={c.last_seen} />
                </td>
              </tr>
            ))}
          </DataTable>
          <BroadcastForm />
        </>
      )}
    </>
  );
}

function BroadcastForm() {
  const [flash, setFlash] = useFlash();
  const [message, setMessage] = useState('');
  const send = useMutation({
    mutationFn: (body: { message: string; type: string }) => request('/api/broadcast', { body }),
    onSuccess: () => {
      setMessage('');
      setFlash('Broadcast sent');
    },
  });
  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    send.mutate({ message, type: String(form.get('type')) });
  };
  return (
    <section aria-labelledby="broadcast-h">
      <h2 id="broadcast-h">Broadcast</h2>
      <form onSubmit={submit} className="inline-form">
        <label>
          Broadcast message
          <input value={message} onChange={(e) => setMessage(e.target.value)} maxLength={1000} required />
        </label>
        <label>
          Type
          <select name="type" defaultValue="info">
            <option value="info">info</option>
            <option value="success">success</option>
            <option value="warning">warning</option>
            <option value="error">error</option>
          </select>
        </label>
        <button type="submit" disabled={send.isPending}>
          Send broadcast
        </button>
      </form>
      <ErrorAlert error={send.error} />
      <Confirmation text={flash} />
    </section>
  );
}
