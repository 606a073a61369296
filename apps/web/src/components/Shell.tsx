// The frame of every signed-in page: banner, the "Main" navigation (folding behind "Menu" at 390 px), the
// host search, the notifications region fed by the browser's one shared /api/stream, and the main landmark.
import { FormEvent, ReactNode, useCallback, useEffect, useRef, useState } from 'react';
import { Link, useLocation } from 'wouter';
import { useQueryClient } from '@tanstack/react-query';
import { ApiError, onRateLimited, rateLimitPauseMs, toLogin } from '../api';
import { subscribeToStream, StreamMessage } from '../stream';
import { ErrorBoundary } from './ErrorBoundary';
import { ErrorAlert, PageTitle, useMe } from './ui';

interface Notice {
  key: number;
  type: string;
  message: string;
}

const NAV: Array<{ href: string; label: string; admin?: boolean }> = [
  { href: '/dashboard', label: 'Dashboard' },
  { href: '/scans', label: 'Scans' },
  { href: '/scans/new', label: 'New scan' },
  { href: '/reports', label: 'Reports' },
  { href: '/hosts', label: 'Hosts' },
  { href: '/clients', label: 'Scanner clients', admin: true },
  { href: '/projects', label: 'Projects' },
  { href: '/tokens', label: 'API tokens' },
  { href: '/webhooks', label: 'Webhooks' },
  { href: '/nmap', label: 'Quick nmap run' },
];

/** Query keys refetched (debounced) when a notification arrives: lists whose content a push may change. */
const PUSHED_KEYS = ['stats', 'scans', 'reports', 'clients', 'scan'];

export function Shell({ children }: { children: ReactNode }) {
  const me = useMe();
  const [location, navigate] = useLocation();
  const [menuOpen, setMenuOpen] = useState(false);
  const [notices, setNotices] = useState<Notice[]>([]);
  // An object per 429, so that a second one with the same seconds restarts the notice's timeout.
  const [retryAfter, setRetryAfter] = useState<{ seconds: number } | null>(null);
  const queryClient = useQueryClient();
  const counter = useRef(0);
  const refetchTimer = useRef<number | undefined>(undefined);

  const onMessage = useCallback(
    (m: StreamMessage) => {
      if (m.type === 'redirect') {
        queryClient.clear();
        toLogin();
        return;
      }
      if (!m.message) return;
      setNotices((list) => [
        ...list.slice(-19),
        { key: ++counter.current, type: m.type, message: m.message! },
      ]);
      // Refetch what a push may have changed, at most once per 2 s burst, and not before a 429 has passed.
      window.clearTimeout(refetchTimer.current);
      refetchTimer.current = window.setTimeout(
        () => {
          for (const key of PUSHED_KEYS) void queryClient.invalidateQueries({ queryKey: [key] });
        },
        Math.max(2000, rateLimitPauseMs()),
      );
    },
    [queryClient],
  );

  const signedIn = me.isSuccess;
  useEffect(() => {
    if (!signedIn) return;
    return subscribeToStream(onMessage);
  }, [signedIn, onMessage]);

  useEffect(() => onRateLimited((seconds) => setRetryAfter({ seconds })), []);
  // The notice goes when the pause it announces is over (one timeout, no ticking clock).
  useEffect(() => {
    if (retryAfter === null) return;
    const timer = window.setTimeout(() => setRetryAfter(null), Math.max(1000, rateLimitPauseMs()));
    return () => window.clearTimeout(timer);
  }, [retryAfter]);
  useEffect(() => setMenuOpen(false), [location]);

  const isAdmin = me.data?.role === 'admin';
  const find = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const value = String(new FormData(e.currentTarget).get('host') ?? '').trim();
    if (value) navigate(`/hosts/${encodeURIComponent(value)}`);
  };

  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="banner">
        <Link href="/dashboard" className="brand">
          NetScanOrchestrator
        </Link>
        <button
          type="button"
          className="menu-button"
          aria-expanded={menuOpen}
          aria-controls="main-nav"
          onClick={() => setMenuOpen((o) => !o)}
        >
          Menu
        </button>
        <nav aria-label="Main" id="main-nav" className={menuOpen ? 'open' : undefined}>
          <ul>
            {NAV.filter((n) => !n.admin || isAdmin).map((n) => (
              <li key={n.href}>
                <Link href={n.href} aria-current={location === n.href ? 'page' : undefined}>
                  {n.label}
                </Link>
              </li>
            ))}
          </ul>
          <form role="search" className="find-host" onSubmit={find}>
            <label htmlFor="find-host">Find host</label>
            <input id="find-host" name="host" type="search" placeholder="127.0.0.1" autoComplete="off" />
            <button type="submit">Go</button>
          </form>
          <div className="who">
            {me.data && (
              <span>
                {me.data.username}
                {isAdmin ? ' (admin)' : ''}
              </span>
            )}
            <a href="/auth/logout">Log out</a>
          </div>
        </nav>
      </header>
      {retryAfter !== null && (
        <p role="alert" className="alert">
          Too many requests: background updates are paused. Retry in {retryAfter.seconds} s.{' '}
          <button type="button" onClick={() => setRetryAfter(null)}>
            Dismiss
          </button>
        </p>
      )}
      <main id="main">
        <ErrorBoundary resetKey={location}>
          {!me.isError ? (
            children
          ) : me.error instanceof ApiError && me.error.status === 401 ? (
            <p role="alert">Signing in…</p>
          ) : (
            <>
              <PageTitle text="The dashboard cannot load" />
              <ErrorAlert error={me.error} />
              <button type="button" disabled={me.isFetching} onClick={() => void me.refetch()}>
                Try again
              </button>
            </>
          )}
        </ErrorBoundary>
      </main>
      <section aria-label="Notifications" className="notifications" aria-live="polite">
        {notices.map((n) => (
          <div key={n.key} className={`notice notice-${n.type}`} role="status">
            <span className="notice-type">{n.type}:</span> <span>{n.message}</span>{' '}
            <button
              type="button"
              aria-label="Dismiss notification"
              onClick={() => setNotices((list) => list.filter((x) => x.key !== n.key))}
            >
              ×
            </button>
          </div>
        ))}
      </section>
    </>
  );
}
