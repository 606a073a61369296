import { loadConfig } from '@nso/config';
import type { Notifier } from '@nso/events';
import { Metrics } from '@nso/monitoring';
import type {
  DeliverableReport,
  DeliverableRule,
  WebhookChangeRow,
  WebhookDeliveryRow,
  WebhookRepository,
} from '@nso/persistence';
import { verifyWebhookSignature, type WebhookPayload } from '@nso/webhooks';
import { WebhookDeliveryService, type DeliveryTry } from './webhook-delivery.service';
import type { PostOutcome, WebhookPost } from './webhook-post';

/** The two webhook tables and the report a delivery reads, in memory (WebhookRepository's delivery methods). */
class FakeWebhookRepository {
  rules = new Map<number, DeliverableRule & { consecutiveFailures: number; disabledReason: string | null }>();
  reports = new Map<number, DeliverableReport>();
  changes = new Map<number, WebhookChangeRow[]>();
  log: WebhookDeliveryRow[] = [];

  async ruleForDelivery(id: number): Promise<DeliverableRule | null> {
    const rule = this.rules.get(id);
    return rule ? { ...rule } : null;
  }
  async reportForDelivery(id: number): Promise<DeliverableReport | null> {
    return this.reports.get(id) ?? null;
  }
  async changesAfter(reportId: number, afterSeq: number, limit: number): Promise<WebhookChangeRow[]> {
    return (this.changes.get(reportId) ?? []).filter((c) => c.seq > afterSeq).slice(0, limit);
  }
  async logTry(row: WebhookDeliveryRow): Promise<void> {
    this.log.push(row);
  }
  async deliverySucceeded(ruleId: number): Promise<void> {
    this.rules.get(ruleId)!.consecutiveFailures = 0;
  }
  async deliveryFailed(ruleId: number, disableAfter: number, reason: string): Promise<boolean> {
    const rule = this.rules.get(ruleId)!;
    rule.consecutiveFailures++;
    if (!rule.isActive || rule.consecutiveFailures < disableAfter) return false;
    rule.isActive = false;
    rule.disabledReason = reason;
    return true;
  }
}

/** The receiver: answers what the test sets, remembers every POST. */
class FakePost {
  sent: Array<{ url: string; address: string; headers: Record<string, string>; body: string }> = [];
  answer: PostOutcome = { status: 200 };

  async send(url: URL, address: string, _family: 4 | 6, headers: Record<string, string>, body: string) {
    this.sent.push({ url: url.href, address, headers, body });
    return this.answer;
  }
}

const change = (seq: number, port: number, kind = 'added_port'): WebhookChangeRow => ({
  seq,
  kind,
  address: '127.0.0.1',
  protocol: 'tcp',
  port,
  before: null,
  after: { state: 'open' },
  detail: null,
  verification: null,
  flapping: false,
  exposure: null,
});

function setup() {
  const repo = new FakeWebhookRepository();
  const post = new FakePost();
  const notices: Array<{ userId: number; message: string }> = [];
  const notifier = {
    notifyUser: async (userId: number, n: { message: string }) =>
      void notices.push({ userId, message: n.message }),
  };
  const metrics = new Metrics();
  const config = loadConfig({ WEBHOOK_ALLOW: '127.0.0.0/8', WEBHOOK_DISABLE_AFTER: '3' });
  const service = new WebhookDeliveryService(
    repo as unknown as WebhookRepository,
    config,
    notifier as unknown as Notifier,
    metrics,
    post as unknown as WebhookPost,
  );
  repo.rules.set(1, {
    id: 1,
    ownerId: 7,
    url: 'http://127.0.0.1:9000/hook',
    secret: 's3cret',
    isActive: true,
    filter: { ports: [22] },
    consecutiveFailures: 0,
    disabledReason: null,
  });
  repo.reports.set(5, {
    id: 5,
    scanId: 3,
    scanName: 'lab',
    announceUnconfirmed: false,
    verificationStatus: null,
    confirmed: {
      new_ports_count: 0,
      closed_ports_count: 0,
      changed_services_count: 0,
      new_hosts_count: 0,
      removed_hosts_count: 0,
    },
    baselineResultId: 10,
    currentResultId: 11,
    createdAt: new Date('2026-12-01T00:00:00Z'),
    newPortsCount: 2,
    closedPortsCount: 0,
    changedServicesCount: 0,
    newHostsCount: 0,
    removedHostsCount: 0,
    hasChanges: true,
  });
  repo.changes.set(5, [change(1, 22), change(2, 80), change(3, 22, 'unverified_port')]);
  const outcomes = async () =>
    Object.fromEntries(
      (await metrics.webhookDeliveries.get()).values.map((v) => [String(v.labels.outcome), v.value]),
    );
  return { repo, post, notices, service, outcomes };
}

const attempt = (n = 1): DeliveryTry => ({ ruleId: 1, reportId: 5, deliveryId: '1-5', attempt: n });

