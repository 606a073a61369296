// Where the login form may send the user afterwards: only a path of this origin (DASHBOARD.md §4).

/**
 * Returns `raw` when it is a same-origin path to honour after login, else null. Accepted: starts with `/` and
 * neither `//` nor `/\` (both are read by browsers as another host), no control characters, at most 2,000
 * characters. `/auth/*` pages are refused (a login that leads to the login page).
 */
export function sanitiseNext(raw: string | null | undefined): string | null {
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > 2000) return null;
  if (!raw.startsWith('/') || raw.startsWith('//') || raw.startsWith('/\\')) return null;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(raw)) return null;
  if (raw === '/auth' || raw.startsWith('/auth/') || raw.startsWith('/auth?')) return null;
  return raw;
}

/** The login URL that brings the user back to `path` (a path with its query) afterwards. */
export function loginUrlFor(path: string): string {
  const next = sanitiseNext(path);
  return next && next !== '/' ? `/auth/login?next=${encodeURIComponent(next)}` : '/auth/login';
}
