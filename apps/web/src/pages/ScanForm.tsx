// New scan (run once now, or save a definition with an interval or cron schedule) and Edit scan. The next runs
// are previewed before saving; the gateway's 400s land on the fields they name.
import { FormEvent, ReactNode, useEffect, useMemo, useState } from 'react';
import { useLocation, useParams } from 'wouter';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { ApiError, request } from '../api';
import { ErrorAlert, Loading, PageTitle, Time } from '../components/ui';
import { fieldErrorsOf, FieldErrors } from '../lib/form-errors';
import { intervalPreview, looksLikeCron, previewRuns } from '../lib/schedule';
import { Project, Scan } from './types';

type Mode = 'once' | 'definition';
type ScheduleKind = 'none' | 'interval' | 'cron';

interface Values {
  name: string;
  description: string;
  targets: string;
  ports: string;
  nmap_flags: string;
  project_id: string;
  chunk_size: string;
  concurrency: string;
  runner: string;
  interval_minutes: string;
  cron: string;
  timezone: string;
  is_active: boolean;
}

const EMPTY: Values = {
  name: '',
  description: '',
  targets: '',
  ports: '',
  nmap_flags: '-sT -Pn -n',
  project_id: '',
  chunk_size: '256',
  concurrency: '6',
  runner: 'asyncio',
  interval_minutes: '60',
  cron: '0 2 * * *',
  timezone: 'UTC',
  is_active: true,
};

/** API field names → the form's. */
const ALIASES: Record<string, string> = {
  target: 'targets',
  targets: 'targets',
  scan_arguments: 'nmap_flags',
  nmap_flags: 'nmap_flags',
  name: 'name',
  description: 'description',
  ports: 'ports',
  project_id: 'project_id',
  chunk_size: 'chunk_size',
  concurrency: 'concurrency',
  runner: 'runner',
  interval_minutes: 'interval_minutes',
  cron: 'cron',
  timezone: 'timezone',
  is_active: 'is_active',
  is_scheduled: 'interval_minutes',
};

function valuesOf(scan: Scan): Values {
  return {
    name: scan.name,
    description: scan.description ?? '',
    targets: scan.target,
    ports: scan.ports ?? '',
    nmap_flags: scan.scan_arguments,
    project_id: String(scan.project_id ?? ''),
    chunk_size: String(scan.chunk_size),
    concurrency: String(scan.concurrency),
    runner: scan.runner,
    interval_minutes: String(scan.interval_minutes ?? 60),
    cron: scan.cron ?? '0 2 * * *',
    timezone: scan.timezone ?? 'UTC',
    is_active: scan.is_active,
  };
}

const splitWords = (text: string) => text.split(/[\s,]+/).filter(Boolean);

function timeZones(): string[] {
  const intl = Intl as unknown as { supportedValuesOf?: (k: string) => string[] };
  const zones = intl.supportedValuesOf?.('timeZone') ?? [];
  return ['UTC', ...zones.filter((z) => z !== 'UTC')];
}

export function ScanFormPage() {
  const params = useParams<{ id?: string }>();
  const editId = params.id ? Number(params.id) : null;
  const existing = useQuery({
    queryKey: ['scan', editId],
    queryFn: () => request<{ scan: Scan }>(`/api/scans/${editId}`),
    enabled: editId !== null,
  });
  if (editId !== null && !existing.data)
    return (
      <>
        <PageTitle text="Edit scan" />
        {existing.error ? <ErrorAlert error={existing.error} /> : <Loading what="the scan" />}
      </>
    );
  return <ScanForm key={editId ?? 'new'} scan={existing.data?.scan ?? null} />;
}

