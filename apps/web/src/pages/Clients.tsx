// Scanner clients (admins): approve an agent (bound to the source address it was heard from), revoke, disable.
// Everyone else sees the counts only, as the API gives them.
import { useState } from 'react';
import { Link, useParams, useSearch } from 'wouter';
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
  StateBadge,
  Time,
  useFlash,
  useMe,
} from '../components/ui';
import { normalisePage, pageFromQuery } from '../lib/pagination';
import { Client } from './types';

interface ClientsAnswer {
  clients: Client[];
}

export function ClientsPage() {
  const me = useMe();
  if (!me.data) return <Loading what="your account" />;
  return me.data.role === 'admin' ? <AdminClients /> : <ClientCounts />;
}

function ClientCounts() {
  const stats = useQuery({
    queryKey: ['stats'],
    queryFn: () => request<{ stats: { clients: Record<string, number> } }>('/api/stats?hours=24'),
  });
  const c = stats.data?.stats.clients;
  return (
    <>
      <PageTitle text="Scanner clients" />
      <p>Only admins can manage scanner clients.</p>
      {c && (
        <p>
          {c.total} clients: {c.online} online, {c.scanning} scanning, {c.offline} offline.
        </p>
      )}
    </>
  );
}

function AdminClients() {
  const search = useSearch();
  const page = pageFromQuery(search);
  const queryClient = useQueryClient();
  const waiting = useQuery({
    queryKey: ['clients', 'waiting'],
    queryFn: () => request<ClientsAnswer>('/api/clients?is_approved=false&per_page=100'),
  });
  const all = useQuery({
    queryKey: ['clients', 'all', page],
    queryFn: () => request<ClientsAnswer>(`/api/clients?page=${page}&per_page=50`),
  });
  const [approving, setApproving] = useState<Client | null>(null);
  const [flash, setFlash] = useFlash();
  const act = useMutation({
    mutationFn: ({ client, verb }: { client: Client; verb: 'approve' | 'revoke' | 'toggle' }) =>
      request<{ message: string }>(`/api/clients/${encodeURIComponent(client.client_id)}/${verb}`, {
        method: 'POST',
      }),
    onSuccess: (body, { client }) => {
      setApproving(null);
      setFlash(`${client.client_id}: ${body.message}`);
      void queryClient.invalidateQueries({ queryKey: ['clients'] });
    },
  });
  const source = (c: Client) => c.source_ip ?? c.ip_address;
  return (
    <>
      <PageTitle text="Scanner clients" />
      <ErrorAlert error={waiting.error ?? all.error ?? (approving ? null : act.error)} />
      <Confirmation text={flash} />
      <DataTable
        query={waiting}
        caption="Awaiting approval"
        columns={[
          'Client',
          'Kind',
          'Host name',
          'Source address',
          'Listens on',
          'Scan range',
          'Last seen',
          'Actions',
        ]}
        empty="No scanner client is waiting for approval."
      >
        {(waiting.data?.clients ?? []).map((c) => (
          <tr key={c.id}>
            <td>
              <Link href={`/clients/${encodeURIComponent(c.client_id)}`}>{c.client_id}</Link>
            </td>
            <td>{c.kind}</td>
            <td>{c.hostname}</td>
            <td>{source(c)}</td>
            <td>
              {c.ip_address}:{c.port}
            </td>
            <td>{c.scan_range}</td>
            <td>
              <Time value={c.last_seen} />
            </td>
            <td className="row-actions">
              <button type="button" onClick={() => setApproving(c)}>
                Approve
              </button>
            </td>
          </tr>
        ))}
      </DataTable>
      <DataTable
        query={all}
        caption="Scanner clients"
        columns={['Client', 'Kind', 'Status', 'Approved', 'Bound to', 'Scan range', 'Last seen', 'Actions']}
        empty="No scanner client has registered yet. Worker pools register when they start; agents with their first heartbeat."
      >
        {(all.data?.clients ?? []).map((c) => (
          <tr key={c.id}>
            <td>
              <Link href={`/clients/${encodeURIComponent(c.client_id)}`}>{c.client_id}</Link>
            </td>
            <td>{c.kind}</td>
            <td>
              <StateBadge state={c.status} />
            </td>
            <td>{c.is_approved ? '✓ yes' : '✗ no'}</td>
            <td>{c.approved_ip ?? '—'}</td>
            <td>{c.scan_range}</td>
            <td>
              <Time value={c.last_seen} />
            </td>
            <td className="row-actions">
              {c.is_approved ? (
                <button type="button" onClick={() => act.mutate({ client: c, verb: 'revoke' })}>
                  Revoke
                </button>
              ) : (
                <button type="button" onClick={() => setApproving(c)}>
                  Approve
                </button>
              )}
              <button type="button" onClick={() => act.mutate({ client: c, verb: 'toggle' })}>
                {c.is_enabled ? 'Disable' : 'Enable'}
              </button>
            </td>
          </tr>
        ))}
      </DataTable>
      <Pager info={all.data ? normalisePage(all.data) : null} />
      <ConfirmDialog
        open={approving !== null}
        heading={`Approve ${approving?.client_id ?? ''}?`}
        action="Approve"
        busy={act.isPending}
        error={approving ? act.error : null}
        onCancel={() => {
          setApproving(null);
          act.reset();
        }}
        onConfirm={() => approving && act.mutate({ client: approving, verb: 'approve' })}
      >
        {approving && (
          <p>
            It will be bound to the source address <strong>{source(approving)}</strong>: its heartbeats and
            results are accepted only from there. It scans {approving.scan_range} and listens on{' '}
            {approving.ip_address}:{approving.port}.
          </p>
        )}
      </ConfirmDialog>
    </>
  );
}

