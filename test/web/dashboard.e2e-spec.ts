import { Browser, BrowserContext, Page } from 'playwright-core';
import { join } from 'node:path';
import request from 'supertest';
import { TEST_ADMIN } from '../support/gateway';
import { Listener, listenOn } from '../support/listeners';
import { nmapXml } from '../support/nmap-xml';
import { AppProcess, startProcess } from '../support/processes';
import { startSystem, TestSystem } from '../support/system';
import { launchBrowser, logIn, newSession, WEB_DIST, withArtifacts } from '../support/browser';

// The dashboard in a real browser (Debian's Chromium via playwright-core) against a real gateway, worker and delta
// service and real nmap, scanning listeners on 127.0.60.0/24 only. One system and one browser for the file; each
// test is a user's task, checked by what the page shows (its accessible names are DASHBOARD.md §6).
describe('the web dashboard in a browser', () => {
  let system: TestSystem;
  let delta: AppProcess;
  let browser: Browser;
  let admin: { context: BrowserContext; page: Page };
  const listeners: Listener[] = [];
  const USER = { username: 'alice', password: 'Test-User-Pass-1' };

  const listen = async (host: string, port = 0) => {
    const l = await listenOn(host, port);
    listeners.push(l);
    return l;
  };
  /**
   * With WEB_SCREENSHOTS_DIR set (docs/screenshots is where the README's come from), saves what the page shows
   * as `<name>.png`; otherwise nothing.
   */
  const shot = async (page: Page, name: string) => {
    const dir = process.env.WEB_SCREENSHOTS_DIR;
    if (dir)
      await page.screenshot({ path: join(dir, `${name}.png`), fullPage: true, animations: 'disabled' });
  };
  /** A test body that leaves a screenshot and a trace of `session` when it fails. */
  const step = (name: string, body: () => Promise<void>, session = () => admin.context) =>
    withArtifacts(name, session(), body);
  /** A port nothing listens on at `host` just now (one to open between two runs). */
  const freePort = async (host: string) => {
    const probe = await listenOn(host);
    await probe.close();
    return probe.port;
  };
  /**
   * Creates the scan `body` (POST /api/scans), opens its page as the admin, runs it with "Run now" and waits for
   * the run to complete: the scan's id.
   */
  const createAndRunOnce = async (page: Page, body: { name: string } & Record<string, unknown>) => {
    const created = await system.gateway.api().post('/api/scans').send(body).expect(201);
    const scanId = created.body.scan.id as number;
    await page.goto(`/scans/${scanId}`);
    await page.getByRole('heading', { level: 1, name: body.name }).waitFor();
    await page.getByRole('status', { name: 'Connection' }).filter({ hasText: 'Live' }).waitFor();
    await page.getByRole('button', { name: 'Run now' }).click();
    await page
      .getByRole('status', { name: 'Run status' })
      .filter({ hasText: 'completed' })
      .waitFor({ timeout: 30_000 });
    return scanId;
  };

  beforeAll(async () => {
    [system, browser] = await Promise.all([
      startSystem({
        workers: 1,
        // A loopback range carved out of the scope: targets there are refused as out of scope.
        // The local pool scans 127.0.60.0/24 only: other loopback targets are left unassigned (not scanned).
        env: { WEB_DIST_DIR: WEB_DIST, SCAN_SCOPE_DENY: '127.0.99.0/24', WORKER_SCAN_RANGE: '127.0.60.0/24' },
      }),
      launchBrowser(),
    ]);
    delta = startProcess('delta', { ...system.env, WORKER_ID: 'delta-web' });
    await delta.waitForOutput(/delta service ready/);
    await system.gateway.newUser(USER.username);
    admin = await newSession(browser, system.gateway.url);
  });
  afterAll(async () => {
    await browser?.close();
    await delta?.stop();
    await Promise.all(listeners.map((l) => l.close()));
    await system?.close();
  });

  it('sends a signed-out deep link through the login form and back to the page', () =>
    step('deep link', async () => {
      const { page } = admin;
      await page.goto('/scans/new');
      await page.waitForURL(
        (url) => url.pathname === '/auth/login' && url.searchParams.get('next') === '/scans/new',
      );
      await page.getByRole('heading', { level: 1, name: 'Log in' }).waitFor();
      // Wrong password: the gateway's error as an alert, still on the form.
      await page.getByLabel('Username').fill(TEST_ADMIN.username);
      await page.getByLabel('Password').fill('wrong-password');
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.getByRole('alert').filter({ hasText: 'Invalid username or password' }).waitFor();
      await logIn(page, TEST_ADMIN.username, TEST_ADMIN.password);
      expect(new URL(page.url()).pathname).toBe('/scans/new');
      await page.getByRole('heading', { level: 1, name: 'New scan' }).waitFor();
      expect(await page.title()).toBe('New scan – NetScanOrchestrator');
      // The shell: landmarks, the admin's links.
      const nav = page.getByRole('navigation', { name: 'Main' });
      for (const link of [
        'Dashboard',
        'Scans',
        'New scan',
        'Reports',
        'Hosts',
        'Scanner clients',
        'API tokens',
      ])
        await nav.getByRole('link', { name: link, exact: true }).waitFor();
      await page.getByRole('region', { name: 'Notifications' }).waitFor({ state: 'attached' });
    }));

  it("shows the gateway's refusals on the fields they concern", () =>
    step('form errors', async () => {
      const { page } = admin;
      await page.goto('/scans/new');
      await page.getByRole('radio', { name: 'Run once now' }).check();
      await page.getByLabel('Targets').fill('127.0.99.7');
      await page.getByLabel('nmap options').fill('-sT -Pn');
      await page.getByRole('button', { name: 'Start scan' }).click();
      const targets = page.getByLabel('Targets');
      await page.locator('#f-targets-error').filter({ hasText: '127.0.99.7' }).waitFor();
      expect(await targets.getAttribute('aria-invalid')).toBe('true');
      expect(await targets.getAttribute('aria-describedby')).toContain('f-targets-error');

      await targets.fill('127.0.60.1');
      await page.getByLabel('nmap options').fill('-sT -oX /tmp/x');
      await page.getByRole('button', { name: 'Start scan' }).click();
      await page.locator('#f-nmap_flags-error').filter({ hasText: '-oX' }).waitFor();
      expect(await page.getByLabel('Targets').getAttribute('aria-invalid')).toBeNull();
      await page.getByRole('alert').filter({ hasText: 'refused' }).waitFor();
    }));

  it('runs a one-off scan: the open port in the live log, then in the hosts table', () =>
    step('one-off scan', async () => {
      const { page } = admin;
      const target = await listen('127.0.60.1');
      await page.goto('/scans/new');
      await page.getByLabel('Targets').fill('127.0.60.1, 127.0.62.1');
      await page.getByLabel('Ports').fill(String(target.port));
      await page.getByLabel('nmap options').fill('-sT -Pn -n');
      // The dry run first: what a start would do, nothing stored.
      await page.getByRole('button', { name: 'Check targets' }).click();
      await page.getByRole('status').filter({ hasText: '✓ 2 addresses, 1 delegated in 1 batches' }).waitFor();
      await page.getByText(/^local: 1 addresses in 1 batches/).waitFor();
      await page.getByText('Not scanned (no client covers them): 127.0.62.1').waitFor();
      await page.getByRole('button', { name: 'Start scan' }).click();
      await page.waitForURL(/\/scans\/\d+$/);
      await page.getByRole('alert', { name: 'Not scanned' }).filter({ hasText: '127.0.62.1' }).waitFor();
      const log = page.getByRole('log', { name: 'nmap output' });
      await log.getByText(`${target.port}/tcp open`).waitFor({ timeout: 30_000 });
      await page
        .getByRole('status', { name: 'Run status' })
        .filter({ hasText: 'completed' })
        .waitFor({ timeout: 30_000 });
      await page.getByRole('status', { name: 'Connection' }).filter({ hasText: 'Run ended' }).waitFor();
      expect(await page.getByRole('progressbar', { name: 'Run progress' }).getAttribute('value')).toBe('100');
      await shot(page, 'scan-live-output');
      await page
        .getByText(/\d+ lines/)
        .first()
        .waitFor();

      await page.getByRole('tab', { name: 'Hosts' }).click();
      const hosts = page.getByRole('table', { name: 'Hosts' });
      await hosts.waitFor();
      // One landmark named "Hosts" (the table's scrolling region), not one nested in another of the same name.
      expect(await page.getByRole('region', { name: 'Hosts', exact: true }).count()).toBe(1);
      const row = hosts.getByRole('row').filter({ has: page.getByRole('link', { name: '127.0.60.1' }) });
      await row.getByText(`${target.port}/tcp`).waitFor();
      await row.getByRole('button', { name: 'Show ports of 127.0.60.1' }).click();
      await page
        .getByRole('table', { name: 'Ports of 127.0.60.1' })
        .getByRole('cell', { name: 'open', exact: true })
        .waitFor();

      // The scan list names the port this one-off scan looked at, not nmap's default ports.
      await page.goto('/scans');
      await page
        .getByRole('table', { name: 'Scans' })
        .getByRole('row')
        .filter({ hasText: 'Scan of 127.0.60.1' })
        .getByRole('cell', { name: String(target.port), exact: true })
        .waitFor();
    }));

  it('saves a scheduled definition after showing its next runs', () =>
    step('scheduled definition', async () => {
      const { page } = admin;
      await page.goto('/scans/new');
      await page.getByRole('radio', { name: 'Save as scan definition' }).check();
      await page.getByLabel('Name', { exact: true }).fill('Nightly lab');
      await page.getByLabel('Targets').fill('127.0.60.2');
      await page.getByLabel('Ports').fill('22');
      await page.getByRole('radio', { name: 'Every N minutes' }).check();
      await page.getByLabel('Interval (minutes)').fill('1440');
      await page.getByRole('checkbox', { name: 'Active' }).uncheck();
      const nextRuns = page.getByRole('list', { name: 'Next runs' });
      await nextRuns.getByRole('listitem').nth(4).waitFor();
      const first = await nextRuns.getByRole('listitem').nth(0).locator('time').getAttribute('datetime');
      const second = await nextRuns.getByRole('listitem').nth(1).locator('time').getAttribute('datetime');
      expect(Date.parse(second!) - Date.parse(first!)).toBe(1440 * 60_000);
      // A calendar: the next runs come from the gateway's scheduler code, at 02:00 Berlin time (01:00 UTC in winter).
      await page.getByRole('radio', { name: 'Cron schedule' }).check();
      await page.getByLabel('Cron expression').fill('0 2 * * 1-5');
      await page.getByLabel('Time zone').selectOption('Europe/Berlin');
      await nextRuns.locator('time[datetime$="T01:00:00.000Z"]').nth(4).waitFor();
      await page.getByLabel('Cron expression').fill('0 2 * *');
      await page.getByText('A cron expression has five fields.').waitFor();
      await page.getByLabel('Cron expression').fill('0 2 * * 1-5');
      await nextRuns.locator('time[datetime$="T01:00:00.000Z"]').nth(4).waitFor();
      await shot(page, 'new-scan-schedule');
      await page.getByRole('button', { name: 'Save scan' }).click();
      await page.getByRole('heading', { level: 1, name: 'Nightly lab' }).waitFor();
      await page.getByRole('tab', { name: 'Schedule' }).click();
      await page.getByText('Cron 0 2 * * 1-5 (Europe/Berlin)').first().waitFor();

      await page.goto('/scans?scheduled=1');
      const row = page
        .getByRole('table', { name: 'Scans' })
        .getByRole('row')
        .filter({ hasText: 'Nightly lab' });
      await row.getByText('Cron 0 2 * * 1-5 (Europe/Berlin)').waitFor();
      await row.getByRole('button', { name: 'Activate' }).waitFor();
    }));

  it('makes a delta report from a port opened between two runs, and shows a port the run did not scan as unverified', () =>
    step('delta', async () => {
      const { page } = admin;
      const stays = await listen('127.0.60.3');
      const opening = await freePort('127.0.60.3');
      await createAndRunOnce(page, {
        verify_changes: false,
        name: 'Delta lab',
        target: '127.0.60.3',
        ports: `${stays.port},${opening}`,
        scan_arguments: '-sT -Pn -n',
      });

      // Between the runs: the second port opens, and the first leaves the port list (so it is not looked at).
      await listen('127.0.60.3', opening);
      await page.getByRole('link', { name: 'Edit', exact: true }).click();
      await page.getByRole('heading', { level: 1, name: 'Edit scan' }).waitFor();
      await page.getByLabel('Ports').fill(String(opening));
      await page.getByRole('button', { name: 'Save and run now' }).click();
      await page.getByRole('heading', { level: 1, name: 'Delta lab' }).waitFor();
      const reportLink = page.getByRole('link', { name: /^View report #\d+$/ });
      await reportLink.waitFor({ timeout: 45_000 });
      await reportLink.click();
      await page.getByRole('heading', { level: 1, name: /^Delta report #\d+$/ }).waitFor();

      const added = page.getByRole('table', { name: 'Added ports' });
      await added
        .getByRole('row')
        .filter({ hasText: `${opening}/tcp` })
        .waitFor();
      const removed = page.getByRole('table', { name: 'Removed ports' });
      await removed.getByRole('cell', { name: 'None' }).waitFor();
      const unverified = page.getByRole('table', { name: 'Unverified (not looked at by the current run)' });
      const unverifiedRow = unverified.getByRole('row').filter({ hasText: `${stays.port}/tcp` });
      await unverifiedRow.getByText('port not scanned').waitFor();
      expect(await removed.getByText(`${stays.port}/tcp`).count()).toBe(0);
      const note = page.getByRole('note', { name: 'Not directly comparable' });
      await note.getByText(/^ports: /).waitFor();
      const summary = page.getByRole('region', { name: 'Summary' });
      expect(await summary.textContent()).toContain('New ports+ 1');
      // Issue 21's marks: this scan does not verify its changes, so every verdict is "—" and nothing flaps.
      await summary
        .getByRole('status', { name: 'Verification' })
        .filter({ hasText: 'Not verified' })
        .waitFor();
      expect(await summary.textContent()).toContain('Confirmed✓ + 1 new ports');
      expect(await summary.textContent()).toContain('Flapping≈ 0');
      const addedRow = added.getByRole('row').filter({ hasText: `${opening}/tcp` });
      expect(await added.getByRole('columnheader', { name: 'Verdict' }).count()).toBe(1);
      await addedRow.getByRole('cell', { name: '—', exact: true }).waitFor();
      // Accepting every change: the report is read again and the verdict names who accepted it.
      // The request is held until the page has shown the button disabled.
      let release = () => {};
      const held = new Promise<void>((resolve) => (release = resolve));
      await page.route('**/api/report/*/accept', async (route) => {
        await held;
        await route.continue();
      });
      await page.getByRole('button', { name: 'Accept all changes' }).click();
      await page.getByRole('button', { name: 'Accept all changes', disabled: true }).waitFor();
      release();
      await page.getByRole('status').filter({ hasText: '1 change(s) accepted' }).waitFor();
      await addedRow.getByRole('cell', { name: `— · accepted by ${TEST_ADMIN.username}` }).waitFor();
      await page.unroute('**/api/report/*/accept');
      expect(await page.getByRole('button', { name: 'Accept all changes' }).isDisabled()).toBe(false);
      await shot(page, 'delta-report');

      const csvHref = await page.getByRole('link', { name: 'Download CSV' }).getAttribute('href');
      const csv = await page.request.get(csvHref!);
      expect(csv.status()).toBe(200);
      expect(csv.headers()['content-type']).toContain('text/csv');
      const text = await csv.text();
      const addedSection = text.slice(text.indexOf('Added ports'), text.indexOf('Removed ports'));
      expect(addedSection).toContain(`127.0.60.3,tcp,${opening}`);
    }));

  it('links the report of a scan that verifies its changes, announced after the rescan (a newer run)', () =>
    step('verified report link', async () => {
      const { page } = admin;
      const stays = await listen('127.0.60.6');
      const opening = await freePort('127.0.60.6');
      const scanId = await createAndRunOnce(page, {
        verify_changes: true,
        verify_delay_seconds: 0,
        name: 'Verified lab',
        target: '127.0.60.6',
        ports: `${stays.port},${opening}`,
        scan_arguments: '-sT -Pn -n',
      });

      await listen('127.0.60.6', opening);
      await page.getByRole('button', { name: 'Run now' }).click();
      // The page follows the newest run: the second, then its rescan (trigger verify); the report of the
      // second run is announced once the rescan confirmed the change.
      const reportLink = page.getByRole('link', { name: /^View report #\d+$/ });
      await reportLink.waitFor({ timeout: 45_000 });
      await reportLink.click();
      await page
        .getByRole('table', { name: 'Added ports' })
        .getByRole('row')
        .filter({ hasText: `${opening}/tcp` })
        .getByText('✓ confirmed')
        .waitFor();

      // The scan's hosts are those of its newest full run: the rescan looked at the changed port only.
      await page.goto(`/scans/${scanId}`);
      await page.getByRole('tab', { name: 'Hosts' }).click();
      const host = page
        .getByRole('table', { name: 'Hosts' })
        .getByRole('row')
        .filter({ has: page.getByRole('link', { name: '127.0.60.6' }) });
      await host.getByText(`${stays.port}/tcp`).waitFor();
      await host.getByText(`${opening}/tcp`).waitFor();
    }));

  it('shows an imported run as the completed newest run: its own batch, its status after a reload', () =>
    step('import batches', async () => {
      const { page } = admin;
      const created = await system.gateway
        .api()
        .post('/api/scans')
        .send({
          verify_changes: false,
          name: 'Import after run',
          target: '127.0.60.7',
          ports: '22',
          scan_arguments: '-sT -Pn -n',
        })
        .expect(201);
      await page.goto(`/scans/${created.body.scan.id as number}`);
      await page.getByRole('status', { name: 'Connection' }).filter({ hasText: 'Live' }).waitFor();
      await page.getByRole('button', { name: 'Run now' }).click();
      const status = page.getByRole('status', { name: 'Run status' });
      await status.filter({ hasText: 'completed' }).waitFor({ timeout: 30_000 });
      const importFile = async (name: string, xml: string) => {
        await page.getByLabel('nmap XML file').setInputFiles({
          name,
          mimeType: 'application/xml',
          buffer: Buffer.from(xml),
        });
        await page.getByRole('button', { name: 'Import nmap XML' }).click();
        const imported = page.getByRole('status').filter({ hasText: /^Imported run #\d+/ });
        await imported.waitFor();
        const runId = /#(\d+)/.exec((await imported.textContent())!)![1];
        // Opened again later: the event log replays the runs before; the import is the stored newest run.
        await page.reload();
        await page.getByRole('link', { name: `Run #${runId}`, exact: true }).waitFor();
      };

      // What the run saw, made elsewhere: no change, no report; the newest run has no events at all.
      await importFile(
        'same.xml',
        nmapXml('nmap -sT -Pn -n -p22 127.0.60.7', [
          { address: '127.0.60.7', state: 'up', ports: [{ protocol: 'tcp', port: 22, state: 'closed' }] },
        ]),
      );
      await status.filter({ hasText: 'completed' }).waitFor();
      await page.getByRole('tab', { name: 'Batches' }).click();
      const batches = page.getByRole('table', { name: 'Batches' });
      await batches.getByRole('cell', { name: 'import', exact: true }).waitFor();
      expect(await batches.getByRole('row').count()).toBe(2);

      // A file with changes: the report's event names the import, whose other events never came.
      await importFile(
        'changed.xml',
        nmapXml('nmap -sT -Pn -n -p22 127.0.60.7', [
          { address: '127.0.60.7', state: 'up', ports: [{ protocol: 'tcp', port: 22, state: 'open' }] },
        ]),
      );
      await page.getByRole('link', { name: /^View report #\d+$/ }).waitFor({ timeout: 30_000 });
      await status.filter({ hasText: 'completed' }).waitFor();
      await page.getByRole('status', { name: 'Connection' }).filter({ hasText: 'Run ended' }).waitFor();
      expect(await page.getByRole('button', { name: 'Stop scan' }).isDisabled()).toBe(true);
      expect(await page.getByRole('button', { name: 'Run now' }).isDisabled()).toBe(false);
    }));

  it('stops a running scan', () =>
    step('stop', async () => {
      const { page } = admin;
      await listen('127.0.60.4');
      await page.goto('/scans/new');
      await page.getByLabel('Targets').fill('127.0.60.4');
      await page.getByLabel('Ports').fill('1-400');
      await page.getByLabel('nmap options').fill('-sT -Pn -n --scan-delay 200ms');
      await page.getByRole('button', { name: 'Start scan' }).click();
      await page.waitForURL(/\/scans\/\d+$/);
      await page
        .getByRole('status', { name: 'Run status' })
        .filter({ hasText: 'running' })
        .waitFor({ timeout: 20_000 });
      await page.getByRole('button', { name: 'Stop scan' }).click();
      const dialog = page.getByRole('dialog', { name: 'Stop this run?' });
      await dialog.getByRole('button', { name: 'Stop scan' }).click();
      await page
        .getByRole('status', { name: 'Run status' })
        .filter({ hasText: 'stopped' })
        .waitFor({ timeout: 20_000 });
      await page.getByRole('status', { name: 'Connection' }).filter({ hasText: 'Run ended' }).waitFor();
      expect(await page.getByRole('button', { name: 'Stop scan' }).isDisabled()).toBe(true);
      // The batch that ran when the run was stopped is stopped too, not running for good.
      await page.getByRole('tab', { name: 'Batches' }).click();
      const batches = page.getByRole('table', { name: 'Batches' });
      await batches.getByRole('cell', { name: 'stopped' }).first().waitFor();
      expect(await batches.getByRole('cell', { name: 'running' }).count()).toBe(0);
    }));

  it('approves an agent, naming the source address it binds it to', () =>
    step('approve agent', async () => {
      const { page } = admin;
      await page.goto('/clients');
      await page.getByRole('heading', { level: 1, name: 'Scanner clients' }).waitFor();
      await request(system.gateway.url)
        .post('/api/clients/agent-web/heartbeat')
        .send({ hostname: 'scanner-web', ip_address: '127.0.0.1', port: 9, scan_range: '127.0.61.0/24' })
        .expect(403);
      // The admins' notification of a client awaiting approval arrives on the open page.
      const notifications = page.getByRole('region', { name: 'Notifications' });
      await notifications.getByText(/agent-web/).waitFor();
      // The list refetches on that push.
      const waiting = page.getByRole('table', { name: 'Awaiting approval' });
      const row = waiting.getByRole('row').filter({ hasText: 'agent-web' });
      await row.waitFor();
      await row.getByRole('button', { name: 'Approve' }).click();
      const dialog = page.getByRole('dialog', { name: 'Approve agent-web?' });
      await dialog.getByText('127.0.0.1', { exact: true }).waitFor();
      await shot(page, 'approve-client');
      await dialog.getByRole('button', { name: 'Approve' }).click();
      await page.getByRole('status').filter({ hasText: 'agent-web: Client approved successfully' }).waitFor();
      const client = page
        .getByRole('table', { name: 'Scanner clients' })
        .getByRole('row')
        .filter({ hasText: 'agent-web' });
      await client.getByRole('button', { name: 'Revoke' }).waitFor();
      await client.getByText('✓ yes').waitFor();
    }));

  it("shows a non-admin no admin action, and a broadcast reaches every tab of the user's browser", async () => {
    const user = await newSession(browser, system.gateway.url);
    try {
      const streamRequests: Page[] = [];
      user.context.on('request', (r) => {
        if (new URL(r.url()).pathname === '/api/stream') streamRequests.push(r.frame().page());
      });
      await withArtifacts('non-admin and broadcast', user.context, async () => {
        const { page } = user;
        await page.goto('/auth/login');
        await logIn(page, USER.username, USER.password);
        await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();
        const nav = page.getByRole('navigation', { name: 'Main' });
        await nav.getByRole('link', { name: 'Scans', exact: true }).waitFor();
        expect(await nav.getByRole('link', { name: 'Scanner clients' }).count()).toBe(0);
        expect(await page.getByRole('button', { name: 'Send broadcast' }).count()).toBe(0);
        expect(await page.getByRole('table', { name: 'Awaiting approval' }).count()).toBe(0);
        await page.goto('/clients');
        await page.getByText('Only admins can manage scanner clients').waitFor();
        expect(await page.getByRole('button', { name: 'Approve' }).count()).toBe(0);
        // The admin's scans are not the user's.
        await page.goto('/scans');
        await page.getByRole('table', { name: 'Scans' }).getByText('No scans yet').waitFor();

        // A second tab of the same browser: one stream, relayed to both.
        const second = await user.context.newPage();
        await second.goto('/dashboard');
        await second.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();

        await admin.page.goto('/dashboard');
        await admin.page.getByLabel('Broadcast message').fill('Maintenance at 18:00');
        await admin.page.getByLabel('Type').selectOption('warning');
        await admin.page.getByRole('button', { name: 'Send broadcast' }).click();
        await admin.page.getByRole('status').filter({ hasText: 'Broadcast sent' }).waitFor();
        await shot(admin.page, 'dashboard');

        for (const tab of [page, second]) {
          const notice = tab
            .getByRole('region', { name: 'Notifications' })
            .getByRole('status')
            .filter({ hasText: 'Maintenance at 18:00' });
          await notice.waitFor();
          await notice.getByRole('button', { name: 'Dismiss notification' }).click();
          await notice.waitFor({ state: 'detached' });
        }
        // One EventSource for the two tabs: one tab holds the lock and the stream, the other waits for the lock.
        expect(streamRequests.filter((p) => p === second)).toHaveLength(0);
        expect(streamRequests[streamRequests.length - 1]).toBe(page);
        // (Evaluated in the page: a string, as this file is typed without the DOM library.)
        const locks = await second.evaluate(
          'navigator.locks.query().then((s) => ({ held: s.held.length, pending: s.pending.length }))',
        );
        expect(locks).toEqual({ held: 1, pending: 1 });
      });
    } finally {
      await user.context.close();
    }
  });

  it('creates an API token, shows it once, and revokes it', () =>
    step('tokens', async () => {
      const { page } = admin;
      await page.goto('/tokens');
      await page.getByRole('button', { name: 'Create token' }).click();
      await page.locator('#token-name-error').filter({ hasText: 'name' }).waitFor();
      await page.getByLabel('Token name').fill('ci-web');
      await page.getByRole('button', { name: 'Create token' }).click();
      const secret = await page.getByRole('textbox', { name: 'New token' }).inputValue();
      expect(secret).toMatch(/^nso_/);
      await page.getByRole('button', { name: 'Copy token' }).waitFor();
      const auth = { Authorization: `Bearer ${secret}` };
      await request(system.gateway.url).get('/api/projects').set(auth).expect(200);

      const row = page
        .getByRole('table', { name: 'API tokens' })
        .getByRole('row')
        .filter({ hasText: 'ci-web' });
      await row.getByRole('button', { name: 'Revoke' }).click();
      await page
        .getByRole('dialog', { name: 'Revoke token ci-web?' })
        .getByRole('button', { name: 'Revoke token' })
        .click();
      await row.waitFor({ state: 'detached' });
      await request(system.gateway.url).get('/api/projects').set(auth).expect(401);
    }));

  it('works at 390 px with the keyboard: the menu, tabs, visible focus; registration errors on their fields', async () => {
    const phone = await newSession(browser, system.gateway.url, { width: 390, height: 844 });
    try {
      await withArtifacts('390 px and keyboard', phone.context, async () => {
        const { page } = phone;
        // Registration: each field's error is tied to it.
        await page.goto('/auth/register');
        await page.getByRole('heading', { level: 1, name: 'Create an account' }).waitFor();
        await page.getByLabel('Username').fill(USER.username);
        await page.getByLabel('Email').fill('bob@example.test');
        await page.getByLabel('Password', { exact: true }).fill('Secure-Pass-123');
        await page.getByLabel('Confirm password').fill('Secure-Pass-124');
        await page.getByRole('button', { name: 'Create account' }).click();
        const username = page.getByLabel('Username');
        await page.locator('#reg-username-error').filter({ hasText: 'taken' }).waitFor();
        expect(await username.getAttribute('aria-describedby')).toBe('reg-username-error');
        expect(await page.getByLabel('Confirm password').getAttribute('aria-invalid')).toBe('true');
        await username.fill('bob');
        await page.getByLabel('Confirm password').fill('Secure-Pass-123');
        await page.getByRole('button', { name: 'Create account' }).click();
        await page.getByRole('heading', { level: 1, name: 'Dashboard' }).waitFor();

        // The navigation folds behind "Menu".
        const menu = page.getByRole('button', { name: 'Menu' });
        const scansLink = page
          .getByRole('navigation', { name: 'Main' })
          .getByRole('link', { name: 'Reports' });
        expect(await menu.getAttribute('aria-expanded')).toBe('false');
        expect(await scansLink.isVisible()).toBe(false);
        await menu.focus();
        await page.keyboard.press('Enter');
        expect(await menu.getAttribute('aria-expanded')).toBe('true');
        await scansLink.click();
        await page.getByRole('heading', { level: 1, name: 'Delta reports' }).waitFor();
        expect(await menu.getAttribute('aria-expanded')).toBe('false');
        await shot(page, 'reports-390px');

        // Keyboard only: the first Tab reaches the skip link, focus is visible, the tabs follow the arrow keys.
        await page.goto('/nmap');
        await page.getByRole('heading', { level: 1, name: 'Quick nmap run' }).waitFor();
        await page.keyboard.press('Tab');
        // (Evaluated as strings: this file is typed without the DOM library.)
        expect(await page.evaluate('document.activeElement.textContent')).toBe('Skip to content');
        expect(await page.evaluate('getComputedStyle(document.activeElement).outlineStyle')).not.toBe('none');
        // Wide tables scroll in a focusable region.
        await page.goto('/scans');
        const region = page.getByRole('region', { name: 'Scans' });
        expect(await region.getAttribute('tabindex')).toBe('0');
        expect(
          await page.evaluate(
            "(({ scrollWidth, clientWidth }) => scrollWidth > clientWidth)(document.querySelector('[role=region][aria-label=Scans]'))",
          ),
        ).toBe(true);
      });
    } finally {
      await phone.context.close();
    }
  });

  it('moves between the scan sections with the arrow keys', () =>
    step('tabs by keyboard', async () => {
      const { page } = admin;
      await page.goto('/scans');
      await page.getByRole('link', { name: 'Delta lab' }).click();
      await page.getByRole('heading', { level: 1, name: 'Delta lab' }).waitFor();
      const live = page.getByRole('tab', { name: 'Live output' });
      await live.focus();
      await page.keyboard.press('ArrowRight');
      const batches = page.getByRole('tab', { name: 'Batches' });
      expect(await batches.getAttribute('aria-selected')).toBe('true');
      expect(await page.evaluate('document.activeElement.textContent')).toBe('Batches');
      await page.getByRole('table', { name: 'Batches' }).waitFor();
      await page.keyboard.press('End');
      expect(await page.getByRole('tab', { name: 'Schedule' }).getAttribute('aria-selected')).toBe('true');
      await page.keyboard.press('ArrowLeft');
      await page.keyboard.press('ArrowLeft');
      expect(await page.getByRole('tab', { name: 'Runs' }).getAttribute('aria-selected')).toBe('true');
      await page.getByRole('table', { name: 'Runs' }).getByRole('row').nth(2).waitFor();
      await page.getByRole('img', { name: 'Open ports per run' }).waitFor();
      await shot(page, 'scan-runs');
    }));

  it('logs out: the login form, and signed-out pages lead back to it', () =>
    step('log out', async () => {
      const { page } = admin;
      await page.goto('/dashboard');
      await page.getByRole('link', { name: 'Log out' }).click();
      await page.waitForURL((url) => url.pathname === '/auth/login');
      await page.getByRole('heading', { level: 1, name: 'Log in' }).waitFor();
      await page.goto('/reports');
      await page.waitForURL(
        (url) => url.pathname === '/auth/login' && url.searchParams.get('next') === '/reports',
      );
    }));
});
