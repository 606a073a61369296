import { Browser } from 'playwright-core';
import { startGateway, TEST_ADMIN, TestGateway } from '../support/gateway';
import { launchBrowser, logIn, newSession, WEB_DIST, withArtifacts } from '../support/browser';

// The live log's budget (DASHBOARD.md §7): 20,000 nmap lines arriving at 2,000 a second stay smooth — no long
// task over 200 ms, at most 200 rows in the DOM, "Filter lines" over all of them within 200 ms. The lines come
// from a WebSocket stand-in inside the page (one message per line, as the gateway sends them), so the figure is
// the page's own work, not the network's. Prints the figures recorded in docs/performance.md.
const LINES = 20_000;
const PER_SECOND = 2_000;
const TICK_MS = 50;

/** Installed before the app's code: a WebSocket for /ws/scans/* that plays LINES line events, then the run's end. */
function fakeScanSocket(args: { lines: number; perTick: number; tickMs: number }) {
  // Runs in the page; this file is typed without the DOM library, so the page's globals are reached through w.
  type Socket = new (url: string, protocols?: string | string[]) => object;
  const w = globalThis as unknown as Record<string, unknown> & { WebSocket: Socket };
  const longTasks: number[] = [];
  w.__longTasks = longTasks;
  // ('longtask' is a browser entry type, unknown to Node's typings.)
  new PerformanceObserver((list) => list.getEntries().forEach((e) => longTasks.push(e.duration))).observe({
    type: 'longtask' as 'mark',
    buffered: true,
  });
  const Real = w.WebSocket;
  class FakeScanSocket extends EventTarget {
    onopen: ((e: Event) => void) | null = null;
    onmessage: ((e: MessageEvent) => void) | null = null;
    onclose: ((e: Event) => void) | null = null;
    onerror: ((e: Event) => void) | null = null;
    readyState = 0;
    private timer: ReturnType<typeof setInterval> | undefined;
    constructor(url: string) {
      super();
      const scanId = Number(/\/ws\/scans\/(\d+)/.exec(url)?.[1]);
      let seq = 0;
      let sent = 0;
      const send = (data: object) =>
        this.onmessage?.(new MessageEvent('message', { data: JSON.stringify(data) }));
      setTimeout(() => {
        this.readyState = 1;
        this.onopen?.(new Event('open'));
        send({ event: 'connected', scan_id: scanId });
        send({
          seq: ++seq,
          event: 'batch_start',
          scan_id: scanId,
          result_id: 1,
          batch_id: 1,
          targets: ['127.0.0.1'],
        });
        w.__streamStarted = performance.now();
        this.timer = setInterval(() => {
          for (let i = 0; i < args.perTick && sent < args.lines; i++, sent++) {
            const line = `Discovered open port ${sent}/tcp on 127.0.${(sent >> 8) & 255}.${sent & 255}`;
            send({ seq: ++seq, event: 'line', scan_id: scanId, result_id: 1, batch_id: 1, line });
          }
          if (sent >= args.lines) {
            clearInterval(this.timer);
            w.__streamEnded = performance.now();
            send({ seq: ++seq, event: 'scan_complete', scan_id: scanId, result_id: 1, status: 'completed' });
          }
        }, args.tickMs);
      }, 0);
    }
    send() {}
    close() {
      clearInterval(this.timer);
      this.readyState = 3;
    }
  }
  w.WebSocket = function (url: string, protocols?: string | string[]) {
    return /\/ws\/scans\//.test(url) ? new FakeScanSocket(url) : new Real(url, protocols);
  } as unknown as Socket;
}

