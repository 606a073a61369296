import { Browser, BrowserContext, Page } from 'playwright-core';
import type { TestGateway } from '../support/gateway';
import { dashboardAsAdmin, withArtifacts } from '../support/browser';

// What the dashboard shows when the gateway does not answer as it should: the API unreachable, a 429, a 404.
// Failures are made in the browser (page.route) in front of a real gateway; a list that failed never claims
// to be empty (DASHBOARD.md §4: every list has an empty state that says what to do next — for an empty list).
describe('the web dashboard when the API fails', () => {
  let gateway: TestGateway;
  let browser: Browser;
  let admin: { context: BrowserContext; page: Page };

  beforeAll(async () => {
    ({ gateway, browser, admin } = await dashboardAsAdmin());
  });
  afterAll(async () => {
    await browser?.close();
    await gateway?.close();
  });
  afterEach(async () => {
    await admin.page.unrouteAll({ behavior: 'wait' });
  });

  it('says the gateway did not answer, not "Signing in…", and recovers on "Try again"', () =>
    withArtifacts('api unreachable', admin.context, async () => {
      const { page } = admin;
      await page.route('**/api/**', (route) => route.abort('connectionrefused'));
      await page.goto('/scans');
      await page.getByRole('heading', { level: 1, name: 'The dashboard cannot load' }).waitFor();
      await page.getByRole('alert').filter({ hasText: 'The gateway did not answer' }).waitFor();
      expect(await page.getByText('Signing in…').count()).toBe(0);
      expect(await page.title()).toBe('The dashboard cannot load – NetScanOrchestrator');
      await page.unroute('**/api/**');
      await page.getByRole('button', { name: 'Try again' }).click();
      await page.getByRole('heading', { level: 1, name: 'Scans' }).waitFor();
      await page.getByRole('table', { name: 'Scans' }).getByText('No scans yet').waitFor();
    }));

  it("shows a refused quick run's reason with an empty log, and a run's output without a blank last line", () =>
    withArtifacts('quick run refused', admin.context, async () => {
      const { page } = admin;
      await page.goto('/nmap');
      await page.getByLabel('Targets').fill('127.0.63.9');
      await page.getByLabel('nmap options').fill('-sT -Pn -n -p 9 -oN /tmp/x');
      await page.getByRole('button', { name: 'Run nmap' }).click();
      await page.getByRole('alert').filter({ hasText: '-oN' }).waitFor();
      const log = page.getByRole('log', { name: 'nmap output' });
      await log.getByText('No output yet.').waitFor();
      await page.getByText('0 lines', { exact: true }).waitFor();

      await page.getByLabel('nmap options').fill('-sT -Pn -n -p 9');
      await page.getByRole('button', { name: 'Run nmap' }).click();
      await page.getByRole('status').filter({ hasText: 'Exit code 0' }).waitFor({ timeout: 30_000 });
      // (Evaluated in the page: this file is typed without the DOM library.)
      const last = await page.evaluate(
        "[...document.querySelectorAll('[role=log] .log-line')].sort((a, b) => a.getBoundingClientRect().top - b.getBoundingClientRect().top).pop().textContent",
      );
      expect(last).toMatch(/^Nmap done: 1 IP address/);
    }));

  it('holds the refetches a push asks for until a 429 has passed, then clears its notice', () =>
    withArtifacts('429 pauses background work', admin.context, async () => {
      const { page } = admin;
      // Pushes reach the page once its stream is open.
      const streamOpen = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/stream');
      await page.goto('/scans');
      await page.getByRole('table', { name: 'Scans' }).getByText('No scans yet').waitFor();
      await streamOpen;
      const RETRY_S = 5;
      const fetches: Array<{ at: number; status: number }> = [];
      page.on('response', (r) => {
        if (new URL(r.url()).pathname === '/api/scans') fetches.push({ at: Date.now(), status: r.status() });
      });
      // The refetch a push asks for is answered 429: the page is told to wait RETRY_S seconds.
      await page.route(
        '**/api/scans?*',
        (route) =>
          route.fulfill({
            status: 429,
            contentType: 'application/json',
            headers: { 'Retry-After': String(RETRY_S) },
            body: JSON.stringify({ error: 'Too many requests', retry_after: RETRY_S }),
          }),
        { times: 1 },
      );
      const notices = page.getByRole('region', { name: 'Notifications' });
      const push = async (message: string) => {
        await gateway.api().post('/api/broadcast').send({ message, type: 'info' }).expect(200);
        await notices.getByText(message).waitFor();
      };
      await push('Before the pause');
      const banner = page.getByRole('alert').filter({ hasText: 'background updates are paused' });
      await banner.waitFor();
      const limited = fetches.find((f) => f.status === 429)!;
      // Another push meanwhile (it asks for a refetch 2 s later): held until the 429 has passed.
      await push('During the pause');
      await banner.waitFor({ state: 'detached', timeout: (RETRY_S + 5) * 1000 });
      const deadline = Date.now() + 10_000;
      while (!fetches.some((f) => f.at > limited.at) && Date.now() < deadline) await page.waitForTimeout(100);
      const next = fetches.find((f) => f.at > limited.at);
      expect(next).toBeDefined();
      expect(next!.at - limited.at).toBeGreaterThanOrEqual(RETRY_S * 1000 - 300);
    }));

  it('asks for a file before importing nmap XML, and shows why a file was refused', () =>
    withArtifacts('import refused', admin.context, async () => {
      const { page } = admin;
      const created = await gateway
        .api()
        .post('/api/scans')
        .send({ name: 'Import lab', target: '127.0.63.2', ports: '22', scan_arguments: '-sT -Pn -n' })
        .expect(201);
      await page.goto(`/scans/${created.body.scan.id as number}`);
      await page.getByRole('heading', { level: 1, name: 'Import lab' }).waitFor();
      let posted = 0;
      page.on('request', (r) => {
        if (r.method() === 'POST' && r.url().includes('/results/import')) posted++;
      });
      // No file chosen: the browser's own "select a file" message, nothing sent.
      await page.getByRole('button', { name: 'Import nmap XML' }).click();
      expect(await page.evaluate("document.querySelector('input[type=file]').validity.valueMissing")).toBe(
        true,
      );
      expect(await page.evaluate('document.activeElement.type')).toBe('file');
      await page.getByLabel('nmap XML file').setInputFiles({
        name: 'scan.xml',
        mimeType: 'application/xml',
        buffer: Buffer.from('not xml'),
      });
      await page.getByRole('button', { name: 'Import nmap XML' }).click();
      await page.getByRole('alert').filter({ hasText: 'malformed' }).waitFor();
      expect(posted).toBe(1);
    }));

  it('shows a list that could not be loaded as not loaded, never as empty', () =>
    withArtifacts('list not loaded', admin.context, async () => {
      const { page } = admin;
      await page.goto('/dashboard');
      await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
      await page.route('**/api/scans?*', (route) =>
        route.fulfill({
          status: 429,
          contentType: 'application/json',
          headers: { 'Retry-After': '120' },
          body: JSON.stringify({ error: 'Too many requests', retry_after: 120 }),
        }),
      );
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Scans' }).click();
      const scans = page.getByRole('table', { name: 'Scans' });
      await scans.getByRole('cell', { name: 'Not loaded: Too many requests' }).waitFor();
      expect(await scans.getByText('No scans yet').count()).toBe(0);
      await page.getByRole('alert').filter({ hasText: 'retry in 120 s' }).first().waitFor();

      // A report list the dashboard could not read shows no "No reports with changes yet" either.
      await page.route('**/api/user/reports?*', (route) =>
        route.fulfill({ status: 500, contentType: 'application/json', body: '{"error":"Database busy"}' }),
      );
      await page.goto('/dashboard');
      const changes = page.getByRole('table', { name: 'Recent changes' });
      await changes.getByRole('cell', { name: 'Not loaded: Database busy' }).waitFor({ timeout: 20_000 });
      expect(await changes.getByText('No reports with changes yet').count()).toBe(0);
    }));
});
