// Webhooks: rules that POST a delta report with changes to a URL, and each rule's delivery log.
import { FormEvent, useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { ApiError, request } from '../api';
import {
  ConfirmDialog,
  Confirmation,
  DataTable,
  ErrorAlert,
  PageTitle,
  StateBadge,
  Time,
  useFlash,
} from '../components/ui';
import { fieldErrorsOf } from '../lib/form-errors';

interface Webhook {
  id: number;
  url: string;
  has_secret: boolean;
  is_active: boolean;
  kinds: string[];
  ports: number[];
  host_cidrs: string[];
  consecutive_failures: number;
  disabled_reason: string | null;
}
interface Delivery {
  id: number;
  delivery_id: string;
  report_id: number;
  attempt: number;
  status_code: number | null;
  error: string | null;
  duration_ms: number;
  delivered_at: string;
}

const KINDS: Array<[string, string]> = [
  ['new_up_hosts', 'New hosts up'],
  ['new_down_hosts', 'Hosts down'],
  ['added_ports', 'Added ports'],
  ['removed_ports', 'Removed ports'],
  ['changed_ports', 'Changed services'],
];

const list = (text: string) => text.split(/[\s,]+/).filter(Boolean);

export function WebhooksPage() {
  const queryClient = useQueryClient();
  const hooks = useQuery({ queryKey: ['webhooks'], queryFn: () => request<Webhook[]>('/api/webhooks') });
  const [selected, setSelected] = useState<number | null>(null);
  const [deleting, setDeleting] = useState<Webhook | null>(null);
  const [flash, setFlash] = useFlash();
  const [form, setForm] = useState({
    url: '',
    secret: '',
    ports: '',
    host_cidrs: '',
    kinds: [] as string[],
    active: true,
  });
  const create = useMutation({
    mutationFn: () => {
      const body: Record<string, unknown> = { url: form.url, is_active: form.active, kinds: form.kinds };
      if (form.secret) body.secret = form.secret;
      if (form.ports.trim()) body.ports = list(form.ports).map(Number);
      if (form.host_cidrs.trim()) body.host_cidrs = list(form.host_cidrs);
      return request<Webhook>('/api/webhooks', { body });
    },
    onSuccess: (w) => {
      setFlash(`Webhook #${w.id} added`);
      setForm({ url: '', secret: '', ports: '', host_cidrs: '', kinds: [], active: true });
      void queryClient.invalidateQueries({ queryKey: ['webhooks'] });
    },
  });
  const update = useMutation({
    mutationFn: ({ id, body, method }: { id: number; body?: object; method: string }) =>
      request(`/api/webhooks/${id}`, { method, body }),
    onSuccess: (_b, v) => {
      setDeleting(null);
      setFlash(v.method === 'DELETE' ? `Webhook #${v.id} deleted` : `Webhook #${v.id} updated`);
      if (v.method === 'DELETE' && selected === v.id) setSelected(null);
      void queryClient.invalidateQueries({ queryKey: ['webhooks'] });
    },
  });
  const deliveries = useQuery({
    queryKey: ['webhooks', selected, 'deliveries'],
    queryFn: () => request<{ deliveries: Delivery[] }>(`/api/webhooks/${selected}/deliveries?per_page=50`),
    enabled: selected !== null,
  });
  const errors =
    create.error instanceof ApiError
      ? fieldErrorsOf(create.error.body, {
          url: 'url',
          secret: 'secret',
          ports: 'ports',
          host_cidrs: 'host_cidrs',
          kinds: 'kinds',
        })
      : {};
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate();
  };
  const input = (key: 'url' | 'secret' | 'ports' | 'host_cidrs', label: string, type = 'text') => (
    <div className="field">
      <label htmlFor={`wh-${key}`}>{label}</label>
      <input
        id={`wh-${key}`}
        type={type}
        value={form[key]}
        onChange={(e) => setForm((f) => ({ ...f, [key]: e.target.value }))}
        aria-invalid={errors[key] ? true : undefined}
        aria-describedby={errors[key] ? `wh-${key}-error` : undefined}
      />
      {errors[key] && (
        <p id={`wh-${key}-error`} className="field-error">
          {errors[key]}
        </p>
      )}
    </div>
  );
  return (
    <>
      <PageTitle text="Webhooks" />
      <p>A webhook receives every delta report with changes that matches it, signed with its secret.</p>
      <form onSubmit={submit} className="stack narrow" noValidate>
        {input('url', 'URL', 'url')}
        {input('secret', 'Secret', 'password')}
        {input('ports', 'Ports')}
        {input('host_cidrs', 'Host CIDRs')}
        <fieldset>
          <legend>Kinds</legend>
          {KINDS.map(([k, label]) => (
            <label key={k} className="check">
              <input
                type="checkbox"
                checked={form.kinds.includes(k)}
                onChange={(e) =>
                  setForm((f) => ({
                    ...f,
                    kinds: e.target.checked ? [...f.kinds, k] : f.kinds.filter((x) => x !== k),
                  }))
                }
              />{' '}
              {label}
            </label>
          ))}
          <p className="hint">None checked: every kind.</p>
        </fieldset>
        <label className="check">
          <input
            type="checkbox"
            checked={form.active}
            onChange={(e) => setForm((f) => ({ ...f, active: e.target.checked }))}
          />{' '}
          Active
        </label>
        {errors._form && (
          <p role="alert" className="alert">
            {errors._form}
          </p>
        )}
        <button type="submit" disabled={create.isPending}>
          Add webhook
        </button>
      </form>
      <ErrorAlert error={hooks.error ?? update.error} />
      <Confirmation text={flash} />
      <DataTable
        query={hooks}
        caption="Webhooks"
        columns={['URL', 'Kinds', 'Ports', 'Host CIDRs', 'Active', 'Failures', 'Actions']}
        empty="No webhooks yet: add one above."
      >
        {(hooks.data ?? []).map((w) => (
          <tr key={w.id}>
            <td className="wrap">{w.url}</td>
            <td>{w.kinds.join(', ') || 'all'}</td>
            <td>{w.ports.join(', ') || 'all'}</td>
            <td>{w.host_cidrs.join(', ') || 'all'}</td>
            <td>{w.is_active ? 'Yes' : `No${w.disabled_reason ? ` (${w.disabled_reason})` : ''}`}</td>
            <td>{w.consecutive_failures}</td>
            <td className="row-actions">
              <button type="button" onClick={() => setSelected(w.id)}>
                Show deliveries
              </button>
              <button
                type="button"
                onClick={() => update.mutate({ id: w.id, method: 'PUT', body: { is_active: !w.is_active } })}
              >
                {w.is_active ? 'Deactivate' : 'Activate'}
              </button>
              <button type="button" onClick={() => setDeleting(w)}>
                Delete
              </button>
            </td>
          </tr>
        ))}
      </DataTable>
      {selected !== null && (
        <DataTable
          query={deliveries}
          caption="Deliveries"
          columns={['Delivery', 'Report', 'Attempt', 'Answer', 'Duration', 'When']}
          empty={`No deliveries for webhook #${selected} yet.`}
        >
          {(deliveries.data?.deliveries ?? []).map((d) => (
            <tr key={d.id}>
              <td>{d.delivery_id}</td>
              <td>#{d.report_id}</td>
              <td>{d.attempt}</td>
              <td>
                {d.status_code !== null ? (
                  <StateBadge state={d.status_code < 300 ? 'completed' : 'failed'} />
                ) : null}{' '}
                {d.status_code ?? d.error}
              </td>
              <td>{d.duration_ms} ms</td>
              <td>
                <Time value={d.delivered_at} />
              </td>
            </tr>
          ))}
        </DataTable>
      )}
      <ConfirmDialog
        open={deleting !== null}
        heading={`Delete webhook #${deleting?.id ?? ''}?`}
        action="Delete webhook"
        busy={update.isPending}
        onCancel={() => setDeleting(null)}
        onConfirm={() => deleting && update.mutate({ id: deleting.id, method: 'DELETE' })}
      />
    </>
  );
}