describe('WebhookDeliveryService', () => {
  it('posts the matching changes, signed, logs the try and resets the failure count', async () => {
    const { repo, post, service, outcomes } = setup();
    repo.rules.get(1)!.consecutiveFailures = 2;

    await expect(service.deliver(attempt())).resolves.toEqual({ kind: 'delivered', status: 200 });

    expect(post.sent).toHaveLength(1);
    const [sent] = post.sent;
    expect(sent).toMatchObject({ url: 'http://127.0.0.1:9000/hook', address: '127.0.0.1' });
    expect(sent!.headers).toMatchObject({ 'X-NetScan-Event': 'delta_report', 'X-NetScan-Delivery': '1-5' });
    expect(verifyWebhookSignature('s3cret', sent!.body, sent!.headers['X-NetScan-Signature']!)).toBe(true);
    const payload = JSON.parse(sent!.body) as WebhookPayload;
    expect(payload).toMatchObject({
      event: 'delta_report',
      report_id: 5,
      scan_id: 3,
      scan_name: 'lab',
      baseline_result_id: 10,
      current_result_id: 11,
      truncated: false,
    });
    // Port 80 does not pass the filter; an unverified entry is never sent.
    expect(payload.changes).toEqual([
      {
        kind: 'added_port',
        host: '127.0.0.1',
        protocol: 'tcp',
        port: 22,
        change_id: 1,
        verification: null,
        exposure: null,
        before: null,
        after: { state: 'open' },
        detail: null,
      },
    ]);
    expect(repo.log).toEqual([
      expect.objectContaining({
        ruleId: 1,
        reportId: 5,
        deliveryId: '1-5',
        attempt: 1,
        statusCode: 200,
        error: null,
      }),
    ]);
    expect(repo.rules.get(1)!.consecutiveFailures).toBe(0);
    expect(await outcomes()).toMatchObject({ delivered: 1, failed: 0 });
  });

  it('sends no signature header for a rule without a secret', async () => {
    const { repo, post, service } = setup();
    repo.rules.get(1)!.secret = null;
    await service.deliver(attempt());
    expect(post.sent[0]!.headers).not.toHaveProperty('X-NetScan-Signature');
  });

  it('skips an inactive rule, a missing rule and a missing report without sending', async () => {
    const { repo, post, service, outcomes } = setup();
    repo.rules.get(1)!.isActive = false;
    await expect(service.deliver(attempt())).resolves.toEqual({
      kind: 'skipped',
      why: 'rule 1 is gone or inactive',
    });
    await expect(service.deliver({ ...attempt(), ruleId: 9 })).resolves.toMatchObject({ kind: 'skipped' });
    repo.rules.get(1)!.isActive = true;
    repo.reports.clear();
    await expect(service.deliver(attempt())).resolves.toEqual({ kind: 'skipped', why: 'report 5 is gone' });
    expect(post.sent).toEqual([]);
    expect(repo.log).toEqual([]);
    expect(await outcomes()).toMatchObject({ skipped: 3 });
  });

  it('counts a non-2xx answer as a failure to retry', async () => {
    const { repo, post, service, outcomes } = setup();
    post.answer = { status: 500 };
    await expect(service.deliver(attempt())).resolves.toEqual({
      kind: 'failed',
      reason: 'HTTP 500',
      retry: true,
    });
    expect(repo.log[0]).toMatchObject({ statusCode: 500, error: null });
    expect(repo.rules.get(1)).toMatchObject({ consecutiveFailures: 1, isActive: true });
    expect(await outcomes()).toMatchObject({ failed: 1 });
  });

  it('switches the rule off at WEBHOOK_DISABLE_AFTER failures in a row and tells its owner', async () => {
    const { repo, post, notices, service, outcomes } = setup();
    post.answer = { error: 'connect ECONNREFUSED 127.0.0.1:9000' };
    await service.deliver(attempt(1));
    await service.deliver(attempt(2));
    await expect(service.deliver(attempt(3))).resolves.toEqual({
      kind: 'failed',
      reason: 'connect ECONNREFUSED 127.0.0.1:9000',
      retry: false,
    });
    const reason = 'disabled after 3 failed deliveries in a row (last: connect ECONNREFUSED 127.0.0.1:9000)';
    expect(repo.rules.get(1)).toMatchObject({ isActive: false, disabledReason: reason });
    expect(notices).toEqual([{ userId: 7, message: `Webhook 1 was ${reason}` }]);
    expect(repo.log.map((row) => row.error)).toEqual(Array(3).fill('connect ECONNREFUSED 127.0.0.1:9000'));
    expect(await outcomes()).toMatchObject({ failed: 2, disabled: 1 });
  });

  it('refuses a destination WEBHOOK_ALLOW no longer allows: nothing sent, no retry, the reason logged', async () => {
    const { repo, post, service, outcomes } = setup();
    repo.rules.get(1)!.url = 'http://10.0.0.1:9000/hook';
    const outcome = await service.deliver(attempt());
    expect(outcome).toMatchObject({ kind: 'failed', retry: false });
    expect(post.sent).toEqual([]);
    expect(repo.log[0]).toMatchObject({
      statusCode: null,
      error: expect.stringMatching(/^http:\/\/10\.0\.0\.1:9000\/hook: 10\.0\.0\.1 is outside WEBHOOK_ALLOW/),
    });
    expect(await outcomes()).toMatchObject({ refused: 1 });
  });

  it('sends at most 100 matching changes, in report order, and says when there were more', async () => {
    const { repo, post, service } = setup();
    repo.changes.set(
      5,
      Array.from({ length: 1500 }, (_, i) => change(i + 1, i % 2 === 0 ? 22 : 80)),
    );
    await service.deliver(attempt());
    const payload = JSON.parse(post.sent[0]!.body) as WebhookPayload;
    expect(payload.changes).toHaveLength(100);
    expect(payload.truncated).toBe(true);
    expect(payload.changes.every((c) => c.port === 22)).toBe(true);
  });
});
