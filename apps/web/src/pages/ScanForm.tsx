// New scan (run once now, or save a definition with an interval or cron schedule) and Edit scan. The next runs
// are previewed before saving; the gateway's 400s land on the fields they name.
import { FormEvent, ReactNode, useMemo, useState } from 'react';
import { useLocation, useParams } from 'wouter';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { ApiError, request } from '../api';
import { ErrorAlert, Loading, PageTitle, Time } from '../components/ui';
import { fieldErrorsOf, FieldErrors } from '../lib/form-errors';
import { Project, Scan } from './types';
import {
  ALIASES,
  EMPTY,
  Mode,
  ScheduleKind,
  splitWords,
  timeZones,
  Values,
  valuesOf,
} from './scan-form-values';
import { PlanSummary, StartPlan, useSchedulePreview } from './ScanFormPreview';

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