describe('the live log under 2,000 lines a second', () => {
  let gateway: TestGateway;
  let browser: Browser;

  beforeAll(async () => {
    [gateway, browser] = await Promise.all([
      startGateway({ env: { WEB_DIST_DIR: WEB_DIST } }),
      launchBrowser(),
    ]);
  });
  afterAll(async () => {
    await browser?.close();
    await gateway?.close();
  });

  it('stays within the budget: long tasks, DOM rows, filter time', async () => {
    const created = await gateway
      .api()
      .post('/api/scans')
      .send({ name: 'Log budget', target: '127.0.0.1', ports: '22', is_active: false })
      .expect(201);
    const { context, page } = await newSession(browser, gateway.url);
    try {
      await withArtifacts('live log budget', context, async () => {
        // The login form is usable within 1 s of navigation (§7), measured in the page from its navigation start
        // (a second load: the first also starts the browser's renderer, which a user's browser has running).
        await page.goto('/auth/login');
        await page.goto('/auth/login?again');
        const loginMs = Math.round(
          Number(
            await (
              await page.waitForFunction(
                "document.querySelector('input[name=username]') && (window.__loginReady ??= performance.now())",
              )
            ).jsonValue(),
          ),
        );
        console.log(`login form usable ${loginMs} ms after navigation`);
        expect(loginMs).toBeLessThanOrEqual(1000);
        await logIn(page, TEST_ADMIN.username, TEST_ADMIN.password);
        await context.addInitScript(fakeScanSocket, {
          lines: LINES,
          perTick: (PER_SECOND * TICK_MS) / 1000,
          tickMs: TICK_MS,
        });
        await page.goto(`/scans/${created.body.scan.id}`);
        const log = page.getByRole('log', { name: 'nmap output' });
        await page.getByText(`${LINES} lines`).waitFor({ timeout: 30_000 });
        // Following the output: the newest line is on screen.
        await log.getByText(`Discovered open port ${LINES - 1}/tcp`).waitFor();
        const stats = (await page.evaluate(
          `({ longTasks: window.__longTasks, rows: document.querySelectorAll('[role=log] .log-line').length,
              streamMs: window.__streamEnded - window.__streamStarted })`,
        )) as { longTasks: number[]; rows: number; streamMs: number };

        // Filter time in the page: from the input event to the DOM showing the matches.
        const filtered = page.evaluate(`new Promise((resolve) => {
          let started = 0;
          const box = document.querySelector('input[type=search]:not([name=host])');
          box.addEventListener('input', () => { started = performance.now(); }, { capture: true, once: true });
          new MutationObserver((_m, observer) => {
            if (started && document.body.textContent.includes('${LINES} lines, 11 matching')) {
              observer.disconnect();
              resolve(performance.now() - started);
            }
          }).observe(document.body, { subtree: true, childList: true, characterData: true });
        })`) as Promise<number>;
        await page.getByRole('searchbox', { name: 'Filter lines' }).fill('port 1999');
        const filterMs = Math.round(await filtered);
        await log.getByText('Discovered open port 19999/tcp').waitFor();

        // Scrolling up turns "Follow output" off; checking it again goes back to the newest line.
        await page.getByRole('searchbox', { name: 'Filter lines' }).fill('');
        await log.hover();
        await page.mouse.wheel(0, -3000);
        const follow = page.getByRole('checkbox', { name: 'Follow output' });
        await page.waitForFunction(
          `!document.querySelector('input[type=checkbox]:checked') || ![...document.querySelectorAll('label')].find((l) => l.textContent.includes('Follow output')).querySelector('input').checked`,
        );
        expect(await follow.isChecked()).toBe(false);

        const longest = Math.max(0, ...stats.longTasks);
        console.log(
          `live log: ${LINES} lines in ${Math.round(stats.streamMs)} ms; long tasks ${stats.longTasks.length} ` +
            `(longest ${Math.round(longest)} ms); ${stats.rows} rows in the DOM; filter over ${LINES} lines ${filterMs} ms (input to rendered)`,
        );
        expect(longest).toBeLessThanOrEqual(200);
        expect(stats.rows).toBeGreaterThan(0);
        expect(stats.rows).toBeLessThanOrEqual(200);
        expect(filterMs).toBeLessThanOrEqual(200);
      });
    } finally {
      await context.close();
    }
  });
});