function ScanForm({ scan }: { scan: Scan | null }) {
  const editing = scan !== null;
  const [, navigate] = useLocation();
  const queryClient = useQueryClient();
  const [mode, setMode] = useState<Mode>(editing ? 'definition' : 'once');
  const [schedule, setSchedule] = useState<ScheduleKind>(
    scan?.is_scheduled ? (scan.cron ? 'cron' : 'interval') : 'none',
  );
  const [v, setV] = useState<Values>(scan ? valuesOf(scan) : EMPTY);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [busy, setBusy] = useState(false);
  const [plan, setPlan] = useState<StartPlan | null>(null);
  const projects = useQuery({ queryKey: ['projects'], queryFn: () => request<Project[]>('/api/projects') });
  const zones = useMemo(timeZones, []);
  const set = (key: keyof Values) => (e: { target: { value: string } }) =>
    setV((x) => ({ ...x, [key]: e.target.value }));

  const preview = useSchedulePreview(mode === 'definition' ? schedule : 'none', v);

  const definitionBody = () => {
    const body: Record<string, unknown> = {
      name: v.name.trim(),
      description: v.description,
      target: v.targets,
      scan_arguments: v.nmap_flags,
      runner: v.runner,
      chunk_size: Number(v.chunk_size),
      concurrency: Number(v.concurrency),
      is_active: v.is_active,
      is_scheduled: schedule !== 'none',
    };
    if (!editing && !body.name) delete body.name;
    if (v.ports.trim()) body.ports = v.ports.trim();
    else if (editing) body.ports = null;
    if (v.project_id) body.project_id = Number(v.project_id);
    if (schedule === 'interval') body.interval_minutes = Number(v.interval_minutes);
    if (schedule === 'cron') {
      body.cron = v.cron.trim();
      body.timezone = v.timezone;
    }
    return body;
  };

  const startBody = () => {
    const flags = splitWords(v.nmap_flags.replace(/,/g, ' '));
    if (v.ports.trim()) flags.push('-p', v.ports.trim());
    const body: Record<string, unknown> = {
      targets: splitWords(v.targets),
      nmap_flags: flags,
      runner: v.runner,
      chunk_size: Number(v.chunk_size),
      concurrency: Number(v.concurrency),
    };
    if (v.project_id) body.project_id = Number(v.project_id);
    return body;
  };

  const submit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const submitter = (e.nativeEvent as SubmitEvent).submitter as HTMLButtonElement | null;
    const runAfter = submitter?.value === 'save-run';
    setBusy(true);
    setErrors({});
    setPlan(null);
    try {
      if (mode === 'once') {
        if (submitter?.value === 'check') {
          setPlan(await request<StartPlan>('/api/scans/start/preview', { body: startBody() }));
          return;
        }
        const started = await request<{ scan_id: number }>('/api/scans/start', { body: startBody() });
        void queryClient.invalidateQueries({ queryKey: ['scans'] });
        navigate(`/scans/${started.scan_id}`);
        return;
      }
      const saved = editing
        ? await request<{ scan: Scan }>(`/api/scans/${scan.id}`, { method: 'PUT', body: definitionBody() })
        : await request<{ scan: Scan }>('/api/scans', { body: definitionBody() });
      if (runAfter) await request(`/api/scans/${saved.scan.id}/execute`);
      void queryClient.invalidateQueries({ queryKey: ['scans'] });
      void queryClient.invalidateQueries({ queryKey: ['scan', saved.scan.id] });
      navigate(`/scans/${saved.scan.id}`);
    } catch (err) {
      setErrors(err instanceof ApiError ? fieldErrorsOf(err.body, ALIASES) : { _form: String(err) });
    } finally {
      setBusy(false);
    }
  };

  const field = (name: keyof Values, label: string, input: ReactNode, hint?: string) => (
    <div className="field">
      <label htmlFor={`f-${name}`}>{label}</label>
      {input}
      {hint && (
        <p className="hint" id={`f-${name}-hint`}>
          {hint}
        </p>
      )}
      {errors[name] && (
        <p className="field-error" id={`f-${name}-error`}>
          {errors[name]}
        </p>
      )}
    </div>
  );
  const aria = (name: keyof Values, hint = false) => ({
    id: `f-${name}`,
    'aria-invalid': errors[name] ? true : undefined,
    'aria-describedby':
      [errors[name] ? `f-${name}-error` : '', hint ? `f-${name}-hint` : ''].filter(Boolean).join(' ') ||
      undefined,
  });

  return (
    <>
      <PageTitle text={editing ? 'Edit scan' : 'New scan'} />
      <form onSubmit={submit} className="stack scan-form" noValidate>
        {!editing && (
          <fieldset>
            <legend>What to do</legend>
            <label className="check">
              <input type="radio" name="mode" checked={mode === 'once'} onChange={() => setMode('once')} />{' '}
              Run once now
            </label>
            <label className="check">
              <input
                type="radio"
                name="mode"
                checked={mode === 'definition'}
                onChange={() => setMode('definition')}
              />{' '}
              Save as scan definition
            </label>
          </fieldset>
        )}
        {mode === 'definition' && (
          <>
            {field(
              'name',
              'Name',
              <input {...aria('name')} value={v.name} onChange={set('name')} maxLength={200} />,
            )}
            {field(
              'description',
              'Description',
              <textarea
                {...aria('description')}
                value={v.description}
                onChange={set('description')}
                rows={2}
              />,
            )}
          </>
        )}
        {field(
          'targets',
          'Targets',
          <input
            {...aria('targets', true)}
            value={v.targets}
            onChange={set('targets')}
            placeholder="127.0.0.1, 127.0.0.0/28"
          />,
          'Addresses, CIDRs, nmap ranges or host names, separated by commas or spaces.',
        )}
        {field(
          'ports',
          'Ports',
          <input {...aria('ports', true)} value={v.ports} onChange={set('ports')} placeholder="22,80,443" />,
          "An nmap port list; empty for nmap's default ports.",
        )}
        {field(
          'nmap_flags',
          'nmap options',
          <input {...aria('nmap_flags')} value={v.nmap_flags} onChange={set('nmap_flags')} />,
        )}
        {field(
          'project_id',
          'Project',
          <select {...aria('project_id')} value={v.project_id} onChange={set('project_id')}>
            <option value="">Default project</option>
            {(projects.data ?? []).map((p) => (
              <option key={p.id} value={p.id}>
                {p.name}
              </option>
            ))}
          </select>,
        )}
        <div className="row">
          {field(
            'chunk_size',
            'Chunk size',
            <input
              {...aria('chunk_size')}
              type="number"
              min={1}
              max={4096}
              value={v.chunk_size}
              onChange={set('chunk_size')}
            />,
          )}
          {field(
            'concurrency',
            'Concurrency',
            <input
              {...aria('concurrency')}
              type="number"
              min={1}
              max={64}
              value={v.concurrency}
              onChange={set('concurrency')}
            />,
          )}
          {field(
            'runner',
            'Runner',
            <select {...aria('runner')} value={v.runner} onChange={set('runner')}>
              <option value="asyncio">asyncio</option>
              <option value="multiprocessing">multiprocessing</option>
            </select>,
          )}
        </div>
        {mode === 'definition' && (
          <>
            <fieldset>
              <legend>Schedule</legend>
              <label className="check">
                <input
                  type="radio"
                  name="schedule"
                  checked={schedule === 'none'}
                  onChange={() => setSchedule('none')}
                />{' '}
                Not scheduled
              </label>
              <label className="check">
                <input
                  type="radio"
                  name="schedule"
                  checked={schedule === 'interval'}
                  onChange={() => setSchedule('interval')}
                />{' '}
                Every N minutes
              </label>
              <label className="check">
                <input
                  type="radio"
                  name="schedule"
                  checked={schedule === 'cron'}
                  onChange={() => setSchedule('cron')}
                />{' '}
                Cron schedule
              </label>
            </fieldset>
            {schedule === 'interval' &&
              field(
                'interval_minutes',
                'Interval (minutes)',
                <input
                  {...aria('interval_minutes')}
                  type="number"
                  min={1}
                  max={525600}
                  value={v.interval_minutes}
                  onChange={set('interval_minutes')}
                />,
              )}
            {schedule === 'cron' && (
              <div className="row">
                {field(
                  'cron',
                  'Cron expression',
                  <input {...aria('cron', true)} value={v.cron} onChange={set('cron')} />,
                  'minute hour day-of-month month day-of-week',
                )}
                {field(
                  'timezone',
                  'Time zone',
                  <select {...aria('timezone')} value={v.timezone} onChange={set('timezone')}>
                    {zones.map((z) => (
                      <option key={z}>{z}</option>
                    ))}
                  </select>,
                )}
              </div>
            )}
            <label className="check">
              <input
                type="checkbox"
                checked={v.is_active}
                onChange={(e) => setV((x) => ({ ...x, is_active: e.target.checked }))}
              />{' '}
              Active
            </label>
            {schedule !== 'none' && (
              <section aria-labelledby="next-runs-h">
                <h2 id="next-runs-h">Next runs</h2>
                {preview.error ? (
                  <p className="muted">{preview.error}</p>
                ) : (
                  <ul aria-labelledby="next-runs-h">
                    {preview.runs.map((t) => (
                      <li key={t}>
                        <Time value={t} />
                      </li>
                    ))}
                  </ul>
                )}
                {!v.is_active && (
                  <p className="muted">Inactive: nothing fires until the scan is activated.</p>
                )}
              </section>
            )}
          </>
        )}
        {plan && <PlanSummary plan={plan} />}
        {errors._form && (
          <p role="alert" className="alert">
            {errors._form}
          </p>
        )}
        {Object.keys(errors).some((k) => k !== '_form') && (
          <p role="alert" className="alert">
            The gateway refused the scan: see the fields marked above.
          </p>
        )}
        <div className="actions">
          {mode === 'once' ? (
            <>
              <button type="submit" disabled={busy}>
                Start scan
              </button>
              <button type="submit" value="check" className="secondary" disabled={busy}>
                Check targets
              </button>
            </>
          ) : (
            <>
              <button type="submit" value="save" disabled={busy}>
                Save scan
              </button>
              <button type="submit" value="save-run" disabled={busy}>
                Save and run now
              </button>
            </>
          )}
        </div>
      </form>
    </>
  );
}