interface ClientAnswer {
  client: Client & { refused_ip?: string | null; refused_count?: number };
  recent_tasks: Array<{
    task_id?: string;
    scan_id: number;
    result_id: number;
    batch_id: number;
    status: string;
    targets: number;
    created_at: string;
    finished_at: string | null;
    error: string | null;
  }>;
}

export function ClientPage() {
  const { clientId } = useParams<{ clientId: string }>();
  const id = decodeURIComponent(clientId);
  const client = useQuery({
    queryKey: ['clients', 'one', id],
    queryFn: () => request<ClientAnswer>(`/api/clients/${encodeURIComponent(id)}`),
  });
  const c = client.data?.client;
  return (
    <>
      <PageTitle text={`Scanner client ${id}`} />
      <ErrorAlert error={client.error} />
      {c && (
        <dl className="facts">
          <div>
            <dt>Kind</dt>
            <dd>{c.kind}</dd>
          </div>
          <div>
            <dt>Status</dt>
            <dd>
              <StateBadge state={c.status} />
            </dd>
          </div>
          <div>
            <dt>Approved</dt>
            <dd>{c.is_approved ? `yes, bound to ${c.approved_ip ?? '—'}` : 'no'}</dd>
          </div>
          <div>
            <dt>Host name</dt>
            <dd>{c.hostname}</dd>
          </div>
          <div>
            <dt>Scan range</dt>
            <dd>{c.scan_range}</dd>
          </div>
          <div>
            <dt>Last seen</dt>
            <dd>
              <Time value={c.last_seen} />
            </dd>
          </div>
          {c.refused_ip && (
            <div>
              <dt>Refused</dt>
              <dd>
                {c.refused_count} requests from {c.refused_ip}
              </dd>
            </div>
          )}
        </dl>
      )}
      <DataTable
        query={client}
        caption="Recent tasks"
        columns={['Run', 'Batch', 'Status', 'Addresses', 'Created', 'Finished', 'Error']}
        empty="No tasks were pushed to this client (a worker pool's batches are in its runs)."
      >
        {(client.data?.recent_tasks ?? []).map((t) => (
          <tr key={`${t.result_id}-${t.batch_id}-${t.created_at}`}>
            <td>
              <Link href={`/runs/${t.result_id}`}>Run #{t.result_id}</Link>
            </td>
            <td>{t.batch_id}</td>
            <td>
              <StateBadge state={t.status} />
            </td>
            <td>{t.targets}</td>
            <td>
              <Time value={t.created_at} />
            </td>
            <td>
              <Time value={t.finished_at} />
            </td>
            <td>{t.error ?? ''}</td>
          </tr>
        ))}
      </DataTable>
    </>
  );
}
