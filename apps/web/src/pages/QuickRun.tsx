// Quick nmap run: one synchronous nmap over POST /api/nmap/run, its output and exit code.
import { FormEvent, useMemo, useState } from 'react';
import { useMutation } from '@tanstack/react-query';
import { ApiError, request } from '../api';
import { ErrorAlert, PageTitle } from '../components/ui';
import { LiveLog } from '../components/LiveLog';
import { LogStore } from '../lib/log-store';

export function QuickRunPage() {
  const [targets, setTargets] = useState('127.0.0.1');
  const [flags, setFlags] = useState('-sT -Pn -p 22,80,3000');
  const [exitCode, setExitCode] = useState<number | null>(null);
  const store = useMemo(() => new LogStore(), []);
  const listeners = useMemo(() => new Set<() => void>(), []);
  const source = useMemo(
    () => ({
      store,
      subscribe: (l: () => void) => {
        listeners.add(l);
        return () => void listeners.delete(l);
      },
    }),
    [store, listeners],
  );
  // nmap's output ends with a newline: no blank last line, and no output is no line at all.
  const show = (text: string) => {
    store.clear();
    const trimmed = text.replace(/\r?\n$/, '');
    if (trimmed) store.append(trimmed.split(/\r?\n/));
    for (const l of listeners) l();
  };
  const run = useMutation({
    mutationFn: () =>
      request<{ stdout: string; exit_code: number }>('/api/nmap/run', {
        body: {
          targets: targets.split(/[\s,]+/).filter(Boolean),
          nmap_flags: flags.split(/\s+/).filter(Boolean),
        },
      }),
    onMutate: () => {
      setExitCode(null);
      show('');
    },
    onSuccess: (body) => {
      show(body.stdout);
      setExitCode(body.exit_code);
    },
    onError: (err) => {
      if (err instanceof ApiError && typeof err.body.exit_code === 'number') {
        show(String(err.body.stdout ?? '') + String(err.body.stderr ?? ''));
        setExitCode(err.body.exit_code);
      }
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    run.mutate();
  };
  return (
    <>
      <PageTitle text="Quick nmap run" />
      <form onSubmit={submit} className="stack narrow">
        <label>
          Targets
          <input value={targets} onChange={(e) => setTargets(e.target.value)} required />
        </label>
        <label>
          nmap options
          <input value={flags} onChange={(e) => setFlags(e.target.value)} />
        </label>
        <button type="submit" disabled={run.isPending}>
          {run.isPending ? 'Running…' : 'Run nmap'}
        </button>
      </form>
      <ErrorAlert error={run.error} />
      {exitCode !== null && <p role="status">Exit code {exitCode}</p>}
      <LiveLog source={source} />
    </>
  );
}
