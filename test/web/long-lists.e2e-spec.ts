import { Browser, BrowserContext, Page } from 'playwright-core';
import type { TestGateway } from '../support/gateway';
import { dashboardAsAdmin, withArtifacts } from '../support/browser';

// Lists longer than one page of the API: the page offers the rest (DASHBOARD.md §1: "paged on the server").
// The long answer itself is played in the browser (page.route) in front of a real gateway: sixty reports of one
// scan would take sixty-one runs.
describe('the web dashboard with long lists', () => {
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

  it("pages through a scan's reports in its Changes tab", () =>
    withArtifacts('changes paging', admin.context, async () => {
      const { page } = admin;
      const created = await gateway
        .api()
        .post('/api/scans')
        .send({ name: 'Many reports', target: '127.0.63.1', ports: '22', scan_arguments: '-sT -Pn -n' })
        .expect(201);
      const scanId = created.body.scan.id as number;
      // The API's answer (docs/api.md GET /api/scan/{scan_id}/reports): 60 reports, newest first.
      const TOTAL = 60;
      await page.route(`**/api/scan/${scanId}/reports?*`, (route) => {
        const query = new URL(route.request().url()).searchParams;
        const perPage = Number(query.get('per_page') ?? 10);
        const current = Number(query.get('page') ?? 1);
        const ids = Array.from({ length: TOTAL }, (_, i) => TOTAL - i).slice(
          (current - 1) * perPage,
          current * perPage,
        );
        const reports = ids.map((id) => ({
          id,
          scan_id: scanId,
          baseline_result_id: id,
          current_result_id: id + 1,
          created_at: '2026-12-07T12:00:00.000Z',
          new_ports_count: 1,
          closed_ports_count: 0,
          changed_services_count: 0,
          new_hosts_count: 0,
          removed_hosts_count: 0,
          has_changes: true,
        }));
        const pages = Math.ceil(TOTAL / perPage);
        return route.fulfill({
          contentType: 'application/json',
          body: JSON.stringify({
            reports,
            total: TOTAL,
            pages,
            current_page: current,
            per_page: perPage,
            has_next: current < pages,
            has_prev: current > 1,
          }),
        });
      });
      await page.goto(`/scans/${scanId}`);
      await page.getByRole('tab', { name: 'Changes' }).click();
      const table = page.getByRole('table', { name: 'Reports' });
      await table.getByRole('link', { name: 'Report #60', exact: true }).waitFor();
      const pager = page.getByRole('navigation', { name: 'Pagination' });
      const first = await pager.getByText(`(${TOTAL} in all)`).textContent();
      const pages = Number(/^Page 1 of (\d+)/.exec(first!)![1]);
      expect(pages).toBeGreaterThan(1);
      // Every report is reachable: the oldest one on the last page.
      for (let p = 2; p <= pages; p++) {
        await pager.getByRole('button', { name: 'Next page' }).click();
        await pager.getByText(`Page ${p} of ${pages}`).waitFor();
      }
      await table.getByRole('link', { name: 'Report #1', exact: true }).waitFor();
      expect(await pager.getByRole('button', { name: 'Next page' }).isDisabled()).toBe(true);
      await pager.getByRole('button', { name: 'Previous page' }).click();
      await table.getByRole('link', { name: 'Report #1', exact: true }).waitFor({ state: 'detached' });
    }));
});