/** The next fires: an interval locally (it fires at once, then every N minutes), a cron by the gateway's library. */
function useSchedulePreview(kind: ScheduleKind, v: Values): { runs: string[]; error: string | null } {
  const [cronRuns, setCronRuns] = useState<{ runs: string[]; error: string | null }>({
    runs: [],
    error: null,
  });
  const interval = Number(v.interval_minutes);
  useEffect(() => {
    if (kind !== 'cron') return;
    if (!looksLikeCron(v.cron)) {
      setCronRuns({ runs: [], error: 'A cron expression has five fields.' });
      return;
    }
    let cancelled = false;
    const timer = window.setTimeout(() => {
      const q = new URLSearchParams({ cron: v.cron.trim(), timezone: v.timezone, count: '5' });
      request(`/api/schedule/preview?${q}`)
        .then((body) => !cancelled && setCronRuns({ runs: previewRuns(body), error: null }))
        .catch(
          (err: unknown) =>
            !cancelled && setCronRuns({ runs: [], error: err instanceof Error ? err.message : String(err) }),
        );
    }, 400);
    return () => {
      cancelled = true;
      window.clearTimeout(timer);
    };
  }, [kind, v.cron, v.timezone]);
  if (kind === 'interval') {
    const runs = intervalPreview(new Date(), interval, 5);
    return {
      runs,
      error: runs.length ? null : 'The interval is a whole number of minutes from 1 to 525600.',
    };
  }
  if (kind === 'cron') return cronRuns;
  return { runs: [], error: null };
}

