// Small building blocks every page uses: page heading and title, times, alerts, dialogs, paging, tables.
import { ReactNode, useEffect, useId, useRef, useState } from 'react';
import { Link, useSearch } from 'wouter';
import { useQuery } from '@tanstack/react-query';
import { ApiError, Me, request } from '../api';
import { PageInfo, withQuery } from '../lib/pagination';

let firstHeading = true;

/** The page's one h1; `document.title` follows it ("<h1> – NetScanOrchestrator"). */
export function PageTitle({ children, text }: { children?: ReactNode; text: string }) {
  useEffect(() => {
    document.title = `${text} – NetScanOrchestrator`;
  }, [text]);
  const ref = useRef<HTMLHeadingElement>(null);
  // Focus moves to the new page's heading on navigation within the app, so keyboard and screen reader users
  // start there; a fresh page load keeps the browser's start (the first Tab reaches "Skip to content").
  useEffect(() => {
    if (firstHeading) {
      firstHeading = false;
      return;
    }
    if (document.activeElement === document.body || document.activeElement?.closest('nav'))
      ref.current?.focus({ preventScroll: true });
  }, [text]);
  return (
    <h1 ref={ref} tabIndex={-1}>
      {children ?? text}
    </h1>
  );
}

/** A time in local time, with UTC in `title`. */
export function Time({ value }: { value: string | null | undefined }) {
  if (!value) return <span>—</span>;
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return <span>{value}</span>;
  return (
    <time dateTime={date.toISOString()} title={`${date.toISOString().replace('T', ' ').slice(0, 19)} UTC`}>
      {date.toLocaleString()}
    </time>
  );
}

/** An error as `role="alert"`; nothing when `error` is empty. */
export function ErrorAlert({ error }: { error: unknown }) {
  if (!error) return null;
  let text = error instanceof Error ? error.message : String(error);
  if (error instanceof ApiError && error.retryAfter) text += ` — retry in ${error.retryAfter} s`;
  return (
    <p role="alert" className="alert">
      {text}
    </p>
  );
}

/** A confirmation as `role="status"`. */
export function Confirmation({ text }: { text: string | null }) {
  return (
    <p role="status" className="confirmation">
      {text}
    </p>
  );
}

/** The signed-in user; undefined while loading. */
export function useMe() {
  return useQuery({
    queryKey: ['me'],
    queryFn: () => request<Me>('/api/me'),
    staleTime: Infinity,
  });
}

/**
 * A `<dialog>` confirmation named by its heading, with "Cancel" and a button named by the action. Opened by
 * `open`; Escape and Cancel call `onCancel`.
 */
export function ConfirmDialog(props: {
  open: boolean;
  heading: string;
  action: string;
  children?: ReactNode;
  busy?: boolean;
  error?: unknown;
  onConfirm(): void;
  onCancel(): void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const id = useId();
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (props.open && !dialog.open) dialog.showModal();
    if (!props.open && dialog.open) dialog.close();
  }, [props.open]);
  return (
    <dialog
      ref={ref}
      aria-labelledby={`${id}-h`}
      onCancel={(e) => {
        e.preventDefault();
        props.onCancel();
      }}
    >
      <h2 id={`${id}-h`}>{props.heading}</h2>
      {props.children}
      <ErrorAlert error={props.error} />
      <div className="actions">
        <button type="button" onClick={props.onCancel}>
          Cancel
        </button>
        <button type="button" className="danger" disabled={props.busy} onClick={props.onConfirm}>
          {props.action}
        </button>
      </div>
    </dialog>
  );
}

/** "Previous page" / "Next page" links that keep the other query parameters (paging lives in the URL). */
export function Pager({ info }: { info: PageInfo | null }) {
  const search = useSearch();
  if (!info || info.pages <= 1) return null;
  return (
    <nav aria-label="Pagination" className="pager">
      {info.hasPrev ? (
        <Link href={withQuery(search, { page: info.page - 1 })}>Previous page</Link>
      ) : (
        <span aria-disabled="true">Previous page</span>
      )}
      <span>
        Page {info.page} of {info.pages} ({info.total} in all)
      </span>
      {info.hasNext ? (
        <Link href={withQuery(search, { page: info.page + 1 })}>Next page</Link>
      ) : (
        <span aria-disabled="true">Next page</span>
      )}
    </nav>
  );
}

/** Why a table without rows has none, when it is not that the list is empty: still loading, or not loaded. */
function notListed(query: { isLoading: boolean; error: unknown } | undefined): string | null {
  if (query?.error)
    return `Not loaded: ${query.error instanceof Error ? query.error.message : String(query.error)}`;
  if (query?.isLoading) return 'Loading…';
  return null;
}

/**
 * "Previous page" / "Next page" buttons for a list whose page is the component's own state (a tab of the scan
 * page, where the URL's `page` belongs to the Hosts tab); nothing when there is one page.
 */
export function PagerButtons({ info, onPage }: { info: PageInfo | null; onPage(page: number): void }) {
  if (!info || info.pages <= 1) return null;
  return (
    <nav aria-label="Pagination" className="pager">
      <button type="button" disabled={!info.hasPrev} onClick={() => onPage(info.page - 1)}>
        Previous page
      </button>
      <span>
        Page {info.page} of {info.pages} ({info.total} in all)
      </span>
      <button type="button" disabled={!info.hasNext} onClick={() => onPage(info.page + 1)}>
        Next page
      </button>
    </nav>
  );
}

/**
 * A table with its caption (its name) and column heads, inside a focusable region that scrolls on narrow
 * screens. `empty` is the row shown when there are no rows: what to do next. `query` is the request the rows
 * come from: while it loads or after it failed, that row says so instead (a failed list is not an empty one).
 */
export function DataTable(props: {
  caption: string;
  columns: string[];
  empty: ReactNode;
  children: ReactNode[];
  query?: { isLoading: boolean; error: unknown };
}) {
  return (
    <div className="table-wrap" role="region" aria-label={props.caption} tabIndex={0}>
      <table>
        <caption>{props.caption}</caption>
        <thead>
          <tr>
            {props.columns.map((c) => (
              <th scope="col" key={c}>
                {c}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {props.children.length > 0 ? (
            props.children
          ) : (
            <tr>
              <td colSpan={props.columns.length}>{notListed(props.query) ?? props.empty}</td>
            </tr>
          )}
        </tbody>
      </table>
    </div>
  );
}

/** Loading text while a query has no data yet. */
export function Loading({ what }: { what: string }) {
  return <p className="muted">Loading {what}…</p>;
}

/** A transient confirmation message for forms; cleared after `ms`. */
export function useFlash(ms = 8000): [string | null, (text: string | null) => void] {
  const [text, setText] = useState<string | null>(null);
  useEffect(() => {
    if (!text) return;
    const timer = window.setTimeout(() => setText(null), ms);
    return () => window.clearTimeout(timer);
  }, [text, ms]);
  return [text, setText];
}

/** A state badge with text and a symbol, never colour alone. */
export function StateBadge({ state }: { state: string }) {
  const symbols: Record<string, string> = {
    completed: '✓',
    running: '▶',
    queued: '…',
    stopped: '■',
    failed: '✗',
    retrying: '↻',
    online: '●',
    scanning: '▶',
    offline: '○',
    open: '●',
    up: '▲',
    down: '▼',
  };
  return (
    <span className={`badge badge-${state.replace(/[^a-z]/g, '')}`}>
      <span aria-hidden="true">{symbols[state] ?? '•'} </span>
      {state}
    </span>
  );
}
