// One run: its hosts, paged and filtered on the server (counts and rows come from one answer).
import { Fragment, useState } from 'react';
import { Link, useLocation, useParams, useSearch } from 'wouter';
import { useQuery } from '@tanstack/react-query';
import { request } from '../api';
import {
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
import { normalisePage, pageFromQuery, withQuery } from '../lib/pagination';
import { RunRow, Scan } from './types';

interface HostItem {
  address: string;
  hostnames: Array<{ name: string; type: string | null }>;
  state: string;
  reason: string | null;
  ports: Array<{
    protocol: string;
    port: number;
    state: string;
    reason: string | null;
    service: {
      name: string | null;
      product: string | null;
      version: string | null;
      extrainfo: string | null;
    } | null;
  }>;
}

interface ResultAnswer {
  result: RunRow & { scan_id: number };
  hosts: {
    items: HostItem[];
    total: number;
    page: number;
    per_page: number;
    pages: number;
    has_next: boolean;
    has_prev: boolean;
  };
}

const HOST_STATES = ['up', 'down', 'unknown', 'skipped'];
const PORT_STATES = ['open', 'closed', 'filtered', 'unfiltered', 'open|filtered', 'closed|filtered'];

export function RunPage() {
  const { resultId } = useParams<{ resultId: string }>();
  const id = Number(resultId);
  const head = useQuery({
    queryKey: ['run', id, 'head'],
    queryFn: () => request<ResultAnswer>(`/api/results/${id}?per_page=1`),
  });
  const scanId = head.data?.result.scan_id;
  const scan = useQuery({
    queryKey: ['scan', scanId],
    queryFn: () => request<{ scan: Scan }>(`/api/scans/${scanId}`),
    enabled: scanId !== undefined,
  });
  const r = head.data?.result;
  const title = `Run #${id} of ${scan.data?.scan.name ?? (scanId ? `scan #${scanId}` : '…')}`;
  return (
    <>
      <PageTitle text={title} />
      <ErrorAlert error={head.error} />
      {r && (
        <dl className="facts">
          <div>
            <dt>Status</dt>
            <dd>
              <StateBadge state={r.status} />
            </dd>
          </div>
          <div>
            <dt>Scan</dt>
            <dd>
              <Link href={`/scans/${r.scan_id}`}>{scan.data?.scan.name ?? `Scan #${r.scan_id}`}</Link>
            </dd>
          </div>
          <div>
            <dt>Started</dt>
            <dd>
              <Time value={r.started_at} />
            </dd>
          </div>
          <div>
            <dt>Finished</dt>
            <dd>
              <Time value={r.finished_at} />
            </dd>
          </div>
          <div>
            <dt>Options</dt>
            <dd>{(r.nmap_flags ?? []).join(' ')}</dd>
          </div>
          <div>
            <dt>Found</dt>
            <dd>
              {r.hosts_up} hosts up, {r.open_ports} open ports
            </dd>
          </div>
          {r.unassigned_targets && r.unassigned_targets.length > 0 && (
            <div>
              <dt>Not scanned</dt>
              <dd>{r.unassigned_targets.join(', ')}</dd>
            </div>
          )}
        </dl>
      )}
      <RunHosts resultId={id} />
    </>
  );
}

/** The hosts table of a run with the server's filters; state in the URL (`host_state`, `port_state`, `page`). */
export function RunHosts({ resultId }: { resultId: number }) {
  const search = useSearch();
  const [location, navigate] = useLocation();
  const params = new URLSearchParams(search);
  const hostState = params.get('host_state') ?? '';
  const portState = params.get('port_state') ?? '';
  const page = pageFromQuery(search);
  const q = new URLSearchParams({ page: String(page), per_page: '50' });
  if (hostState) q.set('host_state', hostState);
  if (portState) q.set('port_state', portState);
  const hosts = useQuery({
    queryKey: ['run', resultId, 'hosts', q.toString()],
    queryFn: () => request<ResultAnswer>(`/api/results/${resultId}?${q}`),
  });
  const [open, setOpen] = useState<Set<string>>(new Set());
  const [flash, setFlash] = useFlash();
  const items = hosts.data?.hosts.items ?? [];
  const setFilter = (key: string, value: string) =>
    navigate(`${location}${withQuery(search, { [key]: value, page: null })}`);
  const copy = async () => {
    const text = items.map((h) => h.address).join('\n');
    try {
      await navigator.clipboard.writeText(text);
      setFlash(`Copied ${items.length} addresses`);
    } catch {
      setFlash(`Copy failed; the addresses are: ${text.replace(/\n/g, ', ')}`);
    }
  };
  const toggle = (address: string) =>
    setOpen((s) => {
      const next = new Set(s);
      if (next.has(address)) next.delete(address);
      else next.add(address);
      return next;
    });

  return (
    <section>
      <h2>Hosts</h2>
      <div className="inline-form">
        <label>
          Host state
          <select value={hostState} onChange={(e) => setFilter('host_state', e.target.value)}>
            <option value="">any</option>
            {HOST_STATES.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
        <label>
          Port state
          <select value={portState} onChange={(e) => setFilter('port_state', e.target.value)}>
            <option value="">any</option>
            {PORT_STATES.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
        <button type="button" onClick={() => void copy()} disabled={items.length === 0}>
          Copy addresses
        </button>
      </div>
      <Confirmation text={flash} />
      <ErrorAlert error={hosts.error} />
      {hosts.isLoading && <Loading what="hosts" />}
      <DataTable
        query={hosts}
        caption="Hosts"
        columns={['Address', 'Host names', 'State', 'Open ports']}
        empty={hostState || portState ? 'No host matches these filters.' : 'No host stored for this run yet.'}
      >
        {items.map((h) => {
          const openPorts = h.ports.filter((p) => p.state === 'open');
          return (
            <Fragment key={h.address}>
              <tr>
                <td>
                  <Link href={`/hosts/${encodeURIComponent(h.address)}`}>{h.address}</Link>
                </td>
                <td>{h.hostnames.map((n) => n.name).join(', ')}</td>
                <td>
                  <StateBadge state={h.state} />
                </td>
                <td>
                  {openPorts.map((p) => `${p.port}/${p.protocol}`).join(', ') || 'none'}{' '}
                  {h.ports.length > 0 && (
                    <button
                      type="button"
                      aria-expanded={open.has(h.address)}
                      onClick={() => toggle(h.address)}
                    >
                      Show ports of {h.address}
                    </button>
                  )}
                </td>
              </tr>
              {open.has(h.address) && (
                <tr>
                  <td colSpan={4}>
                    <DataTable
                      caption={`Ports of ${h.address}`}
                      columns={['Port', 'Protocol', 'State', 'Reason', 'Service', 'Product', 'Version']}
                      empty="No ports."
                    >
                      {h.ports.map((p) => (
                        <tr key={`${p.protocol}/${p.port}`}>
                          <td>{p.port}</td>
                          <td>{p.protocol}</td>
                          <td>{p.state}</td>
                          <td>{p.reason ?? ''}</td>
                          <td>{p.service?.name ?? ''}</td>
                          <td>{p.service?.product ?? ''}</td>
                          <td>{p.service?.version ?? ''}</td>
                        </tr>
                      ))}
                    </DataTable>
                  </td>
                </tr>
              )}
            </Fragment>
          );
        })}
      </DataTable>
      <Pager info={hosts.data ? normalisePage(hosts.data.hosts) : null} />
    </section>
  );
}
