// The dashboard on the gateway's own origin (DASHBOARD.md §3): the hashed assets of `vite build` and the app
// shell for the UI's routes. Mounted on Express before Nest's middleware, so a page load is neither counted
// against the anonymous rate limit nor looked up as a session; everything else falls through to the API.
import { Logger } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import express, { type NextFunction, type Request, type Response } from 'express';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** What the shell may load: only this origin; no inline script or style, no plug-ins, no framing. */
export const SHELL_CSP = [
  "default-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "style-src 'self'",
  "script-src 'self'",
  "object-src 'none'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

/** Asset names carry their content hash (Vite), so a browser may keep them for a year without asking again. */
const ASSET_CACHE = 'public, max-age=31536000, immutable';

/**
 * The routes of the single-page app (DASHBOARD.md §6), one path segment per `:param`, a trailing slash allowed.
 * `/` is not one: it redirects to /dashboard. `/auth/login` and `/auth/register` are shell routes for browsers
 * only (AUTH_PAGES).
 */
const UI_ROUTES: readonly RegExp[] = [
  '/dashboard',
  '/scans',
  '/scans/new',
  '/scans/:id',
  '/scans/:id/edit',
  '/runs/:id',
  '/reports',
  '/reports/:id',
  '/hosts',
  '/hosts/:address',
  '/clients',
  '/clients/:id',
  '/tokens',
  '/webhooks',
  '/projects',
  '/nmap',
].map(routePattern);

/** Pages that share their path with an API route: the shell goes to browsers, JSON to everyone else. */
const AUTH_PAGES: readonly RegExp[] = ['/auth/login', '/auth/register'].map(routePattern);

function routePattern(route: string): RegExp {
  const body = route.replace(/:[a-z]+/g, '[^/]+');
  return new RegExp(`^${body}/?$`);
}

/** Whether `GET path` (without the query) is answered with the app shell; `wantsHtml` for the auth pages. */
export function isShellRoute(path: string, wantsHtml: boolean): boolean {
  if (UI_ROUTES.some((route) => route.test(path))) return true;
  return wantsHtml && AUTH_PAGES.some((route) => route.test(path));
}

/** The built UI found under a directory: its shell and the files at its top level (favicon, robots.txt). */
interface WebBuild {
  dir: string;
  indexHtml: string;
  rootFiles: ReadonlySet<string>;
}

/** The build in `dir`, or undefined when it has no index.html (the UI was not built). */
export function findWebBuild(dir: string): WebBuild | undefined {
  const indexHtml = join(dir, 'index.html');
  if (!existsSync(indexHtml)) return undefined;
  const rootFiles = new Set(
    readdirSync(dir).filter(
      (name) => name !== 'index.html' && !name.startsWith('.') && statSync(join(dir, name)).isFile(),
    ),
  );
  return { dir, indexHtml, rootFiles };
}

/**
 * Serves the dashboard built into `dir` (WEB_DIST_DIR) from `app`, registered before Nest's middleware: call it
 * before `app.init()`/`listen()`. Without a build it logs "UI not built" and changes nothing. Returns whether
 * the UI is served.
 *
 * - `/assets/*`: the files as they are, `Cache-Control: public, max-age=31536000, immutable`; a missing one is
 *   a JSON 404 (never the shell, which a browser would run as a script and fail on).
 * - `GET`/`HEAD` of a UI route: `index.html`, `Cache-Control: no-cache` (revalidated by ETag, so a new build is
 *   picked up at once), with the CSP of SHELL_CSP, `X-Content-Type-Options: nosniff`, `Referrer-Policy:
 *   same-origin`. `/auth/login` and `/auth/register` only when the request prefers HTML
 *   (`req.accepts(['json', 'html']) === 'html'`): curl and JSON clients keep the API's answers.
 * - `/`: a redirect to /dashboard. Files at the top of the build (favicon) as they are, `no-cache`.
 * - Anything else goes on to the API, whose unknown paths stay JSON 404s.
 */
export function mountWebUi(app: NestExpressApplication, dir: string): boolean {
  const logger = new Logger('WebUi');
  const build = findWebBuild(dir);
  if (!build) {
    logger.log(`UI not built (no ${join(dir, 'index.html')}): serving the API only`);
    return false;
  }
  app.use(
    '/assets',
    express.static(join(dir, 'assets'), {
      index: false,
      redirect: false,
      dotfiles: 'ignore',
      // Set by setHeaders instead: serve-static's own would be `public, max-age=31536000` without immutable.
      cacheControl: false,
      setHeaders: (res) => {
        res.setHeader('Cache-Control', ASSET_CACHE);
        res.setHeader('X-Content-Type-Options', 'nosniff');
      },
    }),
    (req: Request, res: Response) => {
      res.status(404).setHeader('Cache-Control', 'no-cache');
      res.json({ error: `Asset not found: ${req.originalUrl.split('?', 1)[0]}` });
    },
    // A path serve-static refuses (a NUL byte, a malformed one): its 4xx in our error shape, never Express's
    // HTML error page, which shows a stack trace outside production.
    (error: Error & { status?: number }, _req: Request, res: Response, next: NextFunction) => {
      if (res.headersSent) return next(error);
      const status = error.status && error.status >= 400 && error.status < 500 ? error.status : 500;
      res.status(status).json({ error: status === 500 ? 'Internal server error' : 'Bad asset path' });
    },
  );
  app.use((req: Request, res: Response, next: NextFunction) => serve(build, req, res, next));
  logger.log(`serving the UI from ${dir}`);
  return true;
}

function serve(build: WebBuild, req: Request, res: Response, next: NextFunction): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') return next();
  const path = req.path;
  if (path === '/') return res.redirect(302, '/dashboard');
  const rootFile = path.slice(1);
  if (build.rootFiles.has(rootFile)) {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    return sendFile(res, join(build.dir, rootFile), NO_CACHE);
  }
  const authPage = AUTH_PAGES.some((route) => route.test(path));
  // The same URL answers HTML or JSON by Accept: a cache must keep them apart.
  if (authPage) res.vary('Accept');
  if (!isShellRoute(path, authPage && req.accepts(['json', 'html']) === 'html')) return next();
  sendFile(res, build.indexHtml, SHELL_HEADERS);
}

/**
 * `res.sendFile` (ETag, Last-Modified, conditional 304, HEAD) with our headers. A file gone since start-up (a
 * rebuild in progress) is a JSON 404, any other failure a JSON 500: never Express's HTML error page, which shows a
 * stack trace outside production.
 */
function sendFile(res: Response, file: string, headers: Record<string, string>): void {
  res.sendFile(
    file,
    { cacheControl: false, dotfiles: 'deny', headers },
    (error?: Error & { status?: number }) => {
      if (!error || res.headersSent) return;
      const status = error.status === 404 ? 404 : 500;
      res.status(status).json({ error: status === 404 ? 'Not found' : 'Internal server error' });
    },
  );
}

const NO_CACHE = { 'Cache-Control': 'no-cache' };

const SHELL_HEADERS = {
  ...NO_CACHE,
  'Content-Security-Policy': SHELL_CSP,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'same-origin',
};
