import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { GatewayProcess, startGatewayProcess } from '../support/gateway-process';

// The dashboard served by a real gateway process (DASHBOARD.md §3), from a small build generated here so the test
// does not depend on the React app: assets, the app shell on the UI routes, the auth pages by Accept, headers,
// and that page loads neither pass the rate limiter nor turn unknown paths into pages.
const CSP =
  "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; " +
  "object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';
const INDEX_HTML =
  '<!doctype html><html><head><title>NetScanOrchestrator</title>' +
  '<script type="module" src="/assets/index-Dx7f3a1b.js"></script></head><body><div id="root"></div></body></html>';
const SCRIPT = 'document.getElementById("root").textContent = "fixture";\n';
/** Anonymous requests per window: fewer than the page loads of the rate-limit test, so counting them would show. */
const ANONYMOUS_LIMIT = 40;

const UI_ROUTES = [
  '/dashboard',
  '/scans',
  '/scans/new',
  '/scans/12',
  '/scans/12/edit',
  '/runs/7',
  '/reports',
  '/reports/3',
  '/hosts',
  '/hosts/127.0.0.1',
  '/hosts/::1',
  '/clients',
  '/clients/scanner-01',
  '/tokens',
  '/webhooks',
  '/projects',
  '/nmap',
  '/scans/',
];

