// A real browser for the dashboard's tests: Debian's Chromium driven by playwright-core (which never downloads a
// browser), one per test file; a failing test leaves a screenshot and a trace under test-artifacts/web/.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Browser, BrowserContext, chromium, Page } from 'playwright-core';
import { startGateway, TEST_ADMIN, TestGateway } from './gateway';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const ARTIFACTS = resolve(__dirname, '../../test-artifacts/web');
/** The dashboard build the gateway serves (npm run build writes it). */
export const WEB_DIST = resolve(__dirname, '../../dist/web');

/** Launches Chromium headless; `--no-sandbox` because tests run as root in CI. */
export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} is missing: apt-get install -y --no-install-recommends chromium`);
  if (!existsSync(join(WEB_DIST, 'index.html')))
    throw new Error(`${WEB_DIST}/index.html is missing: run npm run build`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
  });
}

/** Uncaught errors of the pages of a context: a test fails on them even when the page still looks right. */
const pageErrors = new WeakMap<BrowserContext, string[]>();

/** A fresh browser profile (its own cookies) on `baseURL`, recording a trace that is kept only on failure. */
export async function newSession(browser: Browser, baseURL: string, viewport = { width: 1280, height: 900 }) {
  const context = await browser.newContext({
    baseURL,
    viewport,
    timezoneId: 'Europe/Berlin',
    locale: 'en-GB',
  });
  context.setDefaultTimeout(15_000);
  const errors: string[] = [];
  pageErrors.set(context, errors);
  context.on('weberror', (e) => errors.push(e.error().stack ?? e.error().message));
  await context.tracing.start({ screenshots: true, snapshots: true });
  const page = await context.newPage();
  return { context, page };
}

/**
 * Runs `body` and fails when a page of `context` threw meanwhile; when it throws, saves a full-page screenshot of every page of `context` and its trace as
 * `<name>.png` / `<name>.zip` under ARTIFACTS, then rethrows.
 */
export async function withArtifacts(
  name: string,
  context: BrowserContext,
  body: () => Promise<void>,
): Promise<void> {
  try {
    await body();
    const errors = pageErrors.get(context)?.splice(0) ?? [];
    if (errors.length) throw new Error(`the page threw:\n${errors.join('\n')}`);
  } catch (error) {
    const slug = name.replace(/[^a-z0-9]+/gi, '-').toLowerCase();
    await mkdir(ARTIFACTS, { recursive: true });
    await Promise.all(
      context
        .pages()
        .map((p, i) =>
          p.screenshot({ path: join(ARTIFACTS, `${slug}-${i}.png`), fullPage: true }).catch(() => undefined),
        ),
    );
    await context.tracing.stop({ path: join(ARTIFACTS, `${slug}.zip`) }).catch(() => undefined);
    await context.tracing.start({ screenshots: true, snapshots: true }).catch(() => undefined);
    throw error;
  }
}

/** Logs in through the login form as a user would. */
export async function logIn(page: Page, username: string, password: string): Promise<void> {
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL((url) => !url.pathname.startsWith('/auth/'));
}

/** Waits until `locator`'s text matches `pattern` (playwright-core has no expect). */
export async function waitForText(
  page: Page,
  selectorText: () => Promise<string>,
  pattern: RegExp,
  timeoutMs = 15_000,
) {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    last = await selectorText().catch(() => '');
    if (pattern.test(last)) return last;
    await page.waitForTimeout(100);
  }
  throw new Error(`text did not match ${pattern} within ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
}

/** A gateway serving the dashboard, this file's browser, and the admin's logged-in session (dashboardAsAdmin). */
export interface AdminDashboard {
  gateway: TestGateway;
  browser: Browser;
  admin: { context: BrowserContext; page: Page };
}

/**
 * For a spec's beforeAll: a gateway serving the dashboard build (WEB_DIST), a browser, and a session logged in as
 * the test admin. The spec closes the browser and the gateway in its afterAll; if this fails, it closes them itself.
 */
export async function dashboardAsAdmin(): Promise<AdminDashboard> {
  const [gateway, browser] = await Promise.all([
    startGateway({ env: { WEB_DIST_DIR: WEB_DIST } }),
    launchBrowser(),
  ]);
  try {
    const admin = await newSession(browser, gateway.url);
    await admin.page.goto('/auth/login');
    await logIn(admin.page, TEST_ADMIN.username, TEST_ADMIN.password);
    return { gateway, browser, admin };
  } catch (error) {
    await browser.close();
    await gateway.close();
    throw error;
  }
}
