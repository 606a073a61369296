// When and how soon a dropped scan WebSocket reconnects (DASHBOARD.md §4).

/** Close codes after which reconnecting cannot help: signed out, cross-site, unknown scan, malformed id. */
const FINAL_CLOSE_CODES = new Set([4400, 4401, 4403, 4404]);

/** True when a socket closed with `code` should be opened again (with `?since=`). */
export function shouldReconnect(code: number): boolean {
  return !FINAL_CLOSE_CODES.has(code);
}

/** Delay in ms before reconnect attempt `attempt` (0-based): 0.5 s doubling up to 10 s. */
export function reconnectDelay(attempt: number): number {
  return Math.min(10_000, 500 * 2 ** Math.max(0, Math.min(attempt, 10)));
}

/** The WebSocket URL of a scan's events, resuming after `since` when given (an `http(s):` origin in). */
export function scanSocketUrl(origin: string, scanId: number, since: number | null): string {
  const base = origin.replace(/^http/, 'ws');
  return `${base}/ws/scans/${scanId}${since !== null ? `?since=${since}` : ''}`;
}