describe('the web UI served by the gateway', () => {
  let dist: string;
  let gateway: GatewayProcess;
  const http = () => request(gateway.url);

  beforeAll(async () => {
    dist = await mkdtemp(join(tmpdir(), 'nso-web-'));
    await mkdir(join(dist, 'assets'));
    await writeFile(join(dist, 'index.html'), INDEX_HTML);
    await writeFile(join(dist, 'assets', 'index-Dx7f3a1b.js'), SCRIPT);
    await writeFile(join(dist, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
    gateway = await startGatewayProcess({
      env: { WEB_DIST_DIR: dist, RATE_LIMIT_ANONYMOUS: String(ANONYMOUS_LIMIT) },
    });
  });
  afterAll(async () => {
    await gateway?.close();
    await rm(dist, { recursive: true, force: true });
  });

  it('says where it serves the UI from', () => {
    expect(gateway.process.output()).toContain(`serving the UI from ${dist}`);
    expect(gateway.process.output()).not.toContain('UI not built');
  });

  it('serves a hashed asset as it is, cacheable for a year and immutable', async () => {
    const response = await http().get('/assets/index-Dx7f3a1b.js').expect(200);
    expect(response.text).toBe(SCRIPT);
    expect(response.headers['content-type']).toMatch(/^(text|application)\/javascript/);
    expect(response.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(response.headers['x-content-type-options']).toBe('nosniff');
    expect(response.headers['x-ratelimit-limit']).toBeUndefined();
    expect(response.headers['x-ratelimit-remaining']).toBeUndefined();
  });

  it('answers a missing asset with a real 404, never the app shell', async () => {
    const response = await http().get('/assets/index-00000000.js').set('Accept', BROWSER_ACCEPT).expect(404);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    expect(response.body).toEqual({ error: 'Asset not found: /assets/index-00000000.js' });
    expect(response.text).not.toContain('<div id="root">');
    await http().get('/assets/').expect(404);
    // Paths serve-static refuses, or that do not decode, answer in the error shape (no HTML error page).
    for (const path of ['/assets/index%00.js', '/assets/%E0%A4%A.js', '/assets/../index.html']) {
      const refused = await http().get(path);
      expect(refused.status).toBeGreaterThanOrEqual(400);
      expect(refused.status).toBeLessThan(500);
      expect(refused.headers['content-type']).toMatch(/^application\/json/);
      expect(refused.body.error).toEqual(expect.any(String));
    }
  });

  it.each(UI_ROUTES)('answers %s with the app shell and its headers', async (path) => {
    const response = await http().get(path).set('Accept', BROWSER_ACCEPT).expect(200);
    expect(response.headers['content-type']).toMatch(/^text\/html/);
    expect(response.text).toBe(INDEX_HTML);
    expect(response.headers['cache-control']).toBe('no-cache');
    expect(response.headers['content-security-policy']).toBe(CSP);
    expect(response.headers['x-content-type-options']).toBe('nosniff');
    expect(response.headers['referrer-policy']).toBe('same-origin');
    expect(response.headers['x-ratelimit-limit']).toBeUndefined();
    expect(response.headers.etag).toBeDefined();
  });

  it('answers the shell to curl too on UI routes, and revalidates it by ETag', async () => {
    const first = await http().get('/dashboard').expect(200);
    expect(first.text).toBe(INDEX_HTML);
    await http().get('/dashboard').set('If-None-Match', first.headers.etag).expect(304);
    const head = await http().head('/scans/5').expect(200);
    expect(head.headers['content-security-policy']).toBe(CSP);
  });

  it('redirects / to the dashboard', async () => {
    const response = await http().get('/').set('Accept', BROWSER_ACCEPT).expect(302);
    expect(response.headers.location).toBe('/dashboard');
  });

  it('serves files at the top of the build (the favicon)', async () => {
    const response = await http().get('/favicon.svg').expect(200);
    expect(response.headers['content-type']).toMatch(/^image\/svg\+xml/);
    expect(response.headers['cache-control']).toBe('no-cache');
  });

  it.each(['/auth/login', '/auth/register'])(
    'answers %s with the shell to a browser and JSON to curl',
    async (path) => {
      const page = await http().get(path).set('Accept', BROWSER_ACCEPT).expect(200);
      expect(page.text).toBe(INDEX_HTML);
      expect(page.headers['content-security-policy']).toBe(CSP);
      expect(page.headers.vary).toMatch(/Accept/);
      const curl = await http().get(path).set('Accept', '*/*');
      expect(curl.headers['content-type']).toMatch(/^application\/json/);
      expect(curl.headers.vary).toMatch(/Accept/);
      expect(curl.text).not.toContain('<div id="root">');
    },
  );

  it('keeps the API: POST /auth/login still logs in, GET /auth/login answers curl in JSON', async () => {
    const curl = await http().get('/auth/login').expect(200);
    expect(curl.body).toMatchObject({ login: expect.any(String) });
    await http()
      .post('/auth/login')
      .set('Accept', BROWSER_ACCEPT)
      .send({ username: 'admin', password: 'wrong-Password-1' })
      .expect(401);
  });

  it('leaves unknown paths outside the UI as JSON 404s', async () => {
    for (const path of [
      '/nope',
      '/dashboard/extra',
      '/scans/1/edit/more',
      '/index.html',
      '/api/nothing-here',
    ]) {
      const response = await http().get(path).set('Accept', BROWSER_ACCEPT).expect(404);
      expect(response.headers['content-type']).toMatch(/^application\/json/);
      expect(response.body).toEqual({ error: `Cannot GET ${path}` });
    }
  });

  it('never counts page loads against the anonymous rate limit', async () => {
    const before = await http().get('/api/me').expect(401);
    expect(Number(before.headers['x-ratelimit-limit'])).toBe(ANONYMOUS_LIMIT);
    const remaining = Number(before.headers['x-ratelimit-remaining']);
    for (let i = 0; i < ANONYMOUS_LIMIT / 2; i++) {
      await http().get('/assets/index-Dx7f3a1b.js').expect(200);
      await http().get('/scans').set('Accept', BROWSER_ACCEPT).expect(200);
      await http().get('/auth/login').set('Accept', BROWSER_ACCEPT).expect(200);
    }
    // 60 page loads later the next API request is the next one counted.
    const after = await http().get('/api/me').expect(401);
    expect(Number(after.headers['x-ratelimit-remaining'])).toBe(remaining - 1);
  });
});

describe('a gateway without a built UI', () => {
  let empty: string;
  let gateway: GatewayProcess;

  beforeAll(async () => {
    empty = await mkdtemp(join(tmpdir(), 'nso-web-empty-'));
    gateway = await startGatewayProcess({ env: { WEB_DIST_DIR: empty } });
  });
  afterAll(async () => {
    await gateway?.close();
    await rm(empty, { recursive: true, force: true });
  });

  it('logs "UI not built" and serves the API as before', async () => {
    expect(gateway.process.output()).toContain(`UI not built (no ${join(empty, 'index.html')})`);
    const dashboard = await request(gateway.url).get('/dashboard').set('Accept', BROWSER_ACCEPT).expect(404);
    expect(dashboard.body).toEqual({ error: 'Cannot GET /dashboard' });
    await request(gateway.url).get('/').expect(404);
    const login = await request(gateway.url).get('/auth/login').set('Accept', BROWSER_ACCEPT).expect(200);
    expect(login.body).toMatchObject({ login: expect.any(String) });
    await request(gateway.url).get('/api/me').set(gateway.auth).expect(200);
  });
});