/** The answer of `POST /api/scans/start/preview` (a dry run: nothing stored). */
interface StartPlan {
  would_start: boolean;
  refusal: { status: number; body?: { error?: string }; error?: string } | null;
  addresses: number;
  targets_total: number;
  batches_total: number;
  delegation: Array<{
    clients: string[];
    agents: string[];
    target_ranges: string[];
    targets: number;
    batches: number;
  }>;
  unassigned_targets: string[];
  out_of_scope: string[];
}

function PlanSummary({ plan }: { plan: StartPlan }) {
  const refusal = plan.refusal?.body?.error ?? plan.refusal?.error;
  return (
    <section aria-labelledby="plan-h" className="note">
      <h2 id="plan-h">What a start would do</h2>
      <p role="status">
        {plan.would_start ? '✓ ' : '✗ '}
        {plan.addresses} addresses, {plan.targets_total} delegated in {plan.batches_total} batches
        {plan.would_start ? '.' : `; the start would be refused${refusal ? `: ${refusal}` : '.'}`}
      </p>
      <ul>
        {plan.delegation.map((d, i) => (
          <li key={i}>
            {[...d.clients, ...d.agents].join(', ')}: {d.targets} addresses in {d.batches} batches (
            {d.target_ranges.join(', ')})
          </li>
        ))}
        {plan.unassigned_targets.length > 0 && (
          <li>Not scanned (no client covers them): {plan.unassigned_targets.join(', ')}</li>
        )}
        {plan.out_of_scope.length > 0 && <li>Outside the scan scope: {plan.out_of_scope.join(', ')}</li>}
      </ul>
    </section>
  );
}
