// The scans list: server-side filters and paging (state in the URL), row actions, a delete confirmation.
import { useState } from 'react';
import { Link, useLocation, useSearch } from 'wouter';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { request } from '../api';
import {
  ConfirmDialog,
  Confirmation,
  DataTable,
  ErrorAlert,
  PageTitle,
  Pager,
  StateBadge,
  Time,
  useFlash,
} from '../components/ui';
import { normalisePage, pageFromQuery, withQuery } from '../lib/pagination';
import { describeSchedule } from '../lib/schedule';
import { portsOfScan } from '../lib/scan-ports';
import { Scan } from './types';

export function ScansPage() {
  const search = useSearch();
  const [, navigate] = useLocation();
  const params = new URLSearchParams(search);
  const activeOnly = params.get('active') === '1';
  const scheduledOnly = params.get('scheduled') === '1';
  const page = pageFromQuery(search);
  const query = new URLSearchParams({ page: String(page), per_page: '25' });
  if (activeOnly) query.set('is_active', 'true');
  if (scheduledOnly) query.set('is_scheduled', 'true');
  const scans = useQuery({
    queryKey: ['scans', 'list', query.toString()],
    queryFn: () => request<{ scans: Scan[]; total: number }>(`/api/scans?${query}`),
  });
  const queryClient = useQueryClient();
  const [flash, setFlash] = useFlash();
  const [deleting, setDeleting] = useState<Scan | null>(null);
  const refresh = () => queryClient.invalidateQueries({ queryKey: ['scans'] });
  const action = useMutation({
    mutationFn: async ({ scan, verb }: { scan: Scan; verb: 'run' | 'toggle' | 'delete' }) => {
      if (verb === 'run') return request<{ message: string }>(`/api/scans/${scan.id}/execute`);
      if (verb === 'toggle')
        return request<{ message: string }>(`/api/scans/${scan.id}/toggle`, { method: 'POST' });
      return request<{ message: string }>(`/api/scans/${scan.id}`, { method: 'DELETE' });
    },
    onSuccess: (body, { scan }) => {
      setFlash(`${scan.name}: ${body.message}`);
      setDeleting(null);
      void refresh();
    },
  });
  const setFilter = (key: string, on: boolean) =>
    navigate(`/scans${withQuery(search, { [key]: on ? '1' : null, page: null })}`);

  return (
    <>
      <PageTitle text="Scans" />
      <p>
        <Link href="/scans/new">New scan</Link>
      </p>
      <fieldset className="filters">
        <legend>Filters</legend>
        <label className="check">
          <input
            type="checkbox"
            checked={activeOnly}
            onChange={(e) => setFilter('active', e.target.checked)}
          />{' '}
          Active only
        </label>
        <label className="check">
          <input
            type="checkbox"
            checked={scheduledOnly}
            onChange={(e) => setFilter('scheduled', e.target.checked)}
          />{' '}
          Scheduled only
        </label>
      </fieldset>
      <ErrorAlert error={scans.error ?? (deleting ? null : action.error)} />
      <Confirmation text={flash} />
      <DataTable
        query={scans}
        caption="Scans"
        columns={[
          'Name',
          'Targets',
          'Ports',
          'Schedule',
          'Active',
          'Last run',
          'Next run',
          'Runs',
          'Success rate',
          'Actions',
        ]}
        empty={
          scans.isLoading ? (
            'Loading scans…'
          ) : (
            <>
              No scans {activeOnly || scheduledOnly ? 'match these filters' : 'yet'}.{' '}
              <Link href="/scans/new">Start a scan</Link>.
            </>
          )
        }
      >
        {(scans.data?.scans ?? []).map((scan) => (
          <tr key={scan.id}>
            <td>
              <Link href={`/scans/${scan.id}`}>{scan.name}</Link>
            </td>
            <td className="wrap">{scan.target}</td>
            <td>{portsOfScan(scan)}</td>
            <td>{describeSchedule(scan)}</td>
            <td>{scan.is_active ? 'Yes' : 'No'}</td>
            <td>
              {scan.latest_run ? (
                <>
                  <Link href={`/runs/${scan.latest_run.result_id}`}>Run #{scan.latest_run.result_id}</Link>{' '}
                  <StateBadge state={scan.latest_run.status} />
                  {scan.latest_run.status === 'running' && scan.latest_run.progress
                    ? ` ${Math.round(scan.latest_run.progress.percent)} %`
                    : ''}{' '}
                </>
              ) : null}
              <Time value={scan.last_run} />
            </td>
            <td>
              <Time value={scan.is_active && scan.is_scheduled ? scan.next_run : null} />
            </td>
            <td>{scan.result_count ?? '—'}</td>
            <td>
              {scan.success_rate === null || scan.success_rate === undefined
                ? '—'
                : `${Math.round(scan.success_rate)} %`}
            </td>
            <td className="row-actions">
              <button
                type="button"
                disabled={!scan.is_active}
                onClick={() => action.mutate({ scan, verb: 'run' })}
              >
                Run now
              </button>
              <button type="button" onClick={() => action.mutate({ scan, verb: 'toggle' })}>
                {scan.is_active ? 'Deactivate' : 'Activate'}
              </button>
              <Link href={`/scans/${scan.id}/edit`}>Edit</Link>
              <button type="button" onClick={() => setDeleting(scan)}>
                Delete
              </button>
            </td>
          </tr>
        ))}
      </DataTable>
      <Pager info={scans.data ? normalisePage(scans.data) : null} />
      <ConfirmDialog
        open={deleting !== null}
        heading={`Delete scan ${deleting?.name ?? ''}?`}
        action="Delete scan"
        busy={action.isPending}
        error={deleting ? action.error : null}
        onCancel={() => {
          setDeleting(null);
          action.reset();
        }}
        onConfirm={() => deleting && action.mutate({ scan: deleting, verb: 'delete' })}
      >
        <p>
          The scan becomes inactive and unscheduled, a running run is stopped. Its runs and reports are kept.
        </p>
      </ConfirmDialog>
    </>
  );
}
