// The one door to the gateway's API: same-origin fetch with the session cookie, errors as ApiError, a 401 sends
// the page to the login form with `next` (DASHBOARD.md §4).
import { navigate } from 'wouter/use-browser-location';
import { loginUrlFor } from './lib/next';

/** A non-2xx answer: `status`, the JSON `body` (the API's error shapes) and `retryAfter` seconds on a 429. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
    readonly retryAfter: number | null = null,
  ) {
    super(typeof body.error === 'string' ? body.error : `Request failed (${status})`);
  }
}

/** Sends the browser to the login form, coming back to the current page afterwards. */
export function toLogin(): void {
  const here = window.location.pathname + window.location.search;
  if (window.location.pathname.startsWith('/auth/')) return;
  navigate(loginUrlFor(here), { replace: true });
}

/** When the last 429 said the user may send requests again (ms since the epoch); 0 when none. */
let rateLimitedUntil = 0;

/**
 * Milliseconds until background work may run again after a 429 (DASHBOARD.md §4: a 429 pauses it); 0 when it
 * may run now. Refetches a push asks for wait this long.
 */
export function rateLimitPauseMs(now = Date.now()): number {
  return Math.max(0, rateLimitedUntil - now);
}

/** Listeners told about a 429 (the shell shows when to retry and background work pauses). */
const rateLimitListeners = new Set<(retryAfter: number) => void>();
export function onRateLimited(listener: (retryAfter: number) => void): () => void {
  rateLimitListeners.add(listener);
  return () => rateLimitListeners.delete(listener);
}

export interface RequestOptions {
  method?: string;
  /** A JSON body, or a Blob/File sent as is with `contentType`. */
  body?: unknown;
  contentType?: string;
  /** Don't send the page to the login form on a 401 (the login form itself). */
  allowUnauthenticated?: boolean;
}

/** Calls `path` on this origin and returns its JSON (null for an empty body). Throws ApiError on non-2xx. */
export async function request<T = unknown>(path: string, options: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  let body: BodyInit | undefined;
  if (options.body instanceof Blob) {
    body = options.body;
    headers['Content-Type'] = options.contentType ?? 'application/octet-stream';
  } else if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['Content-Type'] = 'application/json';
  }
  let response: Response;
  try {
    response = await fetch(path, {
      method: options.method ?? (body ? 'POST' : 'GET'),
      headers,
      body,
      credentials: 'same-origin',
    });
  } catch (error) {
    // fetch rejects only when no answer came (gateway down, network gone): say so rather than "Failed to fetch".
    throw new Error(
      `The gateway did not answer (${error instanceof Error ? error.message : String(error)}): is it running?`,
    );
  }
  const text = await response.text();
  let json: unknown = null;
  if (text) {
    try {
      json = JSON.parse(text);
    } catch {
      json = { error: text.slice(0, 200) };
    }
  }
  if (!response.ok) {
    const errorBody = (json && typeof json === 'object' ? json : {}) as Record<string, unknown>;
    if (response.status === 401 && !options.allowUnauthenticated) toLogin();
    let retryAfter: number | null = null;
    if (response.status === 429) {
      retryAfter = Number(errorBody.retry_after ?? response.headers.get('Retry-After') ?? 60) || 60;
      rateLimitedUntil = Math.max(rateLimitedUntil, Date.now() + retryAfter * 1000);
      for (const listener of rateLimitListeners) listener(retryAfter);
    }
    throw new ApiError(response.status, errorBody, retryAfter);
  }
  return json as T;
}

/** The signed-in user (`GET /api/me`). */
export interface Me {
  id: number;
  username: string;
  email: string | null;
  role: 'admin' | 'user';
  first_name: string | null;
  last_name: string | null;
}
