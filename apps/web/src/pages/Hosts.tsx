// Hosts: look one up, and a host's history across runs with a port timeline.
import { FormEvent } from 'react';
import { Link, useLocation, useParams, useSearch } from 'wouter';
import { useQuery } from '@tanstack/react-query';
import { request } from '../api';
import { DataTable, ErrorAlert, Loading, PageTitle, Pager, StateBadge, Time } from '../components/ui';
import { HistoryRun, portTimeline } from '../lib/host-timeline';
import { normalisePage, pageFromQuery } from '../lib/pagination';

interface HistoryAnswer {
  address: string;
  history: Array<
    HistoryRun & {
      scan_id: number;
      scan_name: string;
      run_status: string;
      finished_at: string | null;
      hostnames: Array<{ name: string }>;
    }
  >;
}

export function HostsPage() {
  const [, navigate] = useLocation();
  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const value = String(new FormData(e.currentTarget).get('address') ?? '').trim();
    if (value) navigate(`/hosts/${encodeURIComponent(value)}`);
  };
  return (
    <>
      <PageTitle text="Hosts" />
      <p>Every run of your scans that saw an address, with its ports over time.</p>
      <form onSubmit={submit} className="inline-form">
        <label>
          Address
          <input name="address" placeholder="127.0.0.1 or ::1" required />
        </label>
        <button type="submit">Show host</button>
      </form>
    </>
  );
}

export function HostPage() {
  const { address: raw } = useParams<{ address: string }>();
  const address = decodeURIComponent(raw);
  const search = useSearch();
  const page = pageFromQuery(search);
  const history = useQuery({
    queryKey: ['host', address, page],
    queryFn: () =>
      request<HistoryAnswer>(`/api/hosts/${encodeURIComponent(address)}/history?page=${page}&per_page=50`),
  });
  const runs = history.data?.history ?? [];
  const timeline = portTimeline(runs);
  return (
    <>
      <PageTitle text={`Host ${address}`} />
      <ErrorAlert error={history.error} />
      {history.isLoading && <Loading what="the host's history" />}
      <DataTable
        query={history}
        caption={`Runs that saw ${address}`}
        columns={['Run', 'Scan', 'Started', 'Run status', 'Host state', 'Host names', 'Open ports']}
        empty={
          <>
            No run of your scans saw {address}. <Link href="/scans/new">Scan it</Link>.
          </>
        }
      >
        {runs.map((r) => (
          <tr key={r.result_id}>
            <td>
              <Link href={`/runs/${r.result_id}`}>Run #{r.result_id}</Link>
            </td>
            <td>
              <Link href={`/scans/${r.scan_id}`}>{r.scan_name}</Link>
            </td>
            <td>
              <Time value={r.started_at} />
            </td>
            <td>
              <StateBadge state={r.run_status} />
            </td>
            <td>
              <StateBadge state={r.state} />
            </td>
            <td>{r.hostnames.map((h) => h.name).join(', ')}</td>
            <td>{r.open_ports.map((p) => `${p.port}/${p.protocol}`).join(', ') || 'none'}</td>
          </tr>
        ))}
      </DataTable>
      <Pager info={history.data ? normalisePage(history.data) : null} />
      <DataTable
        query={history}
        caption="Port timeline"
        columns={['Port', 'First seen open', 'Last seen open', ...runs.map((r) => `Run #${r.result_id}`)]}
        empty="No port of this host was ever open."
      >
        {timeline.map((row) => (
          <tr key={row.port}>
            <th scope="row">{row.port}</th>
            <td>
              <Time value={row.firstSeen} />
            </td>
            <td>
              <Time value={row.lastSeen} />
            </td>
            {row.cells.map((c, i) => (
              <td key={i} className={`cell-${c.replace(' ', '-')}`}>
                {c === 'open' ? '● open' : c === 'not open' ? '○ not open' : '– not scanned'}
              </td>
            ))}
          </tr>
        ))}
      </DataTable>
    </>
  );
}
